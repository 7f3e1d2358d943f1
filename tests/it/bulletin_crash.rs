//! Sending survives a crash: the real binary is killed with SIGKILL in the middle of sending an
//! issue to a few thousand people, started again on the same database, and the SMTP server must
//! have received the issue once per recipient. A message the SMTP server had accepted but the
//! dying process had not yet marked as sent is sent again after the restart, so the bound on
//! duplicates is the number of messages that can be in flight: one per job lane.
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use constellate::{
    core::{config::Config, time::now},
    features::bulletin::{delivery, domain::ItemKind, issue_store, store},
    server,
};

use crate::harness::{add_bulletin_readers_to, test_settings, Backend, SmtpServer};

crate::on_both_databases!(a_kill_mid_send_then_restart_delivers_to_everyone_with_at_most_one_duplicate_per_lane);

const READERS: usize = 2000;
const LANES: usize = 4;

fn start(config: &Config) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_constellate"));
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(&config.data_dir)
        .args(["--bind", "127.0.0.1:0", "--base-url", &config.base_url, "--mail-from", &config.mail_from])
        .args(["--smtp-url", config.smtp_url.as_deref().unwrap()])
        .args(["--job-workers", &LANES.to_string(), "--job-lease-seconds", "2", "--job-poll-ms", "100"])
        .env("CONSTELLATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match &config.database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    command.spawn().expect("the constellate binary starts")
}

async fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {seconds} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_kill_mid_send_then_restart_delivers_to_everyone_with_at_most_one_duplicate_per_lane(backend: Backend) {
    let smtp = SmtpServer::start();
    let (settings, _scratch) = test_settings(backend, &smtp, "127.0.0.1:0".parse().unwrap()).await;
    let config = Config::load(&settings).unwrap();
    // The test's own view of the database: no server, no job worker.
    let state = server::open_state(config.clone()).await.unwrap();
    add_bulletin_readers_to(&state.db, READERS).await;
    let mut tx = state.db.pool.begin().await.unwrap();
    let item = constellate::features::bulletin::domain::ValidItem {
        kind: ItemKind::News,
        title: "Survives a crash".into(),
        description: "Sent once to everyone.".into(),
        link: None,
        closes_on: None,
        region: None,
        group_id: None,
    };
    let reader: i64 = sqlx::query_scalar("SELECT MIN(id) FROM members").fetch_one(&mut *tx).await.unwrap();
    let id = store::insert_item(
        &mut tx,
        &item,
        store::Sender::Staff(reader),
        constellate::features::bulletin::domain::ItemStatus::Accepted,
    )
    .await
    .unwrap();
    let issue = issue_store::create_issue(&mut tx, 1, &constellate::core::time::local_date(now())).await.unwrap();
    assert!(issue_store::issue_items(&state.db, issue).await.is_ok());
    delivery::schedule(&mut tx, issue, now()).await.unwrap();
    tx.commit().await.unwrap();
    let _ = id;

    let mut first = start(&config);
    wait_until("the first 400 messages", 60, || smtp.all().len() >= 400).await;
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let at_kill = smtp.all().len();
    assert!(at_kill < READERS, "the kill came before the end ({at_kill} sent)");

    let mut second = start(&config);
    let everyone = || {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for m in smtp.all() {
            *seen.entry(m.to[0].clone()).or_default() += 1;
        }
        seen
    };
    wait_until("delivery to every reader", 120, || everyone().len() >= READERS).await;
    // Anything still to come (a retry after the lease) would arrive within the lease and a poll.
    tokio::time::sleep(Duration::from_secs(3)).await;
    second.kill().unwrap();
    second.wait().unwrap();

    let seen = everyone();
    assert_eq!(seen.len(), READERS, "every reader got the issue");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert!(duplicates <= LANES, "{duplicates} duplicates; at most one per lane ({LANES}) may be in flight at a kill");
    let report = delivery::report(&state.db, issue).await.unwrap();
    assert_eq!((report.sent, report.failed, report.waiting), (READERS as i64, 0, 0));
    println!("killed after {at_kill} messages; {duplicates} duplicate(s) after the restart");
}
