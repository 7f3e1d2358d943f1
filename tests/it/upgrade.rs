//! The upgrade gate. Networks upgrade by replacing the binary, so a database the previous
//! release made must migrate and serve every page, with nothing anyone stored lost; and a
//! migration that has landed is never edited (its checksum is locked in migrations/landed.lock).
use std::collections::BTreeMap;

use axum::http::Method;
use constellate::{
    core::{config::Config, db::Db},
    server,
};
use sha2::{Digest, Sha256};

use crate::harness::{client, test_settings, Backend, SmtpServer};

crate::on_both_databases!(a_database_the_previous_release_made_migrates_and_serves_every_page_with_nothing_lost);

#[derive(serde::Deserialize)]
struct Fixture {
    migrations: i64,
    tables: Vec<TableRows>,
}

#[derive(serde::Deserialize)]
struct TableRows {
    table: String,
    columns: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
}

fn literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => panic!("unexpected value in the fixture: {other}"),
    }
}

fn fixture() -> Fixture {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/upgrade/release-6.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&db.pool).await.unwrap()
}

async fn a_database_the_previous_release_made_migrates_and_serves_every_page_with_nothing_lost(backend: Backend) {
    let smtp = SmtpServer::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (settings, _scratch) = test_settings(backend, &smtp, addr).await;
    let config = Config::load(&settings).unwrap();

    // The database as the previous release left it: its migrations, then its data.
    let fixture = fixture();
    let old = Db::connect(&config).await.unwrap();
    old.migrate_through(fixture.migrations).await.unwrap();
    let mut before = BTreeMap::new();
    for t in &fixture.tables {
        // Rows the migrations themselves put in (the two mailing lists) are in the fixture too.
        sqlx::query(&format!("DELETE FROM {}", t.table)).execute(&old.pool).await.unwrap();
        for chunk in t.rows.chunks(200) {
            let values: Vec<String> =
                chunk.iter().map(|r| format!("({})", r.iter().map(literal).collect::<Vec<_>>().join(", "))).collect();
            let sql = format!("INSERT INTO {} ({}) VALUES {}", t.table, t.columns.join(", "), values.join(", "));
            sqlx::query(&sql).execute(&old.pool).await.unwrap_or_else(|e| panic!("{}: {e}", t.table));
        }
        if t.columns[0] == "id" && backend == Backend::Postgres {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT MAX(id) FROM {0}))",
                t.table
            ))
            .execute(&old.pool)
            .await
            .unwrap();
        }
        before.insert(t.table.clone(), t.rows.len() as i64);
    }
    old.pool.close().await;

    // The current binary starts on it: it migrates, and the job worker and pages run.
    let state = server::open_state(config.clone()).await.expect("the current release opens the old database");
    tokio::spawn(server::serve(state.clone(), listener, std::future::pending()));
    let base = format!("http://{addr}");
    let db = &state.db;
    for (table, rows) in &before {
        // What the upgrade changes on purpose: a finished job whose signature was gone is
        // removed, and the first start records which key seals the database's values.
        let expected = match table.as_str() {
            "jobs" => rows - 1,
            "secrets" => rows + 1,
            _ => *rows,
        };
        assert_eq!(count(db, table).await, expected, "{table}: rows lost or gained");
    }
    let name: String =
        sqlx::query_scalar("SELECT display_name FROM members WHERE id = 1").fetch_one(&db.pool).await.unwrap();
    assert_eq!(name, fixture.tables[0].rows[0][1].as_str().unwrap(), "a member's name survives");
    // The summary release 6 left stale (a conflict after scoring) is recomputed.
    let stale: (i64, i64) = sqlx::query_as(
        "SELECT score_scorers, conflicts FROM grant_applications WHERE id = (SELECT application_id FROM grant_conflicts)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stale, (0, 1));
    // Ids carry on from where the old database left them, and are never given twice.
    let next = constellate::features::members::store::insert(
        &mut *db.pool.acquire().await.unwrap(),
        &constellate::features::members::domain::NewMember {
            display_name: "After the upgrade".into(),
            email: constellate::features::members::domain::EmailAddress::parse("after@example.org").unwrap(),
            region: None,
            communities: vec![],
            consents: vec![],
        },
        "active",
        "admin",
        1,
    )
    .await
    .unwrap();
    assert!(next > 400, "new id {next}");

    // Every page, as a visitor and as an admin, with the old data's own ids.
    let admin = {
        let sid = constellate::core::auth::start_session(db, next).await.unwrap();
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(&format!("sid={sid}"), &base.parse().unwrap());
        reqwest::Client::builder().cookie_provider(jar).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    };
    let first = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db.pool).await.unwrap() };
    let ids = [
        ("/groups/", first("SELECT MIN(id) FROM groups").await),
        ("/grants/rounds/", first("SELECT MIN(id) FROM grant_rounds").await),
        ("/staff/grants/rounds/", first("SELECT MIN(id) FROM grant_rounds").await),
        ("/staff/grants/funds/", first("SELECT MIN(id) FROM grant_funds").await),
        ("/staff/grants/applications/", first("SELECT MIN(id) FROM grant_applications").await),
        ("/staff/bulletin/items/", first("SELECT MIN(id) FROM bulletin_items").await),
        ("/staff/support/", first("SELECT MIN(id) FROM support_requests").await),
        ("/staff/letters/", first("SELECT MIN(id) FROM letters").await),
    ];
    let slug: String = sqlx::query_scalar("SELECT slug FROM letters").fetch_one(&db.pool).await.unwrap();
    let (_, rules) = server::all_routes().into_parts();
    let visitor = client();
    let mut failures = Vec::new();
    let mut pages = 0;
    for rule in rules.iter().filter(|r| r.method == Method::GET) {
        let id = ids.iter().find(|(p, _)| rule.path.starts_with(p)).map_or(1, |(_, id)| *id);
        let path =
            rule.path.replace("{id}", &id.to_string()).replace("{slug}", &slug).replace("{token}", "no-such-token");
        let path = path.replace("{number}", "1");
        for who in [&visitor, &admin] {
            let r = who.get(format!("{base}{path}")).send().await.unwrap();
            pages += 1;
            if r.status().is_server_error() {
                failures.push(format!("GET {path}: {}", r.status()));
            }
        }
    }
    assert!(pages > 100 && failures.is_empty(), "{pages} pages; failures: {failures:?}");
    let letter = admin.get(format!("{base}/letters/{slug}")).send().await.unwrap().text().await.unwrap();
    assert!(letter.contains("240 signatures"), "the signatures survive and count");
}

/// Migrations that have landed are never edited: each file's SHA-256 is in migrations/landed.lock
/// (add a line there for a new migration once it lands; never change one).
#[test]
fn landed_migrations_are_never_edited() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let lock = std::fs::read_to_string(root.join("landed.lock")).unwrap();
    let locked: BTreeMap<&str, &str> = lock
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once("  ").map(|(sum, file)| (file.trim(), sum.trim())))
        .collect();
    let mut problems = Vec::new();
    for dialect in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join(dialect)).unwrap() {
            let path = entry.unwrap().path();
            let file = format!("{dialect}/{}", path.file_name().unwrap().to_string_lossy());
            let sum: String =
                Sha256::digest(std::fs::read(&path).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
            match locked.get(file.as_str()) {
                Some(expected) if *expected == sum => {}
                Some(_) => problems.push(format!("{file} has changed since it landed: write a new migration instead")),
                None => problems.push(format!("{file} is not in migrations/landed.lock: add `{sum}  {file}`")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
