#!/usr/bin/env python3
"""Make the upgrade gate's fixture: the database a released version leaves behind.

    python3 scripts/upgrade-fixture.py COMMIT MIGRATIONS

Builds COMMIT in a temporary worktree (sharing this checkout's target folder, so only the
crate itself is compiled), runs its `serve --demo` on a fresh data folder until it answers,
stops it, trims the demo to members 1-400 and the groups they are contacts of (the file stays
small), adds a few rows of activity the demo lacks (an item, a request, applications with
answers, scores and a conflict written the way that release wrote them), and writes every
table's rows to tests/it/fixtures/upgrade/release-MIGRATIONS.json. Run it when a release
lands with new migrations, for the new release; the test loads the newest fixture.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
commit, migrations = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp(prefix="release-")
tree = os.path.join(work, "tree")
subprocess.run(["git", "-C", root, "worktree", "add", "-f", tree, commit], check=True)
try:
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(root, "target"))
    subprocess.run(["cargo", "build", "--locked", "--bin", "constellate"], cwd=tree, env=env, check=True)
    binary = os.path.join(work, "constellate")
    os.replace(os.path.join(root, "target", "debug", "constellate"), binary)
    data = os.path.join(work, "data")
    server = subprocess.Popen([binary, "serve", "--demo", "--data-dir", data, "--bind", "127.0.0.1:18777"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            urllib.request.urlopen("http://127.0.0.1:18777/healthz", timeout=1)
            break
        except OSError:
            time.sleep(1)
    server.terminate()
    server.wait()
finally:
    subprocess.run(["git", "-C", root, "worktree", "remove", "--force", tree], check=False)

c = sqlite3.connect(os.path.join(data, "constellate.db"))
c.execute("PRAGMA foreign_keys=ON")
c.execute("DELETE FROM members WHERE id > 400")
c.execute("DELETE FROM groups WHERE id NOT IN (SELECT group_id FROM group_contacts)")
c.execute("DELETE FROM login_tokens")
t = 1764000000
c.execute("""INSERT INTO bulletin_items (kind, title, description, link, member_id, written_by_staff, edited_by_staff,
  status, position, submitted_at, created_at, updated_at)
  VALUES ('event', 'Peer support picnic', 'Bring a friend.', 'https://example.org/picnic', 7, 0, 0, 'received', 0, ?, ?, ?)""",
          (t, t, t))
c.execute("""INSERT INTO support_requests (kind, member_id, title, description, asks, status, created_at, updated_at)
  VALUES ('support', 9, 'Save the drop-in', 'The council plans to close it.', 'amplify,cosign', 'new', ?, ?)""", (t, t))
round_id = c.execute("SELECT id FROM grant_rounds").fetchone()[0]
first_question = c.execute("SELECT id FROM grant_questions ORDER BY position").fetchone()[0]
apps = []
for member, status in [(11, "submitted"), (12, "submitted"), (13, "draft")]:
    cur = c.execute("""INSERT INTO grant_applications (round_id, member_id, amount_pence, status, first_time, region,
      listed, created_at, updated_at, submitted_at) VALUES (?, ?, 30000, ?, 1, 'Wales', 0, ?, ?, ?)""",
                    (round_id, member, status, t, t, None if status == "draft" else t))
    apps.append(cur.lastrowid)
    c.execute("INSERT INTO grant_answers (application_id, question_id, value) VALUES (?, ?, 'Room hire for our group')",
              (cur.lastrowid, first_question))
for member, shown in [(20, "Sam, member"), (21, None)]:
    c.execute("INSERT INTO grant_panel_members (round_id, member_id, shown_as, paid, added_at) VALUES (?, ?, ?, 1, ?)",
              (round_id, member, shown, t))
criteria = [r[0] for r in c.execute("SELECT id FROM grant_criteria ORDER BY id")]
for criterion in criteria:
    c.execute("INSERT INTO grant_scores (application_id, member_id, criterion_id, score, note, scored_at) VALUES (?, 20, ?, 3, 'Strong', ?)",
              (apps[0], criterion, t))
c.execute("UPDATE grant_applications SET score_scorers = 1, score_total = ? WHERE id = ?", (3 * len(criteria), apps[0]))
# Release 6 declared a conflict by deleting the member's scores without recomputing the summary:
# member 21 scored the second application, then declared a conflict on it.
c.execute("INSERT INTO grant_conflicts (application_id, member_id, declared_at) VALUES (?, 21, ?)", (apps[1], t))
c.execute("UPDATE grant_applications SET score_scorers = 1, score_total = 4 WHERE id = ?", (apps[1],))
# A finished confirmation job whose signature no longer exists: the key that blocked the next signer.
c.execute("""INSERT INTO jobs (kind, payload, member_id, status, attempts, max_attempts, run_at, created_at, updated_at, dedupe_key)
  VALUES ('mail', '{}', NULL, 'done', 1, 6, ?, ?, ?, 'voice-confirm:99999')""", (t, t, t))
c.commit()

out = {
    "from": f"commit {commit}: serve --demo, trimmed and with a little activity (scripts/upgrade-fixture.py)",
    "migrations": migrations,
    "tables": [],
}
for (table,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                          "AND name <> 'schema_migrations' ORDER BY rowid").fetchall():
    columns = [r[1] for r in c.execute(f"PRAGMA table_info({table})")]
    rows = c.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid").fetchall()
    if rows:
        out["tables"].append({"table": table, "columns": columns, "rows": rows})
target = os.path.join(root, "tests", "it", "fixtures", "upgrade", f"release-{migrations}.json")
with open(target, "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
print(f"wrote {target}: " + ", ".join(f"{t['table']} {len(t['rows'])}" for t in out["tables"]))
