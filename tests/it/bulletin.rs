//! The weekly bulletin: submissions, editorial decisions, issues delivered to a real SMTP
//! server, unsubscribing, bounces, the supporters' list, the archive and feed.
use std::{collections::HashMap, time::Duration};

use constellate::{
    core::time::now,
    features::bulletin::{delivery, issue_store},
};

use crate::harness::{client, csrf_in, spawn_app, spawn_app_with, Backend, Received, TestApp};

crate::on_both_databases!(
    a_member_item_is_accepted_composed_into_an_issue_and_delivered_to_consenting_members,
    the_sender_is_asked_for_a_change_resubmits_and_each_decision_is_emailed,
    items_that_close_before_sending_are_left_out_and_marked_closed,
    opening_the_unsubscribe_link_changes_nothing_its_button_and_one_click_post_unsubscribe_and_can_be_undone,
    a_refused_address_is_marked_and_its_delivery_pauses_after_the_limit,
    supporters_sign_up_with_only_an_email_confirm_it_and_get_the_newsletter,
    two_instances_sending_one_issue_send_each_recipient_one_message,
    bad_input_is_answered_with_errors_and_nothing_is_lost,
    a_feed_reader_given_the_home_page_the_theme_or_the_archive_finds_the_feed,
    with_an_ed25519_and_an_rsa_key_each_message_carries_two_signatures_that_each_verify,
    erasing_a_member_removes_their_bulletin_data_everywhere,
);

/// Fill and send the member's item form.
async fn send_item(app: &TestApp, client: &reqwest::Client, title: &str, closes_on: &str) -> String {
    let r = app
        .submit_with(
            client,
            "/bulletin/submit",
            "/bulletin/submit",
            &[
                ("kind", "paid_work"),
                ("title", title),
                ("description", "Two days a month, **paid** at the Living Wage."),
                ("link", "https://example.org/jobs/peer-researcher"),
                ("closes_on", closes_on),
                ("region", "Wales"),
                ("from", "me"),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location.unwrap()
}

async fn item_id(app: &TestApp, title: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM bulletin_items WHERE title = $1")
        .bind(title)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

/// Staff decide about an item through its page.
async fn decide(app: &TestApp, staff: &reqwest::Client, item: i64, fields: &[(&str, &str)]) {
    let path = format!("/staff/bulletin/items/{item}");
    let r = app.submit_with(staff, &path, &path, fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// Start an issue of a list (1: the bulletin) and return its id.
async fn start_issue(app: &TestApp, staff: &reqwest::Client, list: &str) -> i64 {
    let r = app.submit_with(staff, "/staff/bulletin/issues", "/staff/bulletin/issues", &[("list", list)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location.unwrap().rsplit('/').next().unwrap().split('#').next().unwrap().parse().unwrap()
}

async fn send_now(app: &TestApp, staff: &reqwest::Client, issue: i64) {
    let path = format!("/staff/bulletin/issues/{issue}");
    let r = app.submit_with(staff, &path, &format!("{path}/schedule"), &[("when", "now"), ("confirmed", "yes")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

fn header(message: &Received, name: &str) -> String {
    let parsed = message.parsed();
    parsed.header_raw(name).map(|v| v.trim().to_string()).unwrap_or_else(|| panic!("no {name} header"))
}

/// No image, stylesheet, script, font or frame is fetched from anywhere when the email is opened.
fn assert_no_remote_resources(html: &str) {
    let lower = html.to_lowercase();
    for needle in ["<img", "<link", "<script", "<iframe", "url(", "@import", "src="] {
        assert!(!lower.contains(needle), "the email HTML contains {needle}");
    }
}

async fn a_member_item_is_accepted_composed_into_an_issue_and_delivered_to_consenting_members(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.dkim_domain = Some("example.org".into());
        s.dkim_selector = Some("test".into());
        s.dkim_key_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/dkim-test-key.pem").into());
    })
    .await;
    app.add_member("Dee Reader", "dee@example.org", "member").await;
    let no_bulletin = app.add_member("Quiet Reader", "quiet@example.org", "member").await;
    sqlx::query("UPDATE consents SET granted = 0 WHERE member_id = $1 AND purpose = 'bulletin'")
        .bind(no_bulletin)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    app.add_member("Sam Sender", "sam@example.org", "member").await;
    app.sign_in("sam@example.org").await;
    let closes = constellate::core::time::local_date(now() + 20 * 86_400);
    let mine = send_item(&app, &app.client, "Peer researcher", &closes).await;
    let page = app.get(&mine).await;
    assert!(page.body.contains("Received: the editorial team will look at it soon"), "{}", page.body);

    let staff = app.staff("staff").await;
    let r = app
        .submit_with(
            &staff,
            "/staff/bulletin/guidelines",
            "/staff/bulletin/guidelines",
            &[("action", "add-guideline"), ("text", "Paid work says what it pays")],
        )
        .await;
    assert_eq!(r.status, 303);
    let queue = app.get_with(&staff, "/staff/bulletin").await;
    assert!(queue.body.contains("Peer researcher") && queue.body.contains("Closes in 20 days"), "{}", queue.body);
    let item = item_id(&app, "Peer researcher").await;
    let decision_page = app.get_with(&staff, &format!("/staff/bulletin/items/{item}")).await;
    assert!(decision_page.body.contains("Paid work says what it pays"), "guidelines shown beside the item");
    let guideline: i64 =
        sqlx::query_scalar("SELECT id FROM bulletin_guidelines").fetch_one(&app.state.db.pool).await.unwrap();
    decide(
        &app,
        &staff,
        item,
        &[
            ("decision", "accept"),
            ("issue", "next"),
            ("guidelines", &guideline.to_string()),
            ("reasoning", "Clear and paid fairly"),
        ],
    )
    .await;
    let accepted = app.smtp.wait_for("sam@example.org", 2).await;
    assert!(accepted.subject().contains("will be in the bulletin"), "{}", accepted.subject());
    let record = app.get_with(&staff, &format!("/staff/bulletin/items/{item}")).await.body;
    assert!(
        record.contains("Clear and paid fairly") && record.contains("Guidelines that applied"),
        "the decision keeps who and why"
    );

    let issue = start_issue(&app, &staff, "1").await;
    let compose = app.get_with(&staff, &format!("/staff/bulletin/issues/{issue}")).await;
    assert!(compose.body.contains("Peer researcher"), "accepted items are gathered into a new issue");
    let path = format!("/staff/bulletin/issues/{issue}");
    let r = app
        .submit_with(
            &staff,
            &path,
            &path,
            &[("title", "Bulletin 1: spring"), ("editor_note", "Welcome to the **first** issue.")],
        )
        .await;
    assert_eq!(r.status, 303);
    let preview = app.get_with(&staff, &format!("{path}/preview")).await;
    assert!(
        preview.body.contains("Welcome to the <strong>first</strong> issue.") && preview.body.contains("Paid work")
    );
    let text_preview = app.get_with(&staff, &format!("{path}/email.txt")).await;
    assert!(
        text_preview.body.contains("== Paid work ==") && text_preview.body.contains("Closes in 20 days"),
        "{}",
        text_preview.body
    );
    send_now(&app, &staff, issue).await;

    let message = app.smtp.wait_for("dee@example.org", 1).await;
    let parsed = message.parsed();
    assert_eq!(parsed.subject(), Some("Bulletin 1: spring"));
    assert!(parsed.message_id().is_some() && parsed.date().is_some() && parsed.from().is_some());
    let html = parsed.body_html(0).expect("an HTML part").into_owned();
    let text = parsed.body_text(0).expect("a plain-text part").into_owned();
    assert!(html.contains("Hello Dee Reader,") && text.contains("Hello Dee Reader,"), "personalised");
    assert!(html.contains("href=\"https://example.org/jobs/peer-researcher\""), "links are not rewritten");
    assert_no_remote_resources(&html);
    let unsubscribe = header(&message, "List-Unsubscribe");
    assert!(
        unsubscribe.contains(&format!("<{}/unsubscribe/", app.base))
            && unsubscribe.contains("<mailto:network@example.org?subject=unsubscribe%20"),
        "{unsubscribe}"
    );
    assert_eq!(header(&message, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    let signature = header(&message, "DKIM-Signature");
    assert!(
        signature.contains("d=example.org")
            && signature.contains("s=test")
            && signature.to_lowercase().contains("list-unsubscribe"),
        "{signature}"
    );
    crate::dkim::assert_verifies(&message.raw, &[("test", include_str!("fixtures/dkim-test-key.pub"))]);
    let links: Vec<&str> =
        html.match_indices("href=\"").map(|(i, _)| html[i + 6..].split('"').next().unwrap()).collect();
    let personal: Vec<&&str> = links.iter().filter(|l| l.contains("/unsubscribe/")).collect();
    assert_eq!(personal.len(), 1, "the only per-recipient link is the unsubscribe link: {links:?}");

    app.jobs_settled().await;
    assert!(app.smtp.to("quiet@example.org").is_empty(), "a member without bulletin consent gets nothing");
    let report = app.get_with(&staff, &format!("{path}/report")).await.body;
    assert!(report.contains("<strong>0</strong> failed"), "{report}");

    let archive = app.get("/archive/bulletin").await;
    assert!(archive.body.contains("Bulletin 1: spring"));
    let public = app.get("/archive/bulletin/1").await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("Peer researcher") && public.body.contains("Closes in 20 days"));
    let feed = app.client.get(app.url("/archive/bulletin/feed.atom")).send().await.unwrap();
    assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
    let feed = feed.text().await.unwrap();
    for part in [
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
        "<entry>",
        "<title>Bulletin 1: spring</title>",
        "/archive/bulletin/1</id>",
        "&#60;h2",
    ] {
        assert!(feed.contains(part), "feed lacks {part}:\n{feed}");
    }
    let sender_view = app.get(&mine).await.body;
    assert!(sender_view.contains("Accepted for issue 1"), "{sender_view}");
}

async fn with_an_ed25519_and_an_rsa_key_each_message_carries_two_signatures_that_each_verify(backend: Backend) {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let app = spawn_app_with(backend, |s| {
        s.dkim_domain = Some("example.org".into());
        s.dkim_selector = Some("rsa2026, ed2026".into());
        s.dkim_key_file = Some(format!("{fixtures}/dkim-test-key.pem,{fixtures}/dkim-test-ed25519.pem").into());
    })
    .await;
    app.add_member("Dee Reader", "dee@example.org", "member").await;
    let staff = app.staff("staff").await;
    send_one_issue(&app, &staff).await;
    let message = app.smtp.wait_for("dee@example.org", 1).await;
    let raw = String::from_utf8_lossy(&message.raw);
    // Ed25519 first (RFC 8463 receivers that know it need read no further), then RSA.
    let algorithms: Vec<&str> =
        raw.match_indices("DKIM-Signature: v=1; a=").map(|(i, _)| raw[i + 23..].split(';').next().unwrap()).collect();
    assert_eq!(algorithms, ["ed25519-sha256", "rsa-sha256"], "{raw}");
    crate::dkim::assert_verifies(
        &message.raw,
        &[
            ("rsa2026", include_str!("fixtures/dkim-test-key.pub")),
            ("ed2026", include_str!("fixtures/dkim-test-ed25519.pub")),
        ],
    );
}

async fn a_feed_reader_given_the_home_page_the_theme_or_the_archive_finds_the_feed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Reader", "reader@example.org", "member").await;
    let staff = app.staff("staff").await;
    let issue = send_one_issue(&app, &staff).await;
    settled_report(&app, issue).await;
    for page in ["/", "/knowledge", "/archive/bulletin", "/archive/bulletin/1"] {
        let html = app.get(page).await.body;
        let head = html.split("</head>").next().unwrap();
        let link = head
            .split("<link ")
            .find(|l| l.contains(r#"rel="alternate""#) && l.contains(r#"type="application/atom+xml""#))
            .unwrap_or_else(|| panic!("{page} names no Atom feed in its head:\n{head}"));
        let href = link.split(r#"href=""#).nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(href, "/archive/bulletin/feed.atom", "{page}");
        let feed = app.client.get(app.url(href)).send().await.unwrap();
        assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8", "{page}");
        assert!(feed.text().await.unwrap().contains("/archive/bulletin/1</id>"), "{page}");
    }
    let newsletter = app.get("/archive/supporters").await.body;
    assert!(
        newsletter.contains(
            r#"type="application/atom+xml" title="Supporters&#39; newsletter" href="/archive/supporters/feed.atom""#
        ),
        "{newsletter}"
    );
}

async fn the_sender_is_asked_for_a_change_resubmits_and_each_decision_is_emailed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Ola Sender", "ola@example.org", "member").await;
    app.sign_in("ola@example.org").await;
    let mine = send_item(&app, &app.client, "Craft group", "").await;
    let item = item_id(&app, "Craft group").await;
    let staff = app.staff("staff").await;
    let r = app
        .submit_with(
            &staff,
            "/staff/bulletin/guidelines",
            "/staff/bulletin/guidelines",
            &[
                ("action", "add-reply"),
                ("reply_name", "Needs a date"),
                ("reply_body", "Could you add when it happens?"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let reply: i64 =
        sqlx::query_scalar("SELECT id FROM bulletin_reply_templates").fetch_one(&app.state.db.pool).await.unwrap();
    let page = app.get_with(&staff, &format!("/staff/bulletin/items/{item}?reply={reply}")).await;
    assert!(page.body.contains(">Could you add when it happens?</textarea>"), "a saved reply starts the message");
    // Asking for a change without saying what is refused, and what was typed is kept.
    let path = format!("/staff/bulletin/items/{item}");
    let r = app.submit_with(&staff, &path, &path, &[("decision", "request_change"), ("reasoning", "kept note")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Say what needs to change") && r.body.contains(">kept note</textarea>"));
    decide(&app, &staff, item, &[("decision", "request_change"), ("message", "Could you add when it happens?")]).await;
    let asked = app.smtp.wait_for("ola@example.org", 2).await;
    assert!(
        asked.text().contains("Could you add when it happens?")
            && asked.text().contains(&format!("{}/bulletin/mine/{item}", app.base))
    );
    let view = app.get(&mine).await.body;
    assert!(view.contains("Needs a change from you") && view.contains("Could you add when it happens?"), "{view}");
    let r = app
        .submit(
            &mine,
            &mine,
            &[
                ("kind", "event"),
                ("title", "Craft group, Tuesdays at 2"),
                ("description", "Every Tuesday at 2pm."),
                ("from", "me"),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(app.get(&mine).await.body.contains("Received"));
    decide(&app, &staff, item, &[("decision", "decline"), ("message", "It is outside the area we cover this time.")])
        .await;
    let declined = app.smtp.wait_for("ola@example.org", 3).await;
    assert!(
        declined.text().contains("outside the area we cover")
            && declined.text().contains("very welcome to send other items")
    );
    let record = app.get_with(&staff, &path).await.body;
    assert!(record.contains("Asked for a change") && record.contains("Declined"), "both decisions are on the record");
    let view = app.get(&mine).await.body;
    assert!(
        view.contains("Declined") && !view.contains("<form method=\"post\" action=\"/bulletin/mine/"),
        "a decided item cannot be changed"
    );
}

async fn items_that_close_before_sending_are_left_out_and_marked_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Reader", "reader@example.org", "member").await;
    app.add_member("Sender", "sender@example.org", "member").await;
    app.sign_in("sender@example.org").await;
    let tomorrow = constellate::core::time::local_date(now() + 86_400);
    send_item(&app, &app.client, "Closing soon", &tomorrow).await;
    send_item(&app, &app.client, "Open ended", "").await;
    let staff = app.staff("staff").await;
    let issue = start_issue(&app, &staff, "1").await;
    for title in ["Closing soon", "Open ended"] {
        decide(&app, &staff, item_id(&app, title).await, &[("decision", "accept"), ("issue", &issue.to_string())])
            .await;
    }
    // The closing date passes before the issue goes out.
    sqlx::query("UPDATE bulletin_items SET closes_on = '2020-01-01' WHERE title = 'Closing soon'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let compose = app.get_with(&staff, &format!("/staff/bulletin/issues/{issue}")).await.body;
    assert!(compose.contains("Closed: it will be left out"), "{compose}");
    send_now(&app, &staff, issue).await;
    let message = app.smtp.wait_for("reader@example.org", 1).await;
    assert!(message.text().contains("Open ended") && !message.text().contains("Closing soon"));
    let status: String = sqlx::query_scalar("SELECT status FROM bulletin_items WHERE title = 'Closing soon'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "expired");
    let mine = app.get("/bulletin/mine").await.body;
    assert!(mine.contains("Closed before it could go out"), "{mine}");
}

/// Send issue 1 of the bulletin with one staff item to everyone with bulletin consent.
async fn send_one_issue(app: &TestApp, staff: &reqwest::Client) -> i64 {
    let r = app
        .submit_with(
            staff,
            "/staff/bulletin/items/new",
            "/staff/bulletin/items/new",
            &[("kind", "news"), ("title", "Network news"), ("description", "A short update.")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let issue = start_issue(app, staff, "1").await;
    send_now(app, staff, issue).await;
    issue
}

/// The send report once nothing is waiting any more.
async fn settled_report(app: &TestApp, issue: i64) -> delivery::SendReport {
    for _ in 0..600 {
        let report = delivery::report(&app.state.db, issue).await.unwrap();
        if report.waiting == 0 && report.sent + report.failed > 0 {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("issue {issue} did not finish sending within 15 s");
}

async fn opening_the_unsubscribe_link_changes_nothing_its_button_and_one_click_post_unsubscribe_and_can_be_undone(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.add_member("Una Clicker", "una@example.org", "member").await;
    app.add_member("Lin Linker", "lin@example.org", "member").await;
    let staff = app.staff("staff").await;
    send_one_issue(&app, &staff).await;
    let token_of = |m: &Received| {
        let h = header(m, "List-Unsubscribe");
        h.split("/unsubscribe/").nth(1).unwrap().split('>').next().unwrap().to_string()
    };
    // A mail program's one-click POST: no cookies, no CSRF field, just the RFC 8058 body.
    let una = token_of(&app.smtp.wait_for("una@example.org", 1).await);
    let r = reqwest::Client::new()
        .post(app.url(&format!("/unsubscribe/{una}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You have been unsubscribed"));
    // The link in the message: opening it (as mail scanners do) changes nothing; its one button
    // unsubscribes, no sign-in; the page confirms and offers to undo.
    let lin = token_of(&app.smtp.wait_for("lin@example.org", 1).await);
    let visitor = client();
    let page = app.get_with(&visitor, &format!("/unsubscribe/{lin}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Unsubscribe from the Weekly bulletin"), "{}", page.body);
    assert_eq!(latest_bulletin_consent(&app, "lin@example.org").await, 1, "opening the link unsubscribes no one");
    let r = visitor.post(app.url(&format!("/unsubscribe/{lin}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("You have been unsubscribed") && page.contains("subscribe me again"));
    for email in ["una@example.org", "lin@example.org"] {
        assert_eq!(latest_bulletin_consent(&app, email).await, 0, "{email} unsubscribed, recorded as a consent change");
    }
    let undo = format!("/unsubscribe/{lin}/undo");
    let r = visitor.post(app.url(&undo)).form(&[("_csrf", csrf_in(&page))]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("You are subscribed again"));
    // A forged or altered token does nothing.
    let forged = format!("{}x", &lin[..lin.len() - 1]);
    assert_eq!(app.get_with(&visitor, &format!("/unsubscribe/{forged}")).await.status, 404);
    let staff2 = staff.clone();
    let next = start_issue(&app, &staff2, "1").await;
    send_now(&app, &staff2, next).await;
    app.smtp.wait_for("lin@example.org", 2).await;
    app.jobs_settled().await;
    assert_eq!(app.smtp.to("una@example.org").len(), 1, "no second issue after unsubscribing");
}

/// The newest bulletin consent recorded for a member: 1 subscribed, 0 unsubscribed.
async fn latest_bulletin_consent(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT c.granted FROM consents c JOIN members m ON m.id = c.member_id WHERE m.email = $1 AND c.purpose = 'bulletin' ORDER BY c.id DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap()
}

async fn a_refused_address_is_marked_and_its_delivery_pauses_after_the_limit(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.bounce_limit = Some(2)).await;
    app.add_member("Kept", "kept@example.org", "member").await;
    // The test SMTP server refuses any address containing "nobody", as for an unknown mailbox.
    app.add_member("Gone Away", "nobody.here@example.org", "member").await;
    let staff = app.staff("staff").await;
    for n in 1..=3 {
        let issue = start_issue(&app, &staff, "1").await;
        send_now(&app, &staff, issue).await;
        app.smtp.wait_for("kept@example.org", n).await;
        let report = settled_report(&app, issue).await;
        let expected_failed = if n <= 2 { 1 } else { 0 };
        assert_eq!(report.failed, expected_failed, "issue {n}");
        if n <= 2 {
            assert!(report.failures[0].1.contains("550"), "the server's reply is kept: {:?}", report.failures);
        }
    }
    let lists = app.get_with(&staff, "/staff/lists").await.body;
    assert!(lists.contains("nobody.here@example.org") && lists.contains("Paused"), "{lists}");
    let r =
        app.submit_with(&staff, "/staff/lists", "/staff/lists/resume", &[("email", "nobody.here@example.org")]).await;
    assert_eq!(r.status, 303);
    assert!(!app.get_with(&staff, "/staff/lists").await.body.contains("nobody.here@example.org"));
}

async fn supporters_sign_up_with_only_an_email_confirm_it_and_get_the_newsletter(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.submit("/newsletter", "/newsletter", &[("email", "not-an-address")]).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Enter an email address in the correct format") && r.body.contains("value=\"not-an-address\"")
    );
    let r = app.submit("/newsletter", "/newsletter", &[("email", "Fan@Example.org"), ("list", "2")]).await;
    assert_eq!(r.location.as_deref(), Some("/newsletter/check-email"), "{}", r.body);
    let confirm = app.smtp.wait_for("fan@example.org", 1).await;
    let link = confirm.link(&format!("{}/lists/confirm/", app.base));
    let staff = app.staff("staff").await;
    // Nothing goes to an unconfirmed address.
    let issue = start_issue(&app, &staff, "2").await;
    assert_eq!(issue_store::issue(&app.state.db, issue).await.unwrap().unwrap().list_name, "Supporters' newsletter");
    let compose = app.get_with(&staff, &format!("/staff/bulletin/issues/{issue}")).await.body;
    assert!(compose.contains("Send now to 0 people"), "{compose}");
    let r = app.submit(&link, &link, &[]).await;
    assert!(r.body.contains("You are signed up"), "{}", r.body);
    send_now(&app, &staff, issue).await;
    let news = app.smtp.wait_for("fan@example.org", 2).await;
    assert!(news.text().contains("Hello,") && news.text().contains("because you signed up"));
    let token =
        header(&news, "List-Unsubscribe").split("/unsubscribe/").nth(1).unwrap().split('>').next().unwrap().to_string();
    let page = app.client.post(app.url(&format!("/unsubscribe/{token}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Delete my address now"));
    let forget = format!("/unsubscribe/{token}/forget");
    let r = app.client.post(app.url(&forget)).form(&[("_csrf", csrf_in(&page))]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Your address has been deleted"));
    let left = crate::privacy::occurrences(&app, "fan@example.org").await;
    assert!(left.is_empty(), "{left:?}");
    // Unconfirmed sign-ups are deleted after a week by housekeeping.
    app.submit("/newsletter", "/newsletter", &[("email", "later@example.org"), ("list", "2")]).await;
    app.jobs_settled().await;
    app.state.chores.run_all(&app.state, now() + 8 * 86_400).await;
    let left = crate::privacy::occurrences(&app, "later@example.org").await;
    assert!(left.is_empty(), "{left:?}");
}

async fn two_instances_sending_one_issue_send_each_recipient_one_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = constellate::server::open_state(app.state.config.clone()).await.unwrap();
    constellate::server::spawn_background(&second);
    crate::harness::add_bulletin_readers(&app, 300).await;
    let staff = app.staff("staff").await;
    let r = app
        .submit_with(
            &staff,
            "/staff/bulletin/items/new",
            "/staff/bulletin/items/new",
            &[("kind", "news"), ("title", "Both"), ("description", "Sent once.")],
        )
        .await;
    assert_eq!(r.status, 303);
    let issue = start_issue(&app, &staff, "1").await;
    // Both instances press "send now" at the same moment.
    let (a, b) = tokio::join!(
        async {
            let mut tx = app.state.db.pool.begin().await.unwrap();
            delivery::schedule(&mut tx, issue, now()).await.unwrap();
            tx.commit().await.unwrap();
            app.state.jobs_waiting.notify_one();
        },
        async {
            let mut tx = second.db.pool.begin().await.unwrap();
            delivery::schedule(&mut tx, issue, now()).await.unwrap();
            tx.commit().await.unwrap();
            second.jobs_waiting.notify_one();
        }
    );
    let _ = (a, b);
    let expected = 301; // the readers and the staff member, who has bulletin consent too
                        // Wait for the fan-out, then for every message.
    while delivery::report(&app.state.db, issue).await.unwrap().sent == 0 {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.jobs_settled().await;
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for m in app.smtp.all().iter().filter(|m| m.subject() == "Weekly bulletin 1") {
        *per_recipient.entry(m.to[0].clone()).or_default() += 1;
    }
    assert_eq!(per_recipient.len(), expected);
    assert!(per_recipient.values().all(|n| *n == 1), "someone got the issue twice");
}

async fn bad_input_is_answered_with_errors_and_nothing_is_lost(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Tess Typer", "tess@example.org", "member").await;
    app.sign_in("tess@example.org").await;
    let long = "x".repeat(1300);
    let r = app
        .submit(
            "/bulletin/submit",
            "/bulletin/submit",
            &[
                ("kind", ""),
                ("title", "Kept title"),
                ("description", &long),
                ("link", "not a link"),
                ("closes_on", "2020-01-01"),
                ("from", "group-999"),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    for message in [
        "Choose what kind of item this is",
        "Description must be 1200 characters or fewer (it has 1300)",
        "Enter a web address",
        "The closing date has passed",
        "Choose yourself or a group you are a contact for",
    ] {
        assert!(r.body.contains(message), "missing: {message}");
    }
    assert!(
        r.body.contains("value=\"Kept title\"") && r.body.contains("value=\"not a link\""),
        "what was typed is kept"
    );
    // Saving a half-finished draft keeps it, and staff do not see drafts.
    let r = app.submit("/bulletin/submit", "/bulletin/submit", &[("title", "Half done"), ("action", "save")]).await;
    assert_eq!(r.status, 303);
    let draft = app.get(&r.location.unwrap()).await.body;
    assert!(draft.contains("Saved, not sent yet") && draft.contains("value=\"Half done\""));
    let staff = app.staff("staff").await;
    let queue = app.get_with(&staff, "/staff/bulletin?status=received").await.body;
    assert!(!queue.contains("Half done"));
    // Nonsense in filters and paths is tolerated.
    assert_eq!(app.get_with(&staff, "/staff/bulletin?page=-3&kind=zzz&closing=yes").await.status, 200);
    assert_eq!(app.get("/archive/bulletin/notanumber").await.status, 404);
    assert_eq!(app.get("/archive/nolist").await.status, 404);
    let path = "/staff/bulletin/issues/999999";
    assert_eq!(app.get_with(&staff, path).await.status, 404);
    // Someone else's item is not found, not forbidden: its existence is private.
    let other = app.add_member("Other", "other@example.org", "member").await;
    let _ = other;
    let id: i64 = sqlx::query_scalar("SELECT id FROM bulletin_items WHERE title = 'Half done'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let stranger = client();
    app.sign_in_with(&stranger, "other@example.org").await;
    assert_eq!(app.get_with(&stranger, &format!("/bulletin/mine/{id}")).await.status, 404);
    // Open submissions are off unless configured.
    assert_eq!(app.get_with(&client(), "/bulletin/send").await.status, 404);
}

async fn erasing_a_member_removes_their_bulletin_data_everywhere(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.bounce_limit = Some(1)).await;
    let id = app.add_member("Zelda Quorn", "nobody.zelda@example.org", "member").await;
    let zelda = app.client_signed_in_as(id).await;
    send_item(&app, &zelda, "Zelda's unsent item", "").await;
    let staff = app.staff("staff").await;
    let issue = send_one_issue(&app, &staff).await;
    assert_eq!(settled_report(&app, issue).await.failed, 1);
    app.submit("/newsletter", "/newsletter", &[("email", "nobody.zelda@example.org"), ("list", "2")]).await;
    let export: serde_json::Value = zelda.get(app.url("/me/export")).send().await.unwrap().json().await.unwrap();
    assert_eq!(export["bulletin"]["items_sent"][0]["title"], "Zelda's unsent item");
    assert_eq!(export["bulletin"]["delivery_failures"]["permanent_failures"], 1);
    constellate::features::members::account::erase_member(&app.state, id).await.unwrap();
    for needle in ["nobody.zelda@example.org", "Zelda Quorn", "Zelda's unsent item"] {
        let left = crate::privacy::occurrences(&app, needle).await;
        assert!(left.is_empty(), "{needle} remains: {left:?}");
    }
}
