use constellate::core::db::Dialect;

use crate::harness::{spawn_app, Backend, TestApp};

crate::on_both_databases!(
    a_member_downloads_everything_including_audit_entries_about_them,
    erasure_leaves_no_personal_data_in_any_table_or_the_outbox,
    staff_views_and_exports_are_audit_logged_and_admins_can_read_the_log,
);

async fn a_member_downloads_everything_including_audit_entries_about_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Imani Okafor", "imani@example.org", "member").await;
    let staff = app.staff("staff").await;
    app.submit_with(
        &staff,
        &format!("/staff/members/{id}"),
        &format!("/staff/members/{id}"),
        &[("staff_notes", "Prefers phone calls")],
    )
    .await;
    app.sign_in("imani@example.org").await;
    let r = app.client.get(app.url("/me/export")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let data: serde_json::Value = r.json().await.unwrap();
    assert_eq!(data["format"], "constellate-member-export/1");
    assert_eq!(data["member"]["display_name"], "Imani Okafor");
    assert_eq!(data["member"]["email"], "imani@example.org");
    assert_eq!(data["member"]["staff_notes"], "Prefers phone calls");
    assert_eq!(data["consents"].as_array().unwrap().len(), 3);
    assert_eq!(data["consents"][0]["wording_version"], "2026-11");
    let audit = data["audit_entries_about_you"].as_array().unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"view") && actions.contains(&"change"), "{actions:?}");
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
}

/// Every text column of every table, as (table, column).
async fn text_columns(app: &TestApp) -> Vec<(String, String)> {
    let sql = match app.state.db.dialect {
        Dialect::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND (p.type = 'TEXT' OR p.type = '')"
        }
        Dialect::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type = 'text'"
        }
    };
    sqlx::query_as(sql).fetch_all(&app.state.db.pool).await.unwrap()
}

pub async fn occurrences(app: &TestApp, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (table, column) in text_columns(app).await {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE LOWER({column}) LIKE $1"))
            .bind(format!("%{}%", needle.to_lowercase()))
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        if n > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

async fn erasure_leaves_no_personal_data_in_any_table_or_the_outbox(backend: Backend) {
    let app = spawn_app(backend).await;
    let name = "Zebedee Quartermaine";
    let email = "zebedee.q@example.org";
    let id = app.add_member(name, email, "member").await;
    app.sign_in(email).await;
    app.submit(
        "/me/edit",
        "/me/edit",
        &[
            ("display_name", name),
            ("email", email),
            ("region", "London"),
            ("communities_other", "Quartermaine Collective"),
            ("visibility", "public"),
            ("access_needs", "BSL interpreter"),
        ],
    )
    .await;
    app.submit(
        "/groups/new",
        "/groups/new",
        &[
            ("name", "Tuesday Walkers"),
            ("description", "We walk."),
            ("lived_experience_led", "yes"),
            ("visibility", "public"),
        ],
    )
    .await;
    let staff = app.staff("staff").await;
    app.submit_with(
        &staff,
        &format!("/staff/members/{id}"),
        &format!("/staff/members/{id}"),
        &[("staff_notes", "Zebedee called")],
    )
    .await;
    // A message still waiting in the job table, and a rate-limit bucket keyed by the address.
    sqlx::query("UPDATE jobs SET status = 'queued', payload = $1 WHERE member_id = $2")
        .bind(format!("{{\"to\":\"{email}\",\"subject\":\"Hi {name}\",\"text\":\"x\"}}"))
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert!(!occurrences(&app, email).await.is_empty());

    let page = app.get("/me/delete").await;
    assert!(page.body.contains("We keep, with nothing that identifies you"));
    let r = app.submit("/me/delete", "/me/delete", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(app.get("/me").await.status, 303, "signed out");

    for needle in [email, name, "Zebedee", "Quartermaine", "BSL interpreter"] {
        let found = occurrences(&app, needle).await;
        assert!(found.is_empty(), "'{needle}' still in {found:?}");
    }
    let sealed: (Option<String>, Option<String>, String) =
        sqlx::query_as("SELECT access_needs_enc, staff_notes_enc, status FROM members WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(sealed, (None, None, "erased".to_string()));
    for table in ["sessions", "login_tokens", "consents", "member_search_terms", "group_contacts", "jobs"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE member_id = $1"))
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    // Counts kept: the anonymous row and the erasure counter; the group stays.
    let erased: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'members_erased'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(erased, 1);
    let groups: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM groups").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(groups, 1);
}

async fn staff_views_and_exports_are_audit_logged_and_admins_can_read_the_log(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Audited", "audited@example.org", "member").await;
    let staff = app.staff("staff").await;
    assert_eq!(app.get_with(&staff, &format!("/staff/members/{id}")).await.status, 200);
    assert_eq!(app.get_with(&staff, &format!("/staff/members/{id}/export")).await.status, 200);
    assert_eq!(app.get_with(&staff, "/staff/members.csv").await.status, 200);
    assert_eq!(app.get_with(&staff, "/admin/audit").await.status, 403);
    let actions: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT action, subject_member_id FROM audit_log ORDER BY id")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(actions, vec![("view".into(), Some(id)), ("export".into(), Some(id)), ("export".into(), None)]);
    let admin = app.staff("admin").await;
    let log = app.get_with(&admin, "/admin/audit").await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("viewed member record"));
    assert!(log.body.contains("exported 2 members as CSV"));
}
