#!/usr/bin/env python3
"""Bulletin delivery benchmark: one issue to 5,000 and to 100,000 members, into a local SMTP
server (Postfix's smtp-sink), with a personalised message each (name, signed unsubscribe link).

Run from the repository root:  python3 bench/bulletin.py [--sizes 5000,100000] [--workers 8]
Needs: a release build (the script runs `cargo build --release`), and Postfix's smtp-sink and
smtp-source (`apt-get install --no-install-recommends postfix`; this script installs it with its
daemon kept from starting if missing). Everything listens on 127.0.0.1 and is stopped at the end.

It reports, per size: seconds from pressing "Send now" to the last message accepted by the SMTP
server, messages per second, peak resident memory of the server while sending; and the SMTP
server's raw acceptance rate with a plain sender (smtp-source, 16 sessions, messages of the same
size), so delivery can be read as a fraction of what the SMTP server itself can take.
"""
import json, os, re, shutil, sqlite3, subprocess, sys, tempfile, threading, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the shared server and wrk helpers)

results = {}


def ensure_postfix_tools():
    if shutil.which("smtp-sink") and shutil.which("smtp-source"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = "/usr/sbin/policy-rc.d"
    # Install the tools without letting the package start a mail server.
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    try:
        subprocess.run("echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections", shell=True, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postfix"], env=env, check=True)
    finally:
        os.remove(policy)


class Sink:
    """smtp-sink on a free loopback port, counting messages (-c)."""

    def __init__(self):
        self.port = run.free_port()
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", "-u", "root", f"127.0.0.1:{self.port}", "1024"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def raw_rate(port, messages, size):
    started = time.perf_counter()
    subprocess.run(
        ["smtp-source", "-s", "16", "-m", str(messages), "-l", str(size), "-f", "network@example.org",
         "-t", "reader@example.org", f"127.0.0.1:{port}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return messages / (time.perf_counter() - started)


def admin_post(server, op, path, fields):
    html = op.open(server.base + path).read().decode()
    data = urllib.parse.urlencode({"_csrf": run.csrf(html), **fields}).encode()
    return op.open(server.base + path, data)


def deliver(size, workers):
    data_dir = tempfile.mkdtemp(prefix=f"bench-bulletin-{size}-")
    subprocess.run([run.BIN, "seed", "--members", str(size), "--groups", "10", "--data-dir", data_dir],
                   check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    # Everyone seeded chooses the bulletin (the seed gives a realistic mix; this run wants `size`).
    db = sqlite3.connect(os.path.join(data_dir, "constellate.db"))
    db.execute("INSERT INTO consents (member_id, purpose, granted, wording_version, recorded_at) "
               "SELECT id, 'bulletin', 1, '2026-11', 2 FROM members")
    db.execute("UPDATE members SET status = 'active'")
    db.commit()
    db.close()
    sink = Sink()
    server = run.Server(data_dir, ["--smtp-url", f"smtp://127.0.0.1:{sink.port}", "--job-workers", str(workers)])
    op, _ = run.become_admin(server)
    admin_post(server, op, "/staff/bulletin/items/new", {"kind": "news", "title": "Benchmark news",
               "description": "An ordinary item of about the usual length. " * 12})
    admin_post(server, op, "/staff/bulletin/issues", {"list": "1"})
    db = sqlite3.connect(os.path.join(data_dir, "constellate.db"))
    issue = db.execute("SELECT MAX(id) FROM bulletin_issues").fetchone()[0]
    peak = [server.rss_kib()]
    done = threading.Event()

    def watch_memory():
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kib())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_memory)
    watcher.start()
    started = time.perf_counter()
    html = op.open(f"{server.base}/staff/bulletin/issues/{issue}").read().decode()
    op.open(f"{server.base}/staff/bulletin/issues/{issue}/schedule",
            urllib.parse.urlencode({"_csrf": run.csrf(html), "when": "now", "confirmed": "yes"}).encode())
    recipients = None
    while True:
        row = db.execute("SELECT recipients FROM bulletin_issues WHERE id = ?", (issue,)).fetchone()
        recipients = row[0]
        if recipients is not None:
            sent = db.execute("SELECT COUNT(*) FROM jobs WHERE batch = ? AND status IN ('done', 'failed')",
                              (f"bulletin:{issue}",)).fetchone()[0]
            if sent >= recipients:
                break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    failed = db.execute("SELECT COUNT(*) FROM jobs WHERE batch = ? AND status = 'failed'", (f"bulletin:{issue}",)).fetchone()[0]
    size_bytes = len(op.open(f"{server.base}/staff/bulletin/issues/{issue}/email.html").read()) + \
        len(op.open(f"{server.base}/staff/bulletin/issues/{issue}/email.txt").read())
    server.stop()
    raw = raw_rate(sink.port, min(size, 20000), size_bytes + 1500)
    sink.stop()
    db.close()
    shutil.rmtree(data_dir)
    rate = recipients / elapsed
    return {
        "recipients": recipients,
        "failed": failed,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(rate),
        "peak_rss_mib": round(peak[0] / 1024, 1),
        "message_bytes_about": size_bytes + 1500,
        "smtp_sink_raw_messages_per_s": round(raw),
        "fraction_of_raw": round(rate / raw, 2),
        "job_workers": workers,
    }


def main():
    sizes = [5000, 100000]
    workers = 8
    for i, arg in enumerate(sys.argv):
        if arg == "--sizes":
            sizes = [int(s) for s in sys.argv[i + 1].split(",")]
        if arg == "--workers":
            workers = int(sys.argv[i + 1])
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=run.ROOT, check=True)
    ensure_postfix_tools()
    for size in sizes:
        results[f"deliver_{size}"] = deliver(size, workers)
        print(json.dumps({f"deliver_{size}": results[f"deliver_{size}"]}), flush=True)
    os.makedirs(os.path.join(run.ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(run.ROOT, "bench", "results", "bulletin.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
