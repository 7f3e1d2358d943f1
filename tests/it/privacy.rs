use crate::harness::{spawn_app, Backend, TestApp};

crate::on_both_databases!(
    a_member_downloads_everything_including_audit_entries_about_them,
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

pub async fn occurrences(app: &TestApp, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (table, column) in crate::erasure::text_columns(app).await {
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
