//! The hostile-input gate: every form the product serves, found from the route table, is sent
//! NUL bytes, other control characters, bytes that are not UTF-8, a 100,000-character value and
//! every punctuation character, as a person allowed to send it. No answer may be a server
//! error, and afterwards no text column anywhere may hold a control character.
use std::collections::BTreeMap;

use axum::http::Method;
use constellate::core::{access::Access, auth};

use crate::harness::{spawn_app, Backend, TestApp};

crate::on_both_databases!(every_form_takes_hostile_input_without_a_server_error_or_a_stored_control_character);

/// One kind of bad input: a name, and the body to send given the form's field names and CSRF token.
struct Payload {
    name: &'static str,
    value: Vec<u8>,
    /// Sent percent-encoded (as a browser sends a form) or as the raw bytes.
    raw: bool,
}

fn payloads() -> Vec<Payload> {
    let punctuation: String = (0x21u8..0x7f).filter(|b| b.is_ascii_punctuation()).map(char::from).collect();
    let controls: String = (1u8..0x20).chain([0x7f]).map(char::from).collect();
    vec![
        Payload { name: "NUL", value: b"before\0after".to_vec(), raw: false },
        Payload { name: "control characters", value: format!("a{controls}b\u{85}c").into_bytes(), raw: false },
        Payload { name: "invalid UTF-8, encoded", value: b"caf\xe9 \xff\xfe".to_vec(), raw: false },
        Payload { name: "invalid UTF-8, raw", value: b"caf\xe9 \xff\xfe".to_vec(), raw: true },
        Payload { name: "every punctuation character", value: punctuation.into_bytes(), raw: false },
    ]
}

fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| if b.is_ascii_alphanumeric() { (*b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn body(csrf: &str, fields: &[String], value: &[u8], raw: bool) -> Vec<u8> {
    let mut out = format!("_csrf={}", encode(csrf.as_bytes())).into_bytes();
    for field in fields {
        out.extend_from_slice(format!("&{}=", encode(field.as_bytes())).as_bytes());
        if raw {
            out.extend_from_slice(value);
        } else {
            out.extend_from_slice(encode(value).as_bytes());
        }
    }
    out
}

/// The names of the fields in each form of a page, by the form's action.
fn forms(html: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let form = chunk.split("</form>").next().unwrap_or("");
        let head = form.split('>').next().unwrap_or("");
        if !head.contains("method=\"post\"") {
            continue;
        }
        let Some(action) = attribute(head, "action") else { continue };
        let mut names: Vec<String> = form
            .split("name=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter(|n| *n != "_csrf")
            .map(|n| n.replace("&#x2f;", "/"))
            .collect();
        names.sort();
        names.dedup();
        out.push((action.replace("&#x2f;", "/").replace("&amp;", "&"), names));
    }
    out
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = tag.find(&marker)? + marker.len();
    Some(tag[start..].split('"').next()?.to_string())
}

/// Whether a concrete path is an instance of a route pattern.
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| a.starts_with('{') || a == b)
}

/// Field names to send when no page showed the form (a route only reached by a link's token).
const COMMON_FIELDS: [&str; 8] = ["name", "email", "title", "description", "body", "reason", "q", "comment"];

async fn every_form_takes_hostile_input_without_a_server_error_or_a_stored_control_character(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, rules) = constellate::server::all_routes().into_parts();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // Every form on every page, as an admin, an owner, a group contact and a panel member see them.
    let (owner, contact, panelist, admin) = (
        member(&app, "owner", "member").await,
        member(&app, "contact", "member").await,
        member(&app, "panelist", "member").await,
        member(&app, "admin", "admin").await,
    );
    let t = crate::access::targets(&app, 0, owner.0, contact.0, panelist.0).await;
    let mut fields: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for rule in rules.iter().filter(|r| r.method == Method::GET) {
        let path = crate::access::concrete(rule.path, &t);
        for (_, cookie, _) in [&admin, &owner, &contact, &panelist] {
            let page = http.get(app.url(&path)).header("cookie", cookie).send().await.unwrap();
            let html = page.text().await.unwrap_or_default();
            for (action, names) in forms(&html) {
                if let Some(post) = rules.iter().find(|r| r.method == Method::POST && matches(r.path, &action)) {
                    fields.entry(post.path).or_default().extend(names);
                }
            }
        }
    }
    let mut failures = Vec::new();
    let mut sent = 0;
    for (n, rule) in rules.iter().filter(|r| r.method == Method::POST).enumerate() {
        // Fresh people and records for each route, so one route's effect (an erasure) cannot
        // stop the next from being tried.
        let (owner, contact, panelist) = (
            member(&app, &format!("o{n}"), "member").await,
            member(&app, &format!("c{n}"), "member").await,
            member(&app, &format!("p{n}"), "member").await,
        );
        let t = crate::access::targets(&app, n + 1, owner.0, contact.0, panelist.0).await;
        let path = crate::access::concrete(rule.path, &t);
        let mut names: Vec<String> = fields.get(rule.path).cloned().unwrap_or_default();
        if names.is_empty() {
            names = COMMON_FIELDS.iter().map(|s| s.to_string()).collect();
        }
        names.sort();
        names.dedup();
        let mut attempts: Vec<(String, Vec<u8>, bool)> =
            payloads().into_iter().map(|p| (p.name.to_string(), p.value, p.raw)).collect();
        // 100,000 characters in one field at a time (all at once would only meet the size limit);
        // encoded, they stay under the limit, so the value reaches validation.
        let long = ("é".repeat(10_000) + &"x".repeat(90_000)).into_bytes();
        for field in &names {
            attempts.push((format!("100,000 characters in {field}"), long.clone(), false));
        }
        for (i, (what, value, raw)) in attempts.into_iter().enumerate() {
            // A fresh sender each time: an earlier attempt may have erased or demoted the last one,
            // and a server that refuses a sender before reading the body closes the connection.
            let who = match rule.access {
                Access::Owner => owner.clone(),
                Access::GroupContact => contact.clone(),
                Access::Panel => panelist.clone(),
                _ => member(&app, &format!("a{n}-{i}"), "admin").await,
            };
            let fields: Vec<String> = if what.starts_with("100,000") {
                vec![what.rsplit(' ').next().unwrap().to_string()]
            } else {
                names.clone()
            };
            let r = http
                .post(app.url(&path))
                .header("cookie", &who.1)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body(&who.2, &fields, &value, raw))
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {} with {what}: {e}", rule.path));
            sent += 1;
            if r.status().is_server_error() {
                failures.push(format!("POST {} with {what}: {}", rule.path, r.status()));
            }
        }
    }
    assert!(sent > 500, "only {sent} requests: were the forms found?");
    assert!(fields.len() > 30, "forms found for only {} routes: {:?}", fields.len(), fields.keys());
    assert!(failures.is_empty(), "server errors:\n{}", failures.join("\n"));
    let stored = control_characters_stored(&app).await;
    assert!(stored.is_empty(), "control characters stored in {stored:?}");
    assert_eq!(app.get("/healthz").await.body, "ok\n");
}

/// A fresh active member with a session: (id, cookie, CSRF token).
async fn member(app: &TestApp, name: &str, role: &str) -> (i64, String, String) {
    let id = app.add_member(name, &format!("hostile-{name}@example.org"), role).await;
    let sid = auth::start_session(&app.state.db, id).await.unwrap();
    let user = auth::session_user(&app.state.db, &sid).await.unwrap().unwrap();
    (id, format!("sid={sid}"), user.csrf)
}

/// Every (table.column) holding a character below space other than tab and newline, or DEL.
async fn control_characters_stored(app: &TestApp) -> Vec<String> {
    let columns = crate::erasure::text_columns(app).await;
    let mut found = Vec::new();
    for (table, column) in columns {
        let values: Vec<Option<String>> =
            sqlx::query_scalar(&format!("SELECT {column} FROM {table}")).fetch_all(&app.state.db.pool).await.unwrap();
        if values.iter().flatten().any(|v| v.chars().any(|c| c.is_control() && c != '\n' && c != '\t')) {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}
