#!/usr/bin/env python3
"""What compression does for people and what it costs the server, measured in one run.

    python3 bench/compression.py

Starts the release binary with the demo network (SQLite), then:
- page weight: the bytes of each main page and static file as sent uncompressed, with gzip and
  with brotli (what a browser that asks gets);
- cost: the home page's requests per second with wrk (2 threads, 32 connections, 10 s), asking
  for brotli and asking for nothing, alternated twice, so both share the machine's state.
Needs wrk (apt-get install wrk). Writes bench/results/compression.json.
"""
import json, os, re, subprocess, sys, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BIN, ROOT, Server  # noqa: E402

import shutil, tempfile  # noqa: E402


def size(url, encoding):
    req = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(req) as r:
        body = r.read()
        got = r.headers.get("Content-Encoding", "identity")
        if encoding != "identity" and got != encoding:
            raise RuntimeError(f"{url}: asked for {encoding}, got {got}")
        return len(body)


def wrk(url, encoding, seconds=10):
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-H", f"Accept-Encoding: {encoding}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return round(rps), round(float(p99.group(1)) * scale, 2)


def main():
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    d = tempfile.mkdtemp(prefix="bench-compression-")
    s = Server(d, ["--demo"])
    try:
        home = urllib.request.urlopen(s.base + "/").read().decode()
        css = re.search(r'href="(/static/site\.css[^"]*)"', home).group(1)
        js = re.search(r'src="(/static/site\.js[^"]*)"', home).group(1)
        letters = urllib.request.urlopen(s.base + "/letters").read().decode()
        letter = re.search(r'href="(/letters/[a-z0-9-]+)"', letters).group(1)
        pages = {"home": "/", "letter (240 signatures)": letter, "groups": "/groups", "grants": "/grants",
                 "fairness": "/grants/fairness", "site.css": css, "site.js": js}
        weight = {}
        for name, path in pages.items():
            weight[name] = {e: size(s.base + path, e) for e in ("identity", "gzip", "br")}
        runs = {"identity": [], "br": []}
        for _ in range(2):
            for e in ("identity", "br"):
                runs[e].append(wrk(s.base + "/", e))
        best = {e: max(r[0] for r in v) for e, v in runs.items()}
        results = {
            "page_weight_bytes": weight,
            "home_page_requests_per_s": {e: [{"requests_per_s": r, "p99_ms": p} for r, p in v] for e, v in runs.items()},
            "compressed_over_uncompressed": round(best["br"] / best["identity"], 3),
        }
    finally:
        s.stop()
        shutil.rmtree(d)
    print(json.dumps(results, indent=2))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "compression.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
