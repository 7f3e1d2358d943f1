//! The role matrix: every route, with every role, gets the answer its rule says. Routes are
//! read from the same table the server is built from, so a new route cannot be missed.
use axum::http::Method;
use constellate::core::{
    access::Access,
    auth::{self, SessionUser},
};

use crate::harness::{spawn_app, Backend, TestApp};

crate::on_both_databases!(
    every_route_allows_exactly_the_roles_its_rule_names,
    every_state_changing_route_rejects_a_missing_or_foreign_csrf_token
);

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    AwaitingReview,
    Member,
    Staff,
    Admin,
}

struct Actor {
    cookie: String,
    csrf: String,
    user: Option<SessionUser>,
}

async fn actor(app: &TestApp, who: Who, n: usize) -> Actor {
    let (role, status) = match who {
        Who::Anonymous => return Actor { cookie: "csrf=anon-token".into(), csrf: "anon-token".into(), user: None },
        Who::AwaitingReview => ("member", "pending"),
        Who::Member => ("member", "active"),
        Who::Staff => ("staff", "active"),
        Who::Admin => ("admin", "active"),
    };
    let email = format!("actor{n}-{who:?}@example.org").to_lowercase();
    let id = app.add_member("Actor", &email, role).await;
    sqlx::query("UPDATE members SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let sid = auth::start_session(&app.state.db, id).await.unwrap();
    let user = auth::session_user(&app.state.db, &sid).await.unwrap().unwrap();
    Actor { cookie: format!("sid={sid}"), csrf: user.csrf.clone(), user: Some(user) }
}

/// A fresh member and group to act on, so one request's effect (an erasure) cannot change the next.
async fn targets(app: &TestApp, n: usize) -> (i64, i64) {
    let member = app.add_member("Target", &format!("target{n}@example.org"), "member").await;
    sqlx::query("UPDATE members SET visibility = 'public' WHERE id = $1")
        .bind(member)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ('Target group', 'We meet.', NULL, 1, 'public', 1, 1) RETURNING id",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    (member, group)
}

/// The path with its parameters filled in: `{token}` with a token that does not exist, an id
/// under /groups/ with the target group, any other parameter with the target member's id (for
/// other areas' records that number does not exist, so an allowed role sees "not found").
fn concrete(path: &str, member: i64, group: i64) -> String {
    let id = if path.starts_with("/groups/") { group } else { member };
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        out.push_str(&rest[..start]);
        let value = if &rest[start..end] == "{token}" { "no-such-token".to_string() } else { id.to_string() };
        out.push_str(&value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Denied means: sent to sign in, or refused with 403 (not a CSRF refusal).
fn denied(status: u16, location: Option<&str>, denied_header: Option<&str>) -> bool {
    (status == 303 && location.is_some_and(|l| l.starts_with("/sign-in?return_to=")))
        || (status == 403 && denied_header.is_none())
}

async fn every_route_allows_exactly_the_roles_its_rule_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, rules) = constellate::server::all_routes().into_parts();
    assert!(rules.len() > 30, "the table holds every route");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut n = 0;
    let mut failures = Vec::new();
    for rule in &rules {
        for who in [Who::Anonymous, Who::AwaitingReview, Who::Member, Who::Staff, Who::Admin] {
            n += 1;
            let actor = actor(&app, who, n).await;
            let (member, group) = targets(&app, n).await;
            let path = concrete(rule.path, member, group);
            let request = if rule.method == Method::POST {
                http.post(app.url(&path)).form(&[("_csrf", actor.csrf.as_str())])
            } else {
                http.get(app.url(&path))
            };
            let r = request.header("cookie", &actor.cookie).send().await.unwrap();
            let status = r.status().as_u16();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
            let header = r.headers().get("x-denied").map(|v| v.to_str().unwrap().to_string());
            let was_denied = denied(status, location.as_deref(), header.as_deref());
            let expected_denied = rule.access.check(actor.user.as_ref(), "/").is_err();
            // Group pages are further limited to the group's contacts and staff.
            let contact_only = rule.path.starts_with("/groups/{id}/");
            let expected_denied = expected_denied || (contact_only && !matches!(who, Who::Staff | Who::Admin));
            if was_denied != expected_denied || status >= 500 {
                failures.push(format!(
                    "{} {} as {who:?}: status {status} (expected denied: {expected_denied})",
                    rule.method, rule.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "role matrix failures:\n{}", failures.join("\n"));
    // The rules themselves: a spot check that the sensitive areas are locked.
    let rule = |p: &str| rules.iter().find(|r| r.path == p).unwrap().access;
    assert_eq!(rule("/staff/members"), Access::Staff);
    assert_eq!(rule("/admin/audit"), Access::Admin);
    assert_eq!(rule("/me/export"), Access::SignedIn);
}

async fn every_state_changing_route_rejects_a_missing_or_foreign_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, rules) = constellate::server::all_routes().into_parts();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let admin = actor(&app, Who::Admin, 0).await;
    let (member, group) = targets(&app, 0).await;
    let mut checked = 0;
    // Only token-authorised one-click routes go without a CSRF field, and they name their token.
    assert!(rules.iter().filter(|r| !r.csrf).all(|r| r.method == Method::POST && r.path.contains("{token}")));
    for rule in rules.iter().filter(|r| r.method == Method::POST && r.csrf) {
        let path = concrete(rule.path, member, group);
        for (label, request) in [
            ("no token", http.post(app.url(&path)).form(&[("x", "1")])),
            ("wrong token", http.post(app.url(&path)).form(&[("_csrf", "forged")])),
            (
                "foreign origin",
                http.post(app.url(&path))
                    .header("origin", "https://evil.example")
                    .form(&[("_csrf", admin.csrf.as_str())]),
            ),
        ] {
            let r = request.header("cookie", &admin.cookie).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "{} {path} with {label}", rule.method);
            assert_eq!(r.headers().get("x-denied").map(|v| v.to_str().unwrap()), Some("csrf"));
            let body = r.text().await.unwrap();
            assert!(body.contains("Your form could not be sent"));
        }
        checked += 1;
    }
    assert!(checked >= 15);
    // Nothing happened: the target is still there.
    assert!(constellate::features::members::store::get(&app.state.db, member).await.unwrap().is_some());
}
