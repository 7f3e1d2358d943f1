#!/usr/bin/env python3
"""Grants benchmark: a round with 2,000 applications scored by a panel of 12 (three criteria
each), and 10,000 published awards, on SQLite and on PostgreSQL.

Run from the repository root:  python3 bench/grants.py [--skip-postgres] [--connections 4]
Needs: a release build (the script runs `cargo build --release --locked`), wrk (apt-get install
wrk), psql and PostgreSQL on 127.0.0.1:5432 for the PostgreSQL figures. Data is seeded straight
into the database (the same SQL on both) while the server runs; servers listen on loopback and
are stopped at the end, and the PostgreSQL database is dropped.

It reports, per database:
- the staff scoring table and the staff fairness view of the 2,000-application round: wrk for
  10 s with 2 threads and --connections (default 4: a staff team looking at once) keep-alive
  connections; requests per second and p99 latency (target: p99 under 100 ms);
- the 360Giving JSON export of 10,000 awards: seconds for the whole response, its size, and the
  server's peak resident memory (VmHWM) measured on a fresh server whose first request is the
  export (target: under 2 s and under 100 MB).
"""
import json, os, random, re, shutil, sqlite3, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the shared server and wrk helpers)

REGIONS = ["North East", "North West", "Yorkshire and the Humber", "East Midlands", "West Midlands", "East of England",
           "London", "South East", "South West", "Wales", "Scotland", "Northern Ireland"]
COMMUNITIES = ["Peer support", "Hearing voices", "Racialised communities", "LGBTQ+", "Carers", "Young people", "Disabled people"]
SIZES = ["1", "2-10", "11-50", "51+", None]
PANEL, APPLICATIONS, AWARDS, CRITERIA = 12, 2000, 10000, 3
BASE_ID = 1000  # seeded rows start here, clear of what the running server adds itself


def rows(table, columns, values, chunk=500):
    """Multi-row INSERTs that both databases accept."""
    def lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, int):
            return str(v)
        return "'" + str(v).replace("'", "''") + "'"
    out = []
    for i in range(0, len(values), chunk):
        body = ",\n".join("(" + ", ".join(lit(v) for v in row) + ")" for row in values[i:i + chunk])
        out.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n{body};")
    return out


def seed_sql():
    rnd = random.Random(5)
    sql = []
    people = PANEL + APPLICATIONS + AWARDS
    sql += rows("members", ["id", "display_name", "email", "region", "communities", "status", "role", "joined_at", "updated_at"],
                [(BASE_ID + i, f"Member {i}", f"member{i}@bench.example", rnd.choice(REGIONS), rnd.choice(COMMUNITIES), "active",
                  "member", 1_700_000_000, 1_700_000_000) for i in range(people)])
    sql += rows("grant_funds", ["id", "name", "purpose", "budget_pence", "restricted", "applicant_type", "donations_only", "created_at", "updated_at"],
                [(BASE_ID, "Community Fund", "Small grants for user-led groups.", 10_000_000_000, 0, "both", 0, 1, 1)])
    sql += rows("grant_criteria", ["id", "fund_id", "position", "title", "description"],
                [(BASE_ID + c, BASE_ID, c, f"Criterion {c}", "What it means") for c in range(CRITERIA)])
    sql += rows("grant_rounds", ["id", "fund_id", "title", "rolling", "budget_pence", "who_decides", "help", "published", "decided_at", "created_at"],
                [(BASE_ID, BASE_ID, "Scoring round", 1, 100_000_000, "A panel", "Call us", 1, None, 1),
                 (BASE_ID + 1, BASE_ID, "Decided round", 1, 10_000_000_000, "A panel", "Call us", 1, 1_700_000_000, 1)])
    sql += rows("grant_panel_members", ["round_id", "member_id", "shown_as", "paid", "added_at"],
                [(BASE_ID, BASE_ID + p, f"Panel member {p}", 1, 1) for p in range(PANEL)])
    apps, scores, conflicts, awards = [], [], [], []
    for i in range(APPLICATIONS + AWARDS):
        app_id, member = BASE_ID + i, BASE_ID + PANEL + i
        scoring = i < APPLICATIONS
        totals, conflicted = [], 0
        if scoring:
            for p in range(PANEL):
                if rnd.random() < 0.02:
                    conflicts.append((app_id, BASE_ID + p, 1))
                    conflicted += 1
                    continue
                marks = [rnd.randrange(4) for _ in range(CRITERIA)]
                scores += [(app_id, BASE_ID + p, BASE_ID + c, m, "", 1) for c, m in enumerate(marks)]
                totals.append(sum(marks))
        # The summary the app keeps beside each application (panel::refresh_summary).
        summary = (len(totals), sum(totals), max(totals) - min(totals) if totals else 0, conflicted)
        apps.append((app_id, BASE_ID if scoring else BASE_ID + 1, member, rnd.randrange(5_000, 100_000, 500),
                     "submitted" if scoring else "awarded", rnd.choice([0, 1]), rnd.choice(REGIONS), rnd.choice(COMMUNITIES),
                     rnd.choice(SIZES), rnd.choice([0, 1]), 1, 1, 1_700_000_000, *summary))
        if not scoring:
            awards.append((BASE_ID + i, app_id, BASE_ID, apps[-1][3], "2026-01-15", "2026-07-15", 1_700_000_000))
    sql += rows("grant_applications", ["id", "round_id", "member_id", "amount_pence", "status", "first_time", "region", "community",
                                       "group_size", "listed", "created_at", "updated_at", "submitted_at", "score_scorers", "score_total",
                                       "score_spread", "conflicts"], apps)
    sql += rows("grant_conflicts", ["application_id", "member_id", "declared_at"], conflicts)
    sql += rows("grant_scores", ["application_id", "member_id", "criterion_id", "score", "note", "scored_at"], scores)
    sql += rows("grant_awards", ["id", "application_id", "fund_id", "amount_pence", "awarded_on", "follow_up_on", "updated_at"], awards)
    return sql


def seed(label, data_dir, pg_url):
    started = time.perf_counter()
    statements = seed_sql()
    if pg_url:
        path = os.path.join(data_dir, "seed.sql")
        with open(path, "w") as f:
            f.write("BEGIN;\n" + "\n".join(statements) + "\nCOMMIT;\nANALYZE;\n")
        subprocess.run(["psql", pg_url, "-qAt", "-v", "ON_ERROR_STOP=1", "-f", path], check=True, capture_output=True)
    else:
        db = sqlite3.connect(os.path.join(data_dir, "constellate.db"), timeout=30)
        for s in statements:
            db.execute(s)
        db.commit()
        db.execute("ANALYZE")
        db.close()
    return round(time.perf_counter() - started, 1)


def wrk(url, sid, connections, seconds=10):
    out = subprocess.run(["wrk", "-H", f"Cookie: sid={sid}", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"{url}: error responses\n{out}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return {"requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))),
            "p99_ms": round(float(p99.group(1)) * scale, 1)}


def peak_rss_mib(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)


def bench(label, connections, pg_url=None):
    data_dir = tempfile.mkdtemp(prefix=f"bench-grants-{label}-")
    env = {"DATABASE_URL": pg_url} if pg_url else None
    server = run.Server(data_dir, env=env)
    op, sid = run.become_admin(server)
    figures = {"seed_s": seed(label, data_dir, pg_url)}
    server.stop()
    # A fresh server: its first request is the export, so its peak memory is the export's.
    server = run.Server(data_dir, env=env)
    started = time.perf_counter()
    with urllib.request.urlopen(server.base + "/grants/open-data.json", timeout=60) as r:
        body = r.read()
    seconds = time.perf_counter() - started
    grants = len(json.loads(body)["grants"])
    assert grants == AWARDS, grants
    figures["open_data_10k_awards"] = {"seconds": round(seconds, 2), "megabytes": round(len(body) / 1e6, 1),
                                       "server_peak_rss_mib": peak_rss_mib(server)}
    started = time.perf_counter()
    with urllib.request.urlopen(server.base + "/grants/open-data.csv", timeout=60) as r:
        r.read()
    figures["open_data_csv_seconds"] = round(time.perf_counter() - started, 2)
    # The admin's session survives the restart (sessions live in the database).
    figures["scoring_table_2000x12"] = wrk(f"{server.base}/staff/grants/rounds/{BASE_ID}/scores", sid, connections)
    figures["fairness_view_2000"] = wrk(f"{server.base}/staff/grants/rounds/{BASE_ID}/fairness", sid, connections)
    figures["server_peak_rss_mib_after_all"] = peak_rss_mib(server)
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def main():
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=run.ROOT, check=True)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    connections = int(sys.argv[sys.argv.index("--connections") + 1]) if "--connections" in sys.argv else 4
    # The machine may be shared: say how busy it was, since p99 under load includes queueing.
    results = {"connections": connections, "load_average_before": os.getloadavg()[0], "sqlite": bench("sqlite", connections)}
    if "--skip-postgres" not in sys.argv:
        name = f"bench_grants_{os.getpid()}"
        run.psql(f"CREATE DATABASE {name}")
        try:
            results["postgres"] = bench("postgres", connections, run.PG_ADMIN.rsplit("/", 1)[0] + "/" + name)
        finally:
            run.psql(f"DROP DATABASE IF EXISTS {name}")
    results["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    os.makedirs(os.path.join(run.ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(run.ROOT, "bench", "results", "grants.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
