//! The command line: settings check, key rotation, and the demo network's shape.
use std::process::Command;

use crate::harness::{spawn_app, Backend};

fn constellate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_constellate")).args(args).env_remove("DATABASE_URL").output().unwrap()
}

#[test]
fn config_check_masks_secrets_and_reports_problems() {
    let dir = std::env::temp_dir().join(format!("cfg-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = constellate(&["config", "check", "--data-dir", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    assert!(text.contains("sqlite (embedded)") && text.contains("No problems found."));
    let cores = std::thread::available_parallelism().unwrap().get();
    let connections = text.lines().find_map(|l| l.strip_prefix("db_connections")).map(str::trim);
    assert_eq!(connections, Some((4 * cores).to_string().as_str()), "four connections per core:\n{text}");

    let bad = constellate(&[
        "config",
        "check",
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        "mysql://app:hunter2@db/x",
        "--smtp-url",
        "smtp://mailer:s3cret@mail.example.org:587",
        "--mail-from",
        "nobody",
        "--db-connections",
        "1",
    ]);
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success());
    assert!(!text.contains("hunter2") && !text.contains("s3cret"), "secrets masked:\n{text}");
    assert!(text.contains("smtp://mailer:****@mail.example.org:587"));
    assert!(text.contains("problem: DATABASE_URL must start with postgres://"));
    assert!(text.contains("problem: mail_from must contain an email address"));
    assert!(text.contains("problem: db_connections must be at least 2"));
}

#[test]
fn serve_refuses_to_start_with_settings_that_config_check_reports() {
    let dir = std::env::temp_dir().join(format!("serve-bad-{}", std::process::id()));
    let out =
        constellate(&["serve", "--data-dir", dir.to_str().unwrap(), "--bind", "127.0.0.1:0", "--db-connections", "1"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("db_connections must be at least 2"), "{said}");
}

crate::on_both_databases!(
    key_rotation_re_encrypts_every_sealed_field,
    demo_network_spans_all_twelve_regions_with_varied_consents,
    the_demo_shows_a_letter_members_signed_and_a_grants_round_open_to_applications
);

async fn key_rotation_re_encrypts_every_sealed_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Sealed", "sealed@example.org", "member").await;
    let old = app.state.keys.encrypt("needs a quiet room");
    sqlx::query("UPDATE members SET access_needs_enc = $1 WHERE id = $2")
        .bind(&old)
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    // Bank details were once left out of rotation, and became unreadable when the key retired.
    let (fund, ids) = crate::grants::submitted_applications(&app.state.db, 100_000, 0, 1, 10_000).await;
    let bank = app.state.keys.encrypt("Sealed, 00-00-00, 12345678");
    sqlx::query(
        "INSERT INTO grant_awards (application_id, fund_id, amount_pence, awarded_on, bank_details_enc, follow_up_on, updated_at) \
         VALUES ($1, $2, 10000, '2026-01-01', $3, '2026-07-01', 1)",
    )
    .bind(ids[0])
    .bind(fund)
    .bind(&bank)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_constellate"));
    cmd.args(["keys", "rotate", "--data-dir", app.data_dir.to_str().unwrap()]);
    match &app.state.config.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 2 values"));
    let new: String = sqlx::query_scalar("SELECT access_needs_enc FROM members WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_ne!(new, old);
    let ring = constellate::core::crypto::Keyring::load(None, &app.data_dir, false).unwrap();
    assert_eq!(ring.decrypt(&new).unwrap(), "needs a quiet room");
    assert!(ring.decrypt(&old).is_err(), "the old key is retired");
    let bank_now: String =
        sqlx::query_scalar("SELECT bank_details_enc FROM grant_awards").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(ring.decrypt(&bank_now).unwrap(), "Sealed, 00-00-00, 12345678");
    // The database now knows the new key: an instance with it starts.
    assert!(constellate::server::open_state(app.state.config.clone()).await.is_ok());
}

async fn demo_network_spans_all_twelve_regions_with_varied_consents(backend: Backend) {
    let app = spawn_app(backend).await;
    constellate::demo::seed(&app.state.db, 800, 60, 1).await.unwrap();
    let pool = &app.state.db.pool;
    let regions: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT region) FROM members").fetch_one(pool).await.unwrap();
    assert_eq!(regions, 12);
    let group_regions: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT region) FROM groups").fetch_one(pool).await.unwrap();
    assert!(group_regions >= 10);
    let groups: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM groups").fetch_one(pool).await.unwrap();
    assert_eq!(groups, 60);
    let bulletin_yes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM consents WHERE purpose = 'bulletin' AND granted = 1")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(bulletin_yes > 400 && bulletin_yes < 800, "{bulletin_yes}");
    let communities: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT communities) FROM members").fetch_one(pool).await.unwrap();
    assert!(communities > 20);
    let emails_outside_example: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE email NOT LIKE '%@example.org'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(emails_outside_example, 0, "synthetic people only ever have example.org addresses");
}

async fn the_demo_shows_a_letter_members_signed_and_a_grants_round_open_to_applications(backend: Backend) {
    let app = spawn_app(backend).await;
    constellate::demo::seed(&app.state.db, 1000, 20, 5).await.unwrap();
    constellate::demo::showcase(&app.state.db, "Demo Network").await.unwrap();
    let letters = app.get("/letters").await.body;
    assert!(letters.contains("Keep community mental health drop-ins open"), "{letters}");
    let slug: String = sqlx::query_scalar("SELECT slug FROM letters").fetch_one(&app.state.db.pool).await.unwrap();
    let signed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM letter_signatures WHERE confirmed_at IS NOT NULL")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert!(signed > 40, "members have signed: {signed}");
    let letter = app.get(&format!("/letters/{slug}")).await.body;
    assert!(letter.contains(&format!("{signed} signatures<")), "{letter}");
    assert!(letter.contains("Demo Network"), "published with the network: {letter}");
    let grants = app.get("/grants").await.body;
    assert!(grants.contains("Small grants, open all year"), "{grants}");
}
