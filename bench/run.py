#!/usr/bin/env python3
"""Constellate benchmarks: start-up, idle memory, page throughput, directory search, CSV import.

Run from the repository root:  python3 bench/run.py [--skip-postgres]
Needs: a release build (the script runs `cargo build --release`), wrk (apt-get install wrk),
and PostgreSQL on 127.0.0.1:5432 for the PostgreSQL search figure (scripts/ensure-postgres).
Every server it starts listens on loopback only and is stopped at the end.
"""
import http.cookiejar, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "constellate")
PG_ADMIN = os.environ.get("CONSTELLATE_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres")
results = {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, data_dir, extra=(), env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [BIN, "serve", "--data-dir", data_dir, "--bind", f"127.0.0.1:{self.port}", "--base-url", self.base, *extra]
        e = dict(os.environ, CONSTELLATE_LOG="warn", **(env or {}))
        if "DATABASE_URL" not in (env or {}):
            e.pop("DATABASE_URL", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=e, text=True)
        self.ready_after = self.wait_ready()

    def wait_ready(self, timeout=300):
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started
            except Exception:
                time.sleep(0.002)
        raise RuntimeError("server did not start")

    def setup_link(self):
        line = ""
        while "/setup/" not in line:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("no setup link printed")
        return line.strip()

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def csrf(html):
    return re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


def become_admin(server):
    link = server.setup_link()
    op, jar = opener()
    html = op.open(link).read().decode()
    data = urllib.parse.urlencode({"_csrf": csrf(html), "display_name": "Bench Admin", "email": "bench-admin@example.org"}).encode()
    op.open(link, data)
    sid = next(c.value for c in jar if c.name == "sid")
    return op, sid


def wrk(url, cookie=None, seconds=10):
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: sid={cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return {"requests_per_s": round(rps), "p99_ms": round(float(p99.group(1)) * scale, 2)}


def psql(sql, db="postgres"):
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    subprocess.run(["psql", url, "-qAt", "-c", sql], check=True, capture_output=True)


def bench_startup():
    times = []
    for _ in range(5):
        d = tempfile.mkdtemp(prefix="bench-start-")
        s = Server(d)
        times.append(s.ready_after)
        s.stop()
        shutil.rmtree(d)
    results["start_to_first_page_s"] = {"median": round(sorted(times)[2], 3), "max": round(max(times), 3)}


def bench_sqlite_pages():
    d = tempfile.mkdtemp(prefix="bench-demo-")
    s = Server(d, ["--demo"])
    time.sleep(5)
    results["idle_rss_mib_with_demo_data"] = round(s.rss_kib() / 1024, 1)
    op, sid = become_admin(s)
    # A member who chose a public profile.
    member_id = 42
    from sqlite3 import connect
    db = connect(os.path.join(d, "constellate.db"))
    db.execute("UPDATE members SET visibility = 'public' WHERE id = ?", (member_id,))
    db.commit()
    db.close()
    results["home_page_sqlite"] = wrk(s.base + "/")
    results["profile_page_sqlite"] = wrk(f"{s.base}/members/{member_id}")
    results["import_5000_members_sqlite_s"] = bench_import(s, op)
    s.stop()
    shutil.rmtree(d)


def bench_import(server, op):
    rows = ["name,email,region,communities,bulletin"]
    for i in range(5000):
        rows.append(f"Import Person {i},import.person.{i}@example.net,London,\"Carers, Peer support\",yes")
    body = ("\r\n".join(rows) + "\r\n").encode()
    html = op.open(server.base + "/staff/import").read().decode()
    token = csrf(html)
    boundary = "benchboundary"
    payload = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nmembers\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    ).encode() + body + f"\r\n--{boundary}--\r\n".encode()
    started = time.perf_counter()
    req = urllib.request.Request(f"{server.base}/staff/import", payload, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    report = op.open(req).read().decode()
    dry = time.perf_counter() - started
    assert "5000</strong> members to add" in report, report[:2000]
    content = re.search(r'<textarea name="content"[^>]*>(.*?)</textarea>', report, re.S).group(1)
    import html as h
    data = urllib.parse.urlencode({"_csrf": token, "kind": "members", "content": h.unescape(content)}).encode()
    started2 = time.perf_counter()
    op.open(server.base + "/staff/import/commit", data)
    commit = time.perf_counter() - started2
    return {"dry_run": round(dry, 3), "commit": round(commit, 3), "total": round(dry + commit, 3)}


SEARCHES = [("name_prefix", "q=pat"), ("surname", "q=okafor"), ("two_words", "q=amara+jones"), ("region_filter", "region=Wales&sort=newest"), ("pending_filter", "status=pending"), ("all_page_1", "")]


def bench_search(label, env=None):
    d = tempfile.mkdtemp(prefix=f"bench-search-{label}-")
    args = ["seed", "--members", "100000", "--groups", "3000", "--data-dir", d]
    e = dict(os.environ, **(env or {}))
    if not env:
        e.pop("DATABASE_URL", None)
    out = subprocess.run([BIN, *args], env=e, capture_output=True, text=True, check=True).stdout.strip()
    s = Server(d, env=env)
    op, sid = become_admin(s)
    figures = {"seed": out}
    for name, query in SEARCHES:
        figures[name] = wrk(f"{s.base}/staff/members?{query}", cookie=sid)
    results[f"directory_search_100k_{label}"] = figures
    s.stop()
    shutil.rmtree(d)


def main():
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    bench_startup()
    bench_sqlite_pages()
    bench_search("sqlite")
    if "--skip-postgres" not in sys.argv:
        name = f"bench_{os.getpid()}"
        psql(f"CREATE DATABASE {name}")
        try:
            bench_search("postgres", {"DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name})
        finally:
            psql(f"DROP DATABASE IF EXISTS {name}")
    print(json.dumps(results, indent=2))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "latest.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
