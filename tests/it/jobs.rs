use std::time::Duration;

use constellate::core::{
    jobs::{self, Worker},
    mail::Email,
};

use crate::harness::{spawn_app, spawn_app_with, Backend};

crate::on_both_databases!(
    a_permanently_refused_address_ends_in_a_visible_failed_state,
    a_temporary_failure_is_retried_later_with_backoff,
    a_job_left_running_by_a_crashed_process_is_picked_up_again,
    two_workers_on_one_database_never_send_the_same_job_twice,
    without_smtp_mail_goes_to_the_outbox_and_erasure_removes_it,
);

fn mail(to: &str) -> Email {
    Email { html: Some("<p>Hello</p>".into()), ..Email::text(to, "Test", "Hello") }
}

async fn wait_for_status(app: &crate::harness::TestApp, id: i64, status: &str) -> (String, i64, Option<String>) {
    for _ in 0..1500 {
        let row: (String, i64, Option<String>) =
            sqlx::query_as("SELECT status, attempts, last_error FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db.pool)
                .await
                .unwrap();
        if row.0 == status {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} never reached {status} within 30 s");
}

async fn a_permanently_refused_address_ends_in_a_visible_failed_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = jobs::enqueue_mail(&app.state.db.pool, &mail("nobody@example.org"), None).await.unwrap();
    app.state.jobs_waiting.notify_one();
    let (_, attempts, error) = wait_for_status(&app, id, "failed").await;
    assert_eq!(attempts, 1, "a permanent refusal is not retried");
    assert!(error.unwrap().contains("550"));
    let staff = app.staff("staff").await;
    assert!(app.get_with(&staff, "/staff").await.body.contains("<strong>1</strong> emails that could not be sent"));
    let metrics = app.get("/metrics").await.body;
    assert!(metrics.contains("constellate_jobs{status=\"failed\"} 1"));
}

async fn a_temporary_failure_is_retried_later_with_backoff(backend: Backend) {
    // Nothing listens on port 9 of loopback: the connection is refused, which is temporary.
    let app = spawn_app_with(backend, |s| s.smtp_url = Some("smtp://127.0.0.1:9".into())).await;
    let id = jobs::enqueue_mail(&app.state.db.pool, &mail("later@example.org"), None).await.unwrap();
    app.state.jobs_waiting.notify_one();
    for _ in 0..1500 {
        let (status, attempts, run_at, created): (String, i64, i64, i64) =
            sqlx::query_as("SELECT status, attempts, run_at, created_at FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db.pool)
                .await
                .unwrap();
        if attempts == 1 && status == "queued" {
            assert!(run_at >= created + 30, "retried no sooner than the backoff");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job was not put back for a retry");
}

async fn a_job_left_running_by_a_crashed_process_is_picked_up_again(backend: Backend) {
    let app = spawn_app(backend).await;
    // As a process killed mid-send leaves it: claimed, lease not yet expired. Queued and claimed
    // in one transaction, so this instance's worker never sees it as merely queued.
    let mut tx = app.state.db.pool.begin().await.unwrap();
    let id = jobs::enqueue_mail(&mut *tx, &mail("crash@example.org"), None).await.unwrap();
    sqlx::query("UPDATE jobs SET status = 'running', attempts = 1, locked_until = $1 WHERE id = $2")
        .bind(constellate::core::time::now() + 2)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.state.jobs_waiting.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.smtp.to("crash@example.org").is_empty(), "not taken while the lease holds");
    app.smtp.wait_for("crash@example.org", 1).await;
    let (_, attempts, _) = wait_for_status(&app, id, "done").await;
    assert_eq!(attempts, 2);
}

async fn two_workers_on_one_database_never_send_the_same_job_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    // A second instance on the same database (same data folder for SQLite, same URL for PostgreSQL).
    let second = constellate::server::open_state(app.state.config.clone()).await.unwrap();
    let total = 200;
    let mut tx = app.state.db.pool.begin().await.unwrap();
    for i in 0..total {
        jobs::enqueue_mail(&mut *tx, &mail(&format!("r{i}@example.org")), None).await.unwrap();
    }
    tx.commit().await.unwrap();
    let run = |state: constellate::core::state::AppState| async move {
        let worker = Worker { state, idle_poll: Duration::from_millis(10) };
        let mut done = 0;
        while worker.run_one().await.unwrap() {
            done += 1;
        }
        done
    };
    let (a, b, c) = tokio::join!(run(app.state.clone()), run(second.clone()), run(second));
    // The app's own background worker may take some too; all that matters is the SMTP server's view.
    for _ in 0..1500 {
        if app.smtp.all().len() >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = app.smtp.all();
    assert_eq!(received.len(), total, "each job sent exactly once (workers ran {a}, {b}, {c})");
    let mut recipients: Vec<String> = received.iter().map(|m| m.to[0].clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), total);
}

async fn without_smtp_mail_goes_to_the_outbox_and_erasure_removes_it(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.smtp_url = Some(String::new())).await;
    let id = app.add_member("Outbox Person", "outbox.person@example.org", "member").await;
    let job = jobs::enqueue_mail(&app.state.db.pool, &mail("outbox.person@example.org"), Some(id)).await.unwrap();
    app.state.jobs_waiting.notify_one();
    wait_for_status(&app, job, "done").await;
    let outbox = app.state.config.outbox_dir();
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read(files[0].path()).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("Test"));
    assert!(parsed.body_html(0).is_some() && parsed.body_text(0).is_some(), "multipart: text and HTML");
    // A finished job keeps no copy of the message.
    let payload: String = sqlx::query_scalar("SELECT payload FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(payload, "{}");
    constellate::features::members::account::erase_member(&app.state, id).await.unwrap();
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 0, "outbox copy erased");
}

/// A write transaction on SQLite holds the write lock from its first statement. A deferred one
/// that read first and then tried to write after another connection had committed (a job
/// marked done while someone joined) failed with "database is locked": joins failed at random
/// under load. PostgreSQL locks rows, not the database, and has no such failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_write_transaction_takes_the_write_lock_before_its_first_read() {
    let app = spawn_app(Backend::Sqlite).await;
    let db = &app.state.db;
    let mut writing = db.begin().await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members").fetch_one(&mut *writing).await.unwrap();
    // Another connection that will not wait: it must find the write lock already taken.
    let mut other = db.pool.acquire().await.unwrap();
    sqlx::query("PRAGMA busy_timeout=0").execute(&mut *other).await.unwrap();
    let refused = sqlx::query("BEGIN IMMEDIATE").execute(&mut *other).await;
    assert!(refused.is_err(), "a second writer got the lock while a write transaction was open");
    sqlx::query("PRAGMA busy_timeout=10000").execute(&mut *other).await.unwrap();
    drop(other);
    writing.rollback().await.unwrap();
}
