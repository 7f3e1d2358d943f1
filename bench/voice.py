#!/usr/bin/env python3
"""A letter going viral: signature submissions on SQLite, with confirmation emails queued.

Run from the repository root:  python3 bench/voice.py [--seconds 60] [--connections 64]
Needs: a release build (the script runs `cargo build --release`) and wrk (apt-get install wrk).
Every server it starts listens on loopback only, uses a fresh data folder, and is stopped.

1. Sustained: wrk posts the public signing form for --seconds, every request a new signer
   (so each is a row and a queued confirmation email), as one visitor whose CSRF cookie and
   token were fetched once. The job worker runs as normal, writing the emails to the outbox.
   Reports requests/s, p99 latency, error responses, and rows and mail jobs in the database.
2. Correctness: a burst of 50,000 submissions made of 5,000 distinct emails each sent 10
   times (interleaved, 48 at a time) to a fresh letter; then every confirmation link is read
   from the emails written and used. Expects exactly 5,000 pending, then exactly 5,000 counted.
3. Posting an update: a letter with 20,000 confirmed signers who asked for updates (written
   straight into the database); the time for staff's "send update" request, from posting the
   form to the letter page that follows.
4. The raw reference: single-row INSERT + COMMIT into an equivalent table with Python's
   sqlite3 in WAL mode with synchronous=NORMAL (the settings of src/core/db.rs), 5 s each
   before, between and after the runs (the machine is shared); the sustained rate is reported
   as a fraction of the median.

The per-address signing limit is raised for the run (all requests come from 127.0.0.1).

Latest figures and how to read them: docs/performance.md ("Voice").
"""
import argparse, concurrent.futures, email, glob, http.client, json, os, re, shutil, sqlite3, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the shared server and wrk helpers)

LUA = r"""
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  prefix = "t" .. tid .. "-" .. math.random(1, 1000000000)
end
function request()
  counter = counter + 1
  local body = "_csrf=" .. os.getenv("CSRF") .. "&name=Viral+Signer&email=" .. prefix .. "-" .. counter ..
    "%40bench.example&place=Leeds&display=initials"
  return wrk.format("POST", os.getenv("SIGN_PATH"), {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrf=" .. os.getenv("CSRF"),
  }, body)
end
"""


def start(data_dir):
    server = run.Server(data_dir, env={"CONSTELLATE_SIGN_LIMIT_PER_IP": "100000000"})
    staff, _ = run.become_admin(server)
    return server, staff


def new_letter(server, staff, title):
    html = staff.open(server.base + "/staff/letters/new").read().decode()
    form = {
        "_csrf": run.csrf(html), "kind": "petition", "title": title, "body": "Keep the day centres open.",
        "addressee": "The Minister", "goal": "100000", "published_with": "Bench Network", "status": "open", "closes_on": "", "confirmed": "yes",
    }
    staff.open(server.base + "/staff/letters/new", urllib.parse.urlencode(form).encode()).read()
    db = sqlite3.connect(os.path.join(server_dir(server), "constellate.db"))
    slug = db.execute("SELECT slug FROM letters WHERE title = ?", (title,)).fetchone()[0]
    db.close()
    return slug


def server_dir(server):
    return server.proc.args[server.proc.args.index("--data-dir") + 1]


def visitor_token(server, slug):
    """A visitor's CSRF cookie and form token (the same value for an anonymous visitor)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    conn.request("GET", f"/letters/{slug}")
    r = conn.getresponse()
    cookie = re.search(r"csrf=([^;]+)", r.getheader("Set-Cookie")).group(1)
    assert run.csrf(r.read().decode()) == cookie
    conn.close()
    return cookie


def sustained(seconds, connections):
    data = tempfile.mkdtemp(prefix="voice-bench-")
    server, staff = start(data)
    try:
        slug = new_letter(server, staff, "A letter going viral")
        token = visitor_token(server, slug)
        script = os.path.join(data, "sign.lua")
        with open(script, "w") as f:
            f.write(LUA)
        env = dict(os.environ, CSRF=token, SIGN_PATH=f"/letters/{slug}/sign")
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, server.base]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        p = {k: v for k, v in re.findall(r"\s(\d+)%\s+([\d.]+\w+)", out)}
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: (.*)", out)
        db = sqlite3.connect(os.path.join(data, "constellate.db"))
        rows = db.execute("SELECT COUNT(*) FROM letter_signatures").fetchone()[0]
        jobs = db.execute("SELECT COUNT(*) FROM jobs WHERE dedupe_key LIKE 'voice-confirm:%'").fetchone()[0]
        sent = db.execute("SELECT COUNT(*) FROM jobs WHERE dedupe_key LIKE 'voice-confirm:%' AND status = 'done'").fetchone()[0]
        db.close()
        return {
            "seconds": seconds, "connections": connections, "requests": total, "requests_per_s": round(rps),
            "p50": p.get("50"), "p90": p.get("90"), "p99": p.get("99"),
            "error_responses": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else None,
            "signature_rows": rows, "confirmation_jobs_queued": jobs, "confirmation_emails_written_during_run": sent, "peak_rss_mib_after": round(server.rss_kib() / 1024),
        }, out
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


class Poster:
    """Keep-alive HTTP posting from many threads, one connection per thread."""

    def __init__(self, port, cookie):
        self.port, self.cookie, self.local = port, cookie, threading.local()

    def post(self, path, fields):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port)
        body = urllib.parse.urlencode({"_csrf": self.cookie, **fields})
        conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrf={self.cookie}"})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Location") or ""


def correctness(distinct=5000, times=10):
    data = tempfile.mkdtemp(prefix="voice-burst-")
    server, staff = start(data)
    try:
        slug = new_letter(server, staff, "A burst of duplicates")
        poster = Poster(server.port, visitor_token(server, slug))
        order = [i % distinct for i in range(distinct * times)]
        sign = lambda i: poster.post(f"/letters/{slug}/sign", {"name": f"Signer {i}", "email": f"burst{i}@bench.example", "display": "full"})
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            answers = list(pool.map(sign, order))
        burst_s = time.perf_counter() - started
        added = sum(1 for s, l in answers if s == 303 and l.endswith("/check-email"))
        already = sum(1 for s, l in answers if s == 303 and l.endswith("/already-signed"))
        db = sqlite3.connect(os.path.join(data, "constellate.db"))
        count = lambda sql: db.execute(sql).fetchone()[0]
        pending = count("SELECT COUNT(*) FROM letter_signatures WHERE confirmed_at IS NULL")
        # Wait for the job worker to write every confirmation email, then use each link.
        deadline = time.time() + 300
        while count("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')") and time.time() < deadline:
            time.sleep(0.5)
        tokens = set()
        for path in glob.glob(os.path.join(data, "outbox", "*.eml")):
            with open(path, "rb") as f:
                text = email.message_from_binary_file(f).get_payload(decode=True).decode()
            tokens.update(re.findall(r"/signatures/confirm/([A-Za-z0-9_-]+)", text))
        confirm = lambda t: poster.post(f"/signatures/confirm/{t}", {})[0]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            confirmed_answers = list(pool.map(confirm, sorted(tokens)))
        confirmed = count("SELECT COUNT(*) FROM letter_signatures WHERE confirmed_at IS NOT NULL")
        page = urllib.request.urlopen(f"{server.base}/letters/{slug}").read().decode()
        shown = re.search(r'<h2 id="count">([\d,]+) signatures', page).group(1)
        db.close()
        return {
            "submissions": len(order), "burst_seconds": round(burst_s, 1), "answered_added": added,
            "answered_already_signed": already, "pending_after_burst": pending, "confirmation_emails": len(tokens),
            "confirm_posts_303": sum(1 for s in confirmed_answers if s == 303), "confirmed": confirmed, "public_count": shown,
        }
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def post_update(signers=20000):
    d = tempfile.mkdtemp(prefix="bench-voice-update-")
    server, staff = start(d)
    try:
        slug = new_letter(server, staff, "Update bench")
        db = sqlite3.connect(os.path.join(d, "constellate.db"), timeout=30)
        letter = db.execute("SELECT id FROM letters WHERE slug = ?", (slug,)).fetchone()[0]
        now = int(time.time())
        db.executemany(
            "INSERT INTO letter_signatures (letter_id, email, name, display, wants_updates, created_at, confirmed_at) "
            "VALUES (?, ?, ?, 'full', 1, ?, ?)",
            [(letter, f"signer{i}@bench.example", f"Signer {i}", now, now) for i in range(signers)],
        )
        db.commit()
        db.close()
        page = f"{server.base}/staff/letters/{letter}"
        form = {"_csrf": run.csrf(staff.open(page).read().decode()), "update": "We delivered it to the Minister.", "confirmed": "yes"}
        started = time.perf_counter()
        staff.open(page + "/updates", urllib.parse.urlencode(form).encode()).read()
        return {"signers": signers, "request_s": round(time.perf_counter() - started, 3)}
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)


def raw_sqlite_inserts(seconds=5):
    """Single-row committed inserts into a table shaped like letter_signatures (same indexes)."""
    path = os.path.join(tempfile.mkdtemp(prefix="voice-raw-"), "raw.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE s (id INTEGER PRIMARY KEY, letter_id BIGINT NOT NULL, email TEXT, name TEXT NOT NULL, "
        "display TEXT NOT NULL, wants_updates BIGINT NOT NULL, confirm_hash TEXT, created_at BIGINT NOT NULL, confirmed_at BIGINT)"
    )
    db.execute("CREATE UNIQUE INDEX s_email ON s (letter_id, email)")
    db.execute("CREATE INDEX s_confirmed ON s (letter_id, confirmed_at)")
    db.execute("CREATE INDEX s_hash ON s (confirm_hash)")
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO s (letter_id, email, name, display, wants_updates, confirm_hash, created_at) VALUES (1, ?, 'Raw', 'full', 0, ?, 0)",
            (f"raw{n}@bench.example", f"{n:064x}"),
        )
        db.execute("COMMIT")
        n += 1
    rate = round(n / (time.perf_counter() - started))
    db.close()
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=run.ROOT, check=True)
    results = {}
    # The machine is shared, so the raw reference is taken before, between and after the
    # runs, and the median is used.
    raw = [raw_sqlite_inserts()]
    results["sustained"], wrk_out = sustained(args.seconds, args.connections)
    print(wrk_out, file=sys.stderr)
    raw.append(raw_sqlite_inserts())
    results["burst_of_duplicates"] = correctness()
    results["post_update"] = post_update()
    raw.append(raw_sqlite_inserts())
    results["raw_sqlite_single_row_commits_per_s"] = raw
    median = sorted(raw)[1]
    results["rate_as_fraction_of_raw_sqlite_median"] = round(results["sustained"]["requests_per_s"] / median, 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
