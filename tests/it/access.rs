//! The role matrix: every route, with every role, gets the answer its rule says. Routes are
//! read from the same table the server is built from, so a new route cannot be missed.
use axum::http::Method;
use constellate::core::{access::Access, auth};

use crate::harness::{spawn_app, Backend, TestApp};

crate::on_both_databases!(
    every_route_allows_exactly_the_roles_its_rule_names,
    every_state_changing_route_rejects_a_missing_or_foreign_csrf_token
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    AwaitingReview,
    Member,
    /// The member the target bulletin item and grant application belong to.
    Owner,
    /// A contact of the target group.
    GroupContact,
    /// On the panel of the target round.
    PanelMember,
    Staff,
    Admin,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::AwaitingReview,
    Who::Member,
    Who::Owner,
    Who::GroupContact,
    Who::PanelMember,
    Who::Staff,
    Who::Admin,
];

/// Who each rule lets in, written from the rule alone: a route can only be added with a rule,
/// so every route has an expectation here.
fn allowed(access: Access, who: Who) -> bool {
    use Who::*;
    match access {
        Access::Public => true,
        Access::SignedIn => who != Anonymous,
        Access::Member => !matches!(who, Anonymous | AwaitingReview),
        Access::GroupContact => matches!(who, GroupContact | Staff | Admin),
        Access::Panel => who == PanelMember,
        Access::Owner => who == Owner,
        Access::Staff => matches!(who, Staff | Admin),
        Access::Admin => who == Admin,
    }
}

struct Actor {
    id: Option<i64>,
    cookie: String,
    csrf: String,
}

async fn actor(app: &TestApp, who: Who, n: usize) -> Actor {
    let (role, status) = match who {
        Who::Anonymous => return Actor { id: None, cookie: "csrf=anon-token".into(), csrf: "anon-token".into() },
        Who::AwaitingReview => ("member", "pending"),
        Who::Member | Who::Owner | Who::GroupContact | Who::PanelMember => ("member", "active"),
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
    Actor { id: Some(id), cookie: format!("sid={sid}"), csrf: user.csrf }
}

/// Fresh records to act on, so one request's effect (an erasure, a conflict) cannot change the
/// next: a member; a group whose contact is `contact`; a round with `panelist` on its panel
/// and an awarded application of `owner`'s in it; a bulletin item of `owner`'s.
pub struct Targets {
    member: i64,
    group: i64,
    round: i64,
    application: i64,
    item: i64,
}

pub async fn targets(app: &TestApp, n: usize, owner: i64, contact: i64, panelist: i64) -> Targets {
    let pool = &app.state.db.pool;
    let member = app.add_member("Target", &format!("target{n}@example.org"), "member").await;
    sqlx::query("UPDATE members SET visibility = 'public' WHERE id = $1").bind(member).execute(pool).await.unwrap();
    let one = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    let group = one(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ('Target group', 'We meet.', NULL, 1, 'public', 1, 1) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO group_contacts (group_id, member_id, added_at) VALUES ($1, $2, 1)")
        .bind(group)
        .bind(contact)
        .execute(pool)
        .await
        .unwrap();
    let (fund, ids) = crate::grants::submitted_applications(&app.state.db, 100_000, 0, 1, 10_000).await;
    let application = ids[0];
    let round =
        one("SELECT round_id FROM grant_applications WHERE id = $1").bind(application).fetch_one(pool).await.unwrap();
    sqlx::query("UPDATE grant_applications SET member_id = $1, status = 'awarded' WHERE id = $2")
        .bind(owner)
        .bind(application)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO grant_awards (application_id, fund_id, amount_pence, awarded_on, follow_up_on, follow_up_sent_at, updated_at) \
         VALUES ($1, $2, 10000, '2026-01-01', '2026-07-01', 1, 1)",
    )
    .bind(application)
    .bind(fund)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO grant_panel_members (round_id, member_id, shown_as, paid, added_at) VALUES ($1, $2, NULL, 0, 1)",
    )
    .bind(round)
    .bind(panelist)
    .execute(pool)
    .await
    .unwrap();
    let item = one(
        "INSERT INTO bulletin_items (kind, title, description, member_id, written_by_staff, edited_by_staff, status, position, \
         submitted_at, created_at, updated_at) VALUES ('news', 'Target item', 'Text', $1, 0, 0, 'received', 0, 1, 1, 1) RETURNING id",
    )
    .bind(owner)
    .fetch_one(pool)
    .await
    .unwrap();
    Targets { member, group, round, application, item }
}

/// The path with its parameters filled in: `{token}` with a token that does not exist, `{id}`
/// with the target the path is about, any other parameter with the target member's id (for
/// other areas' records that number does not exist, so an allowed role sees "not found").
pub fn concrete(path: &str, t: &Targets) -> String {
    let id = [
        ("/groups/", t.group),
        ("/panel/rounds/", t.round),
        ("/staff/grants/rounds/", t.round),
        ("/panel/applications/", t.application),
        ("/grants/applications/", t.application),
        ("/staff/grants/applications/", t.application),
        ("/bulletin/mine/", t.item),
        ("/staff/bulletin/items/", t.item),
    ]
    .iter()
    .find(|(prefix, _)| path.starts_with(prefix))
    .map_or(t.member, |(_, id)| *id);
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        out.push_str(&rest[..start]);
        let value = match &rest[start..end] {
            "{token}" => "no-such-token".to_string(),
            "{id}" => id.to_string(),
            _ => t.member.to_string(),
        };
        out.push_str(&value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Denied means: sent to sign in, or refused with 403 (not a CSRF refusal); for pages that
/// hide whether a record exists (a panel's, an owner's), not found.
fn denied(access: Access, status: u16, location: Option<&str>, denied_header: Option<&str>) -> bool {
    (status == 303 && location.is_some_and(|l| l.starts_with("/sign-in?return_to=")))
        || (status == 403 && denied_header.is_none())
        || (status == 404 && matches!(access, Access::Panel | Access::Owner))
}

async fn every_route_allows_exactly_the_roles_its_rule_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, rules) = constellate::server::all_routes().into_parts();
    assert!(rules.len() > 30, "the table holds every route");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut n = 0;
    let mut failures = Vec::new();
    for rule in &rules {
        n += 1;
        let mut actors = Vec::new();
        for who in EVERYONE {
            actors.push((who, actor(&app, who, n * 10 + actors.len()).await));
        }
        let id_of = |w: Who| actors.iter().find(|(who, _)| *who == w).and_then(|(_, a)| a.id).unwrap();
        let t = targets(&app, n, id_of(Who::Owner), id_of(Who::GroupContact), id_of(Who::PanelMember)).await;
        let path = concrete(rule.path, &t);
        for (who, actor) in &actors {
            let request = if rule.method == Method::POST {
                http.post(app.url(&path)).form(&[("_csrf", actor.csrf.as_str())])
            } else {
                http.get(app.url(&path))
            };
            let r = request.header("cookie", &actor.cookie).send().await.unwrap();
            let status = r.status().as_u16();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
            let header = r.headers().get("x-denied").map(|v| v.to_str().unwrap().to_string());
            let was_denied = denied(rule.access, status, location.as_deref(), header.as_deref());
            let expected_denied = !allowed(rule.access, *who);
            if was_denied != expected_denied || status >= 500 {
                failures.push(format!(
                    "{} {} ({:?}) as {who:?}: status {status} (expected denied: {expected_denied})",
                    rule.method, rule.path, rule.access
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
    assert_eq!(rule("/panel/applications/{id}"), Access::Panel);
    assert_eq!(rule("/groups/{id}/edit"), Access::GroupContact);
}

async fn every_state_changing_route_rejects_a_missing_or_foreign_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, rules) = constellate::server::all_routes().into_parts();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let admin = actor(&app, Who::Admin, 0).await;
    let someone = app.add_member("Someone", "someone@example.org", "member").await;
    let t = targets(&app, 0, someone, someone, someone).await;
    let mut checked = 0;
    // Only token-authorised one-click routes go without a CSRF field, and they name their token.
    assert!(rules.iter().filter(|r| !r.csrf).all(|r| r.method == Method::POST && r.path.contains("{token}")));
    for rule in rules.iter().filter(|r| r.method == Method::POST && r.csrf) {
        let path = concrete(rule.path, &t);
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
    assert!(constellate::features::members::store::get(&app.state.db, t.member).await.unwrap().is_some());
}
