//! The finished interface: every error a page (or problem details for a program), groups that
//! can be written to without showing anyone's address, sections every area has a place in, a
//! staff workspace of queues and a person search, confirmations before what cannot be undone,
//! and compressed responses.
use std::io::Read;

use crate::harness::{spawn_app, Backend};

crate::on_both_databases!(
    every_error_is_a_page_in_the_layout_for_whoever_is_signed_in_or_problem_details_for_a_program,
    a_group_is_written_to_through_a_form_and_its_contacts_are_named_only_as_they_allow,
    every_public_area_is_reached_from_the_home_page_through_the_four_themes,
    the_staff_start_page_lists_what_is_waiting_and_the_person_search_finds_everything_held,
    sending_an_issue_now_asks_first_and_sends_nothing_until_confirmed,
    pages_and_files_are_compressed_when_asked_and_static_files_are_kept_for_a_year,
);

async fn every_error_is_a_page_in_the_layout_for_whoever_is_signed_in_or_problem_details_for_a_program(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    for (path, status, said) in [
        ("/groups?page=abc", 400, "Something in that address was not right"),
        ("/grants/rounds/abc", 400, "Something in that address was not right"),
        ("/no/such/page", 404, "Page not found"),
        ("/sign-out", 405, "That cannot be done at this address"),
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert!(page.body.starts_with("<!DOCTYPE html>") && page.body.contains("<html lang=\"en-GB\">"), "{path}");
        assert!(page.body.contains(&format!("<h1>{said}</h1>")), "{path}: {}", page.body);
        assert!(page.body.contains(&format!("<title>{said} – ")), "{path}");
        for internal in ["Failed to deserialize", "Cannot parse", "invalid digit"] {
            assert!(!page.body.contains(internal), "{path} shows the framework's words");
        }
    }
    // Signed in, the page knows who: their links, not "Join" and "Sign in".
    let id = app.add_member("Noor", "noor@example.org", "member").await;
    let member = app.client_signed_in_as(id).await;
    let missing = app.get_with(&member, "/no/such/page").await.body;
    assert!(
        missing.contains("Your account") && missing.contains("Sign out") && !missing.contains(">Join<"),
        "{missing}"
    );
    // A program that asks for JSON gets RFC 9457 problem details.
    for (path, status) in [("/no/such/page", 404), ("/groups?page=abc", 400), ("/me", 401), ("/staff", 401)] {
        let r = app.client.get(app.url(path)).header("accept", "application/json").send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert_eq!(problem["status"], status);
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()) && problem["detail"].is_string());
    }
}

async fn a_group_is_written_to_through_a_form_and_its_contacts_are_named_only_as_they_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let open = app.add_member("Open Olu", "olu@example.org", "member").await;
    let private = app.add_member("Private Pia", "pia@example.org", "member").await;
    sqlx::query("UPDATE members SET visibility = 'public' WHERE id = $1")
        .bind(open)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE members SET visibility = 'private' WHERE id = $1")
        .bind(private)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ('Walkers', 'We walk.', NULL, 1, 'public', 1, 1) RETURNING id",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    for m in [open, private] {
        sqlx::query("INSERT INTO group_contacts (group_id, member_id, added_at) VALUES ($1, $2, 1)")
            .bind(group)
            .bind(m)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
    }
    let page = app.get(&format!("/groups/{group}")).await.body;
    assert!(page.contains(&format!("<a href=\"/members/{open}\">Open Olu</a>")), "{page}");
    assert!(!page.contains("Private Pia") && !page.contains(&format!("/members/{private}")), "{page}");
    assert!(page.contains("1 more who keeps their profile private"));
    // Every link on the page works for a visitor.
    assert_eq!(app.get(&format!("/members/{open}")).await.status, 200);

    let form = format!("/groups/{group}/message");
    let r = app.submit(&form, &form, &[("name", "Sam"), ("email", "not an address"), ("message", "")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Write your message") && r.body.contains("value=\"not an address\""));
    let r = app
        .submit(
            &form,
            &form,
            &[("name", "Sam Visitor"), ("email", "sam@example.net"), ("message", "Can I join a walk?")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Your message has been sent"));
    for to in ["olu@example.org", "pia@example.org"] {
        let mail = app.smtp.wait_for(to, 1).await;
        assert!(mail.text().contains("Can I join a walk?") && mail.text().contains("Sam Visitor"));
        assert_eq!(mail.parsed().reply_to().and_then(|r| r.first()).and_then(|a| a.address()), Some("sam@example.net"));
        assert!(!mail.text().contains("olu@example.org") && !mail.text().contains("pia@example.org"));
    }
    // The sender never learns an address, and a flood is stopped.
    assert!(!r.body.contains("@example.org"));
    let limited = crate::harness::spawn_app_with(backend, |s| s.rate_limit_per_ip = Some(1)).await;
    let g: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ('Walkers', 'We walk.', NULL, 1, 'public', 1, 1) RETURNING id",
    )
    .fetch_one(&limited.state.db.pool)
    .await
    .unwrap();
    let form = format!("/groups/{g}/message");
    let fields = [("name", "Spam"), ("email", "spam@example.net"), ("message", "Buy now")];
    assert_eq!(limited.submit(&form, &form, &fields).await.status, 200);
    assert_eq!(limited.submit(&form, &form, &fields).await.status, 429);
}

async fn every_public_area_is_reached_from_the_home_page_through_the_four_themes(backend: Backend) {
    let app = spawn_app(backend).await;
    let home = app.get("/").await.body;
    for (theme, area) in [
        ("/knowledge", "/archive/bulletin"),
        ("/collaboration", "/groups"),
        ("/voice", "/letters"),
        ("/resourcing", "/grants"),
    ] {
        assert!(home.contains(&format!("href=\"{theme}\"")), "the header links {theme}");
        assert!(home.contains(&format!("href=\"{area}\"")), "the home page links {area}");
        let page = app.get(theme).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!("href=\"{area}\"")), "{theme} links {area}");
        assert!(
            page.body.contains(&format!("href=\"{theme}\" aria-current=\"page\"")),
            "{theme} is marked as where you are"
        );
        assert_eq!(app.get(area).await.status, 200, "{area}");
    }
}

async fn the_staff_start_page_lists_what_is_waiting_and_the_person_search_finds_everything_held(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let clear = app.get_with(&staff, "/staff").await.body;
    assert!(clear.contains("Nothing is waiting"), "{clear}");
    assert!(clear.contains("aria-label=\"Staff areas\""), "the staff areas, on every staff page");
    // A member waiting for review, and an email that could not be sent to them.
    let id = app.add_member("Ira Waiting", "ira@example.org", "member").await;
    sqlx::query("UPDATE members SET status = 'pending', updated_at = $1 WHERE id = $2")
        .bind(constellate::core::time::now() - 3 * 86_400)
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO jobs (kind, payload, member_id, status, attempts, max_attempts, run_at, created_at, updated_at, last_error) \
         VALUES ('mail', '{\"to\":\"ira@example.org\",\"subject\":\"Your sign-in link\",\"text\":\"x\"}', NULL, 'failed', 6, 6, 1, 1, $1, '550 no such mailbox')",
    )
    .bind(constellate::core::time::now() - 7200)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let home = app.get_with(&staff, "/staff").await.body;
    assert!(home.contains("href=\"/staff/members?status=pending\"><strong>1</strong> members to review</a>"), "{home}");
    assert!(home.contains("the oldest has waited 3 days"));
    assert!(
        home.contains("<strong>1</strong> emails that could not be sent")
            && home.contains("the oldest has waited 2 hours")
    );
    let mail = app.get_with(&staff, "/staff/mail").await.body;
    assert!(
        mail.contains("ira@example.org") && mail.contains("550 no such mailbox") && mail.contains("Your sign-in link")
    );
    let job: i64 =
        sqlx::query_scalar("SELECT id FROM jobs WHERE status = 'failed'").fetch_one(&app.state.db.pool).await.unwrap();
    let r = app.submit_with(&staff, "/staff/mail", &format!("/staff/mail/{job}/retry"), &[]).await;
    assert_eq!(r.status, 303);
    let _ = app.smtp.wait_for("ira@example.org", 1).await;

    // The person search finds them by name or address, and shows everything held, area by area.
    let found = app.get_with(&staff, "/staff/people?q=Ira").await.body;
    assert!(found.contains(&format!("href=\"/staff/people/{id}\">Ira Waiting</a>")), "{found}");
    let held = app.get_with(&staff, &format!("/staff/people/{id}")).await.body;
    assert!(held.contains("Profile: Ira Waiting, ira@example.org") && held.contains("<h2>Voice</h2>"), "{held}");
    // An address that is not a member's: a signer.
    sqlx::query(
        "INSERT INTO letters (slug, kind, title, body, addressee, published_with, status, created_at, updated_at) \
         VALUES ('l', 'letter', 'Keep it open', 'b', 'a', 'p', 'open', 1, 1)",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO letter_signatures (letter_id, email, name, display, wants_updates, created_at, confirmed_at) \
         SELECT id, 'signer@example.net', 'A Signer', 'full', 0, 1, 1 FROM letters",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let found = app.get_with(&staff, "/staff/people?q=signer%40example.net").await.body;
    assert!(found.contains("/staff/people/address?email=signer%40example.net"), "{found}");
    let held = app.get_with(&staff, "/staff/people/address?email=signer%40example.net").await.body;
    assert!(held.contains("Signed “Keep it open” (confirmed)"), "{held}");
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE detail LIKE 'searched for a person' OR detail LIKE 'viewed everything held%'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(audited, 4, "every search and every look is in the audit log");
}

async fn sending_an_issue_now_asks_first_and_sends_nothing_until_confirmed(backend: Backend) {
    let app = spawn_app(backend).await;
    // Three readers, and the staff member, who chose the bulletin too.
    crate::harness::add_bulletin_readers(&app, 3).await;
    let staff = app.staff("staff").await;
    let r = app.submit_with(&staff, "/staff/bulletin/issues", "/staff/bulletin/issues", &[("list", "1")]).await;
    let issue = r.created_id();
    let path = format!("/staff/bulletin/issues/{issue}");
    let r = app.submit_with(&staff, &path, &format!("{path}/schedule"), &[("when", "now")]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("Send issue 1 now?")
            && r.body.contains("to 4 people now")
            && r.body.contains("cannot be recalled"),
        "{}",
        r.body
    );
    assert!(r.body.contains("class=\"button warning\""));
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'bulletin_issue'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "nothing happens until confirmed");
    let r = app.submit_with(&staff, &path, &format!("{path}/schedule"), &[("when", "now"), ("confirmed", "yes")]).await;
    assert_eq!(r.status, 303);
    app.smtp.wait_for("reader0@example.net", 1).await;
}

async fn pages_and_files_are_compressed_when_asked_and_static_files_are_kept_for_a_year(backend: Backend) {
    let app = spawn_app(backend).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: &str, accept: &str| plain.get(app.url(path)).header("accept-encoding", accept).send();
    let identity = get("/", "identity").await.unwrap();
    assert!(identity.headers().get("content-encoding").is_none());
    assert!(identity.headers()["vary"].to_str().unwrap().contains("accept-encoding"));
    let page = identity.text().await.unwrap();
    let br = get("/", "gzip, deflate, br").await.unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    let bytes = br.bytes().await.unwrap();
    let mut back = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut back).unwrap();
    assert_eq!(String::from_utf8(back).unwrap(), page);
    assert!(bytes.len() * 2 < page.len(), "{} bytes compressed from {}", bytes.len(), page.len());
    let gz = get("/", "gzip").await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let mut back = String::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..]).read_to_string(&mut back).unwrap();
    assert_eq!(back, page);
    // Static files: compressed at build time, and kept a year at the URL the pages use.
    let css_url = page.split("href=\"/static/site.css").nth(1).unwrap().split('"').next().unwrap();
    let css = get(&format!("/static/site.css{css_url}"), "br").await.unwrap();
    assert_eq!(css.headers()["content-encoding"], "br");
    assert_eq!(css.headers()["cache-control"], "public, max-age=31536000, immutable");
    let old = get("/static/site.css?v=old", "identity").await.unwrap();
    assert_eq!(old.headers()["cache-control"], "public, max-age=300");
    assert!(old.text().await.unwrap().contains("font-family"));
}
