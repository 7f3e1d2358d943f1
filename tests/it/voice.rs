//! Voice: letters signed and confirmed through a real SMTP server, duplicates, expiry, display
//! choices, co-signing, updates, deleting signer emails; support requests through every triage
//! path with the requester's email read; many concurrent signatures from one address.
use std::sync::Arc;

use constellate::{
    core::{mail::Email, time::now},
    features::voice::{
        domain::SignatureInput,
        writer::{Outcome, Signatures, Submission},
    },
};

use crate::harness::{client, spawn_app, spawn_app_with, Backend, TestApp};

crate::on_both_databases!(
    a_visitor_signs_confirms_by_email_and_is_counted_once,
    display_choices_hold_on_the_public_page_in_the_csv_and_on_the_printable_list,
    unconfirmed_signatures_expire_after_seven_days,
    a_group_contact_co_signs_in_one_click_and_staff_add_an_outside_organisation,
    updates_reach_only_confirmed_signers_who_asked_for_them,
    signer_emails_are_deleted_after_closing_unless_kept_for_updates_or_membership,
    bad_input_is_answered_with_errors_and_keeps_what_was_typed,
    every_triage_path_answers_the_requester_by_email,
    unanswered_requests_are_flagged_and_taken_on_campaigns_keep_a_narrative_record,
    erasing_a_member_removes_their_signatures_and_requests,
    many_concurrent_signatures_from_one_address_make_one_row_even_across_instances,
    staff_find_and_remove_an_abusive_signature_and_the_count_follows,
    the_next_signer_after_an_erased_one_gets_a_new_id_and_their_confirmation,
);

/// Staff write a letter through the form; returns (id, slug).
async fn new_letter(app: &TestApp, staff: &reqwest::Client, title: &str, goal: &str) -> (i64, String) {
    let r = app
        .submit_with(
            staff,
            "/staff/letters/new",
            "/staff/letters/new",
            &[
                ("kind", if goal.is_empty() { "letter" } else { "petition" }),
                ("title", title),
                ("body", "We ask you to **keep** the day centres open."),
                ("addressee", "The Minister for Care"),
                ("goal", goal),
                ("published_with", "Kent Peer Network"),
                ("status", "open"),
                ("confirmed", "yes"),
                ("closes_on", ""),
            ],
        )
        .await;
    let id = r.created_id();
    let slug = sqlx::query_scalar("SELECT slug FROM letters WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    (id, slug)
}

/// Sign as a visitor with a fresh browser; returns where the form sent them.
async fn sign(app: &TestApp, slug: &str, name: &str, email: &str, display: &str, extra: &[(&str, &str)]) -> String {
    let browser = client();
    let page = format!("/letters/{slug}");
    let mut fields = vec![("name", name), ("email", email), ("display", display)];
    fields.extend_from_slice(extra);
    let r = app.submit_with(&browser, &page, &format!("{page}/sign"), &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location.unwrap()
}

/// Open the emailed confirmation link and press its button.
async fn confirm(app: &TestApp, email: &str, nth: usize) {
    let mail = app.smtp.wait_for(email, nth).await;
    let link = mail.link(&format!("{}/signatures/confirm/", app.base));
    let browser = client();
    let r = app.submit_with(&browser, &link, &link, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn rows(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.db.pool).await.unwrap()
}

async fn a_visitor_signs_confirms_by_email_and_is_counted_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, slug) = new_letter(&app, &staff, "Keep the day centres open", "200").await;
    let public = app.get(&format!("/letters/{slug}")).await;
    assert!(
        public.body.contains("<h1>Keep the day centres open</h1>") && public.body.contains("<strong>keep</strong>")
    );
    assert!(public.body.contains("0 signatures") && public.body.contains("value=\"0\""), "{}", public.body);

    let to = sign(&app, &slug, "Alex Rivera", "Alex@Example.org", "initials", &[("updates", "yes")]).await;
    assert_eq!(to, format!("/letters/{slug}/check-email"));
    assert!(app.get(&to).await.body.contains("Check your email"));
    let mail = app.smtp.wait_for("alex@example.org", 1).await;
    assert!(mail.subject().contains("Confirm your signature"));
    // Not counted until confirmed.
    assert!(app.get(&format!("/letters/{slug}")).await.body.contains("0 signatures"));

    // Signing again the same day gets the same answer as a first signature (nobody can learn
    // from the page whether an address signed), never a second row, and no second email: the
    // confirmation is already on its way.
    let again = sign(&app, &slug, "Alex R", "alex@example.org", "full", &[]).await;
    assert_eq!(again, format!("/letters/{slug}/check-email"));

    let link = mail.link(&format!("{}/signatures/confirm/", app.base));
    let browser = client();
    assert!(app.get_with(&browser, &link).await.body.contains("Confirm my signature"));
    let r = app.submit_with(&browser, &link, &link, &[]).await;
    assert_eq!(r.location.as_deref(), Some(format!("/letters/{slug}").as_str()));
    let page = app.get_with(&browser, &format!("/letters/{slug}")).await;
    assert!(page.body.contains("your signature is confirmed"), "{}", page.body);
    assert!(page.body.contains("1 signature<") && page.body.contains("<strong>A. R.</strong>"), "{}", page.body);
    assert!(!page.body.contains("Alex Rivera") && !page.body.contains("alex@example.org"));
    assert!(page.body.contains("value=\"0\""), "1 of 200 rounds down to 0%");

    // The link is spent; signing again after confirming is still one row, the same answer, and
    // the address's owner (not the person at the form) is told it had signed: once a day.
    assert_eq!(app.get(&link).await.status, 404);
    for _ in 0..3 {
        let after = sign(&app, &slug, "Alex Rivera", "alex@example.org", "initials", &[]).await;
        assert_eq!(after, format!("/letters/{slug}/check-email"));
    }
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 1);
    app.jobs_settled().await;
    let mails = app.smtp.to("alex@example.org");
    assert_eq!(mails.len(), 2, "the confirmation and one notice");
    assert!(mails[1].subject().contains("You have already signed"), "{}", mails[1].subject());
    assert!(mails[1].text().contains("nothing was added"));
}

async fn display_choices_hold_on_the_public_page_in_the_csv_and_on_the_printable_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (id, slug) = new_letter(&app, &staff, "Fund peer support", "").await;
    let org = [("organisation", "Mind Kent"), ("role", "Chair"), ("place", "Dover"), ("comment", "It saved me")];
    sign(&app, &slug, "Fatima Khan", "fatima@example.org", "full", &org).await;
    sign(&app, &slug, "Ben Ode", "ben@example.org", "initials", &org).await;
    sign(&app, &slug, "Hidden Person", "hidden@example.org", "hidden", &org).await;
    for email in ["fatima@example.org", "ben@example.org", "hidden@example.org"] {
        confirm(&app, email, 1).await;
    }
    let page = app.get(&format!("/letters/{slug}")).await.body;
    assert!(page.contains("3 signatures"));
    assert!(page.contains("<strong>Fatima Khan</strong>, Chair, Mind Kent (Dover)") && page.contains("It saved me"));
    assert!(page.contains("<strong>B. O.</strong></li>"), "{page}");
    assert!(!page.contains("Ben Ode") && !page.contains("Hidden Person"));
    assert!(page.contains("And 1 person who chose not to be named."));

    let csv =
        staff.get(app.url(&format!("/staff/letters/{id}/signatories.csv"))).send().await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // A BOM first, so a spreadsheet reads accented names correctly.
    assert_eq!(lines[0], "\u{feff}Name,Role,Organisation,Town or region,Comment,Confirmed on");
    assert!(lines[1].starts_with("Fatima Khan,Chair,Mind Kent,Dover,It saved me,"));
    assert!(lines[2].starts_with("B. O.,,,,,") && lines[3].starts_with("(name not shown),,,,,"), "{csv}");
    assert!(!csv.contains("Ben Ode") && !csv.contains("Hidden") && !csv.contains("@"));

    let print = app.get_with(&staff, &format!("/staff/letters/{id}/print")).await.body;
    assert!(print.contains("Signatories (3)") && print.contains("Fatima Khan") && print.contains("B. O."));
    assert!(!print.contains("Ben Ode") && !print.contains("Hidden Person"));
}

async fn unconfirmed_signatures_expire_after_seven_days(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, slug) = new_letter(&app, &staff, "Expiry letter", "").await;
    sign(&app, &slug, "Never Confirms", "never@example.org", "full", &[]).await;
    sign(&app, &slug, "Does Confirm", "does@example.org", "full", &[]).await;
    confirm(&app, "does@example.org", 1).await;
    app.state.chores.run_all(&app.state, now() + 6 * 86_400).await;
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 2);
    let done = app.state.chores.run_all(&app.state, now() + 8 * 86_400).await;
    assert!(done.contains(&("unconfirmed letter signatures", 1)), "{done:?}");
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE email = 'never@example.org'").await, 0);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE email = 'does@example.org'").await, 1);
    // The spent link of the deleted signature no longer works, and they may sign afresh.
    let link = app.smtp.wait_for("never@example.org", 1).await.link(&format!("{}/signatures/confirm/", app.base));
    assert_eq!(app.get(&link).await.status, 404);
    assert_eq!(
        sign(&app, &slug, "Never Confirms", "never@example.org", "full", &[]).await,
        format!("/letters/{slug}/check-email")
    );
}

async fn a_group_contact_co_signs_in_one_click_and_staff_add_an_outside_organisation(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (id, slug) = new_letter(&app, &staff, "Cosign letter", "").await;
    let contact = app.add_member("Gwen Contact", "gwen@example.org", "member").await;
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ('Medway Voices', 'We meet.', NULL, 1, 'public', 1, 1) RETURNING id",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    constellate::features::groups::store::add_contact(&mut conn, group, contact, 1).await.unwrap();
    drop(conn);
    let gwen = app.client_signed_in_as(contact).await;
    let page = app.get_with(&gwen, &format!("/letters/{slug}")).await;
    assert!(page.body.contains("Co-sign on behalf of Medway Voices"));
    // A member who is not the group's contact cannot co-sign for it.
    let other = app.add_member("Other Member", "other@example.org", "member").await;
    let other = app.client_signed_in_as(other).await;
    let r = app
        .submit_with(
            &other,
            &format!("/letters/{slug}"),
            &format!("/letters/{slug}/cosign"),
            &[("group", &group.to_string())],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .submit_with(
            &gwen,
            &format!("/letters/{slug}"),
            &format!("/letters/{slug}/cosign"),
            &[("group", &group.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let path = format!("/staff/letters/{id}");
    let r = app.submit_with(&staff, &path, &format!("{path}/organisations"), &[("organisation", "Carers UK")]).await;
    assert_eq!(r.status, 303);
    let page = app.get_with(&gwen, &format!("/letters/{slug}")).await.body;
    assert!(!page.contains("Co-sign on behalf of"), "already co-signed");
    let orgs = page.split("id=\"organisations\"").nth(1).unwrap().split("id=\"signatories\"").next().unwrap();
    assert!(orgs.contains("<li>Medway Voices</li>") && orgs.contains("<li>Carers UK</li>"));
    assert!(page.contains("No confirmed signatures yet."), "organisations are listed apart from individuals");
}

async fn updates_reach_only_confirmed_signers_who_asked_for_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (id, slug) = new_letter(&app, &staff, "Updates letter", "").await;
    sign(&app, &slug, "Wants News", "wants@example.org", "full", &[("updates", "yes")]).await;
    sign(&app, &slug, "No News", "nonews@example.org", "full", &[]).await;
    sign(&app, &slug, "Unconfirmed News", "unconfirmed@example.org", "full", &[("updates", "yes")]).await;
    confirm(&app, "wants@example.org", 1).await;
    confirm(&app, "nonews@example.org", 1).await;
    let path = format!("/staff/letters/{id}");
    let r = app.submit_with(&staff, &path, &format!("{path}/updates"), &[("update", "")]).await;
    assert_eq!(r.status, 422);
    let r = app
        .submit_with(
            &staff,
            &path,
            &format!("{path}/updates"),
            &[("update", "We delivered it to the Minister today."), ("confirmed", "yes")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mail = app.smtp.wait_for("wants@example.org", 2).await;
    assert!(
        mail.subject().starts_with("What happened next")
            && mail.text().contains("We delivered it to the Minister today.")
    );
    app.jobs_settled().await;
    assert_eq!(app.smtp.to("nonews@example.org").len(), 1, "only the confirmation");
    assert_eq!(app.smtp.to("unconfirmed@example.org").len(), 1, "only the confirmation");
    assert!(app.get_with(&staff, &path).await.body.contains("sent to 1: We delivered it"));
    // One job per signer who asked, made into an email only when it is sent.
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'voice-update'").await, 1);

    // A link that has been tampered with says so and changes nothing.
    let stop = mail.link(&format!("{}/signatures/updates-off/", app.base));
    let browser = client();
    let tampered = format!("{}X", stop.trim_end_matches(|c: char| c != '.'));
    let page = app.get_with(&browser, &tampered).await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("This link is not valid") && !page.body.contains("no more updates"), "{}", page.body);
    let r = app.submit_with(&browser, &stop, &tampered, &[]).await;
    assert!(r.body.contains("This link is not valid"), "{}", r.body);
    assert_eq!(
        rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE wants_updates = 1").await,
        2,
        "nothing changed"
    );

    // The link in the update stops further updates (after pressing its button).
    assert!(app.get_with(&browser, &stop).await.body.contains("Stop updates about a letter"));
    let r = app.submit_with(&browser, &stop, &stop, &[]).await;
    assert!(r.body.contains("You will get no more updates"), "{}", r.body);
    let r = app
        .submit_with(&staff, &path, &format!("{path}/updates"), &[("update", "A second update."), ("confirmed", "yes")])
        .await;
    assert_eq!(r.status, 303);
    app.jobs_settled().await;
    assert_eq!(app.smtp.to("wants@example.org").len(), 2, "no second update");
}

async fn signer_emails_are_deleted_after_closing_unless_kept_for_updates_or_membership(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.signer_email_days = Some(10)).await;
    let staff = app.staff("staff").await;
    let (id, slug) = new_letter(&app, &staff, "Closing letter", "").await;
    app.add_member("Mo Member", "mo@example.org", "member").await;
    sign(&app, &slug, "Plain Signer", "plain@example.org", "full", &[]).await;
    sign(&app, &slug, "Update Signer", "update@example.org", "full", &[("updates", "yes")]).await;
    sign(&app, &slug, "Mo Member", "mo@example.org", "full", &[]).await;
    for email in ["plain@example.org", "update@example.org", "mo@example.org"] {
        confirm(&app, email, 1).await;
    }
    let path = format!("/staff/letters/{id}");
    let r = app
        .submit_with(
            &staff,
            &path,
            &path,
            &[
                ("kind", "letter"),
                ("title", "Closing letter"),
                ("body", "Text"),
                ("addressee", "The Minister"),
                ("goal", ""),
                ("published_with", "Kent Peer Network"),
                ("status", "closed"),
                ("closes_on", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Closed: no more signatures.
    let browser = client();
    let r = app
        .submit_with(
            &browser,
            "/newsletter",
            &format!("/letters/{slug}/sign"),
            &[("name", "Late"), ("email", "late@example.org"), ("display", "full")],
        )
        .await;
    assert!(r.body.contains("no longer taking signatures"), "{}", r.body);
    app.state.chores.run_all(&app.state, now() + 9 * 86_400).await;
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE email IS NULL").await, 0);
    app.state.chores.run_all(&app.state, now() + 11 * 86_400).await;
    let left: Vec<String> =
        sqlx::query_scalar("SELECT email FROM letter_signatures WHERE email IS NOT NULL ORDER BY email")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(left, vec!["mo@example.org", "update@example.org"]);
    assert!(crate::privacy::occurrences(&app, "plain@example.org").await.is_empty());
    // The signature itself still counts and shows.
    let page = app.get(&format!("/letters/{slug}")).await.body;
    assert!(page.contains("3 signatures") && page.contains("Plain Signer"));

    // A letter with a closing date closes by itself once the date has passed.
    let (dated, _) = new_letter(&app, &staff, "Dated letter", "").await;
    let today = constellate::core::time::local_date(now());
    sqlx::query("UPDATE letters SET closes_on = $1 WHERE id = $2")
        .bind(&today)
        .bind(dated)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    app.state.chores.run_all(&app.state, now()).await;
    let status = |id: i64| {
        sqlx::query_scalar::<_, String>("SELECT status FROM letters WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
    };
    assert_eq!(status(dated).await.unwrap(), "open", "open through its closing date");
    let done = app.state.chores.run_all(&app.state, now() + 2 * 86_400).await;
    assert!(done.contains(&("letters past their closing date", 1)), "{done:?}");
    assert_eq!(status(dated).await.unwrap(), "closed");
}

async fn bad_input_is_answered_with_errors_and_keeps_what_was_typed(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.sign_limit_per_ip = Some(2)).await;
    let staff = app.staff("staff").await;
    let r = app
        .submit_with(
            &staff,
            "/staff/letters/new",
            "/staff/letters/new",
            &[("title", "Half a letter"), ("goal", "lots")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("There is a problem")
            && r.body.contains("value=\"Half a letter\"")
            && r.body.contains("whole number")
    );
    let (_, slug) = new_letter(&app, &staff, "Validation letter", "").await;
    let browser = client();
    let page = format!("/letters/{slug}");
    let r = app
        .submit_with(
            &browser,
            &page,
            &format!("{page}/sign"),
            &[("name", "Typed Name"), ("email", "not-an-email"), ("comment", &"x".repeat(501))],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("<title>Error:") && r.body.contains("value=\"Typed Name\""));
    assert!(
        r.body.contains("correct format")
            && r.body.contains("Choose how your name is shown")
            && r.body.contains("500 characters")
    );
    // The honeypot: thanked, nothing kept, nothing sent.
    let r = app
        .submit_with(
            &browser,
            &page,
            &format!("{page}/sign"),
            &[("name", "Bot"), ("email", "bot@example.org"), ("display", "full"), ("website", "http://spam")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 0);
    // The per-address limit (kept in memory only) turns away the third signature from here.
    sign(&app, &slug, "One", "one@example.org", "full", &[]).await;
    sign(&app, &slug, "Two", "two@example.org", "full", &[]).await;
    let r = app
        .submit_with(
            &browser,
            &page,
            &format!("{page}/sign"),
            &[("name", "Three"), ("email", "three@example.org"), ("display", "full")],
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 2);
    // Drafts and unknown letters are not public.
    assert_eq!(app.get("/letters/no-such-letter").await.status, 404);
    sqlx::query("UPDATE letters SET status = 'draft'").execute(&app.state.db.pool).await.unwrap();
    assert_eq!(app.get(&page).await.status, 404);
    assert!(!app.get("/letters").await.body.contains("Validation letter"));
    // A member's support request with nothing chosen.
    let member = app.add_member("Rae Requester", "rae@example.org", "member").await;
    let rae = app.client_signed_in_as(member).await;
    let r = app.submit_with(&rae, "/support", "/support", &[("title", "Kept title"), ("from", "me")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("value=\"Kept title\"") && r.body.contains("Choose at least one thing"));
}

/// A member sends a support request; returns its id.
async fn send_request(app: &TestApp, member: &reqwest::Client, title: &str) -> i64 {
    let r = app
        .submit_with(
            member,
            "/support",
            "/support",
            &[
                ("title", title),
                ("description", "The council plans to close three day centres."),
                ("asks", "amplify"),
                ("asks", "letter"),
                ("deadline", "2030-01-31"),
                ("from", "me"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    sqlx::query_scalar("SELECT id FROM support_requests WHERE title = $1")
        .bind(title)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn triage(app: &TestApp, staff: &reqwest::Client, id: i64, fields: &[(&str, &str)]) -> crate::harness::Page {
    let path = format!("/staff/support/{id}");
    app.submit_with(staff, &path, &path, fields).await
}

const MATRIX_YES: [(&str, &str); 8] = [
    ("q1", "yes"),
    ("note1", "Nobody is harmed"),
    ("q2", "yes"),
    ("note2", "Consultation open"),
    ("q3", "unsure"),
    ("note3", "Depends on the council"),
    ("q4", "no"),
    ("note4", ""),
];

async fn every_triage_path_answers_the_requester_by_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let member = app.add_member("Rae Requester", "rae@example.org", "member").await;
    let rae = app.client_signed_in_as(member).await;
    let first = send_request(&app, &rae, "Day centre closures").await;
    let mine = app.get_with(&rae, "/support/mine").await.body;
    assert!(mine.contains("Day centre closures") && mine.contains("<strong>New</strong>"));

    // Considering: an acknowledgement by email.
    let r = triage(&app, &staff, first, &[("status", "considering")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mail = app.smtp.wait_for("rae@example.org", 1).await;
    assert!(mail.subject().contains("Considering") && mail.text().contains("We are considering your request"));

    // Deciding needs the whole matrix.
    let r = triage(&app, &staff, first, &[("status", "taking_on"), ("q1", "yes")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Answer question 2 before deciding"));
    let mut fields = MATRIX_YES.to_vec();
    fields.extend([("status", "taking_on"), ("message", "We will host an open letter.")]);
    assert_eq!(triage(&app, &staff, first, &fields).await.status, 303);
    let mail = app.smtp.wait_for("rae@example.org", 2).await;
    assert!(
        mail.text().contains("We will take on \"Day centre closures\"")
            && mail.text().contains("We will host an open letter.")
    );
    assert!(app.get_with(&staff, &format!("/staff/support/{first}")).await.body.contains("Consultation open"));

    // Done.
    fields = MATRIX_YES.to_vec();
    fields.extend([("status", "done"), ("message", "The letter was delivered.")]);
    assert_eq!(triage(&app, &staff, first, &fields).await.status, 303);
    assert!(app.smtp.wait_for("rae@example.org", 3).await.text().contains("We have finished our work"));

    // Can't take on now: needs a reason, and a referral when another organisation is better placed.
    let second = send_request(&app, &rae, "Benefit sanctions").await;
    let mut fields = MATRIX_YES.to_vec();
    fields.retain(|(k, _)| *k != "q4");
    fields.extend([("q4", "yes"), ("status", "cant_now")]);
    let r = triage(&app, &staff, second, &fields).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Give the reason") && r.body.contains("Name the organisation better placed"));
    assert!(r.body.contains("Nobody is harmed"), "the typed notes are kept");
    fields.extend([("message", "Our campaign capacity is full until spring."), ("referral", "Disability Rights UK")]);
    assert_eq!(triage(&app, &staff, second, &fields).await.status, 303);
    let mail = app.smtp.wait_for("rae@example.org", 4).await;
    let text = mail.text();
    assert!(text.contains("We can't take on \"Benefit sanctions\" now."), "{text}");
    assert!(text.contains("The reason: Our campaign capacity is full until spring."));
    assert!(text.contains("Disability Rights UK"));
    let mine = app.get_with(&rae, "/support/mine").await.body;
    assert!(mine.contains("Can&#39;t take on now"), "{mine}");
    assert!(mine.contains("Disability Rights UK") && mine.contains("<strong>Done</strong>"));

    // A policy alert needs no asks, and saving without a change of status sends nothing.
    let r = app
        .submit_with(
            &rae,
            "/support/alert",
            "/support/alert",
            &[("title", "New assessment rules"), ("description", "Consultation closes soon."), ("from", "me")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let alert: i64 = sqlx::query_scalar("SELECT id FROM support_requests WHERE kind = 'alert'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(triage(&app, &staff, alert, &[("status", "new"), ("q1", "yes")]).await.status, 303);
    app.jobs_settled().await;
    assert_eq!(app.smtp.to("rae@example.org").len(), 4);
}

async fn unanswered_requests_are_flagged_and_taken_on_campaigns_keep_a_narrative_record(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.support_reply_days = Some(5)).await;
    let staff = app.staff("staff").await;
    let member = app.add_member("Rae Requester", "rae@example.org", "member").await;
    let rae = app.client_signed_in_as(member).await;
    let old = send_request(&app, &rae, "Old request").await;
    send_request(&app, &rae, "Fresh request").await;
    sqlx::query("UPDATE support_requests SET created_at = $1 WHERE id = $2")
        .bind(now() - 6 * 86_400)
        .bind(old)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let list = app.get_with(&staff, "/staff/support").await.body;
    assert_eq!(list.matches("No answer for over 5 days").count(), 1, "{list}");
    let old_row = list.split("Old request").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(old_row.contains("No answer for over 5 days"));

    // A narrative record only once taken on.
    let path = format!("/staff/support/{old}");
    let entry =
        [("entry_on", "2026-11-02"), ("what_was_done", "Met the council."), ("reflection", "Bring members earlier.")];
    let r = app.submit_with(&staff, &path, &format!("{path}/narrative"), &entry).await;
    assert_eq!(r.status, 422);
    let mut fields = MATRIX_YES.to_vec();
    fields.push(("status", "taking_on"));
    assert_eq!(triage(&app, &staff, old, &fields).await.status, 303);
    let r = app
        .submit_with(&staff, &path, &format!("{path}/narrative"), &[("entry_on", "someday"), ("what_was_done", "")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("value=\"someday\""));
    assert_eq!(app.submit_with(&staff, &path, &format!("{path}/narrative"), &entry).await.status, 303);
    let page = app.get_with(&staff, &path).await.body;
    assert!(
        page.contains("2 November 2026")
            && page.contains("Met the council.")
            && page.contains("Bring members earlier.")
    );
    let list = app.get_with(&staff, "/staff/support").await.body;
    assert!(!list.contains("No answer for over"), "answered now");
}

async fn erasing_a_member_removes_their_signatures_and_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, slug) = new_letter(&app, &staff, "Erasure letter", "").await;
    let id = app.add_member("Zelda Quorn", "zelda@example.org", "member").await;
    let zelda = app.client_signed_in_as(id).await;
    sign(&app, &slug, "Zelda Quorn", "zelda@example.org", "full", &[("comment", "Zelda's comment")]).await;
    confirm(&app, "zelda@example.org", 1).await;
    send_request(&app, &zelda, "Zelda's campaign").await;
    let export: serde_json::Value = zelda.get(app.url("/me/export")).send().await.unwrap().json().await.unwrap();
    assert_eq!(export["voice"]["letter_signatures"][0]["comment"], "Zelda's comment");
    assert_eq!(export["voice"]["support_requests"][0]["title"], "Zelda's campaign");
    constellate::features::members::account::erase_member(&app.state, id).await.unwrap();
    for needle in ["zelda@example.org", "Zelda Quorn", "Zelda's comment", "Zelda's campaign"] {
        let left = crate::privacy::occurrences(&app, needle).await;
        assert!(left.is_empty(), "{needle} remains: {left:?}");
    }
}

async fn many_concurrent_signatures_from_one_address_make_one_row_even_across_instances(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, slug) = new_letter(&app, &staff, "Race letter", "").await;
    let page = format!("/letters/{slug}");
    let browser = client();
    let token = crate::harness::csrf_in(&app.get_with(&browser, &page).await.body);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (browser, url, token) = (browser.clone(), app.url(&format!("{page}/sign")), token.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("Racer {i}");
            let form =
                [("_csrf", token.as_str()), ("name", &name), ("email", "racer@example.org"), ("display", "full")];
            let r = browser.post(url).form(&form).send().await.unwrap();
            r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|l| l.ends_with("/check-email")).count(), 64, "{outcomes:?}");
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 1);
    app.jobs_settled().await;
    assert_eq!(app.smtp.to("racer@example.org").len(), 1);

    // Two instances on one database, each with its own writer, racing on one address.
    let second = constellate::server::open_state(app.state.config.clone()).await.unwrap();
    let letter_id: i64 = sqlx::query_scalar("SELECT id FROM letters WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let submit = |state: constellate::core::state::AppState, i: usize| async move {
        let signature = SignatureInput {
            name: format!("Twin {i}"),
            email: "twin@example.org".into(),
            display: "full".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let submission = Submission {
            letter_id,
            signature,
            token_hash: format!("hash-{i}"),
            confirmation: Email::text("twin@example.org", "Confirm", "Confirm"),
            already_signed: Email::text("twin@example.org", "Already", "Already"),
        };
        state.area::<Arc<Signatures>>().submit(&state, submission).await.unwrap()
    };
    let mut racers = Vec::new();
    for i in 0..64 {
        let state = if i % 2 == 0 { app.state.clone() } else { second.clone() };
        racers.push(tokio::spawn(submit(state, i)));
    }
    let mut added = 0;
    for r in racers {
        added += usize::from(r.await.unwrap() == Outcome::Added);
    }
    assert_eq!(added, 1);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE email = 'twin@example.org'").await, 1);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM jobs WHERE dedupe_key LIKE 'voice-confirm:%'").await, 2);
}

async fn staff_find_and_remove_an_abusive_signature_and_the_count_follows(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (id, slug) = new_letter(&app, &staff, "Fund advocacy", "").await;
    sign(&app, &slug, "Alex Rivera", "alex@example.org", "full", &[]).await;
    confirm(&app, "alex@example.org", 1).await;
    sign(&app, &slug, "Troll McTroll", "troll@example.org", "full", &[]).await;
    confirm(&app, "troll@example.org", 1).await;
    assert!(app.get(&format!("/letters/{slug}")).await.body.contains("2 signatures<"));

    let search = format!("/staff/letters/{id}/signatures");
    assert!(app.get_with(&staff, &format!("/staff/letters/{id}")).await.body.contains(&format!("href=\"{search}\"")));
    let found = app.get_with(&staff, &format!("{search}?q=TROLL")).await.body;
    assert!(found.contains("Troll McTroll") && found.contains("troll@example.org"), "{found}");
    assert!(!found.contains("Alex Rivera"));
    let none = app.get_with(&staff, &format!("{search}?q=%25")).await.body;
    assert!(none.contains("No signatures match"), "a % is a character, not a wildcard: {none}");
    assert!(rows(&app, "SELECT COUNT(*) FROM audit_log WHERE detail LIKE 'searched the signatures%'").await >= 1);

    let troll: i64 = sqlx::query_scalar("SELECT id FROM letter_signatures WHERE email = 'troll@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let remove = format!("/staff/letters/{id}/signatures/{troll}/remove");
    // Removing cannot be undone: the first press asks.
    let r = app.submit_with(&staff, &format!("{search}?q=troll"), &remove, &[]).await;
    assert!(r.status == 200 && r.body.contains("Remove the signature of Troll McTroll?"), "{}", r.body);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE email = 'troll@example.org'").await, 1);
    let r = app.submit_with(&staff, &format!("{search}?q=troll"), &remove, &[("confirmed", "yes")]).await;
    assert_eq!(r.location.as_deref(), Some(search.as_str()), "{}", r.body);
    assert!(app.get_with(&staff, &search).await.body.contains("The signature has been removed."));
    let public = app.get(&format!("/letters/{slug}")).await.body;
    assert!(public.contains("1 signature<") && !public.contains("Troll"), "{public}");
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures WHERE email = 'troll@example.org'").await, 0);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM audit_log WHERE detail LIKE 'removed signature%'").await, 1);
    // Gone is gone; and a signature is only removed through its own letter.
    assert_eq!(app.submit_with(&staff, &search, &remove, &[("confirmed", "yes")]).await.status, 404);
    let (other, _) = new_letter(&app, &staff, "Another letter", "").await;
    let alex: i64 = sqlx::query_scalar("SELECT id FROM letter_signatures WHERE email = 'alex@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let wrong = format!("/staff/letters/{other}/signatures/{alex}/remove");
    assert_eq!(app.submit_with(&staff, &search, &wrong, &[("confirmed", "yes")]).await.status, 404);
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 1);
}

/// On SQLite the next signature used to take the erased signer's id, and the erased one's
/// confirmation job, still there under that id's key, stopped the new one's email.
async fn the_next_signer_after_an_erased_one_gets_a_new_id_and_their_confirmation(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, slug) = new_letter(&app, &staff, "Id letter", "").await;
    let id = app.add_member("Ira Gone", "ira@example.org", "member").await;
    sign(&app, &slug, "Ira Gone", "ira@example.org", "full", &[]).await;
    confirm(&app, "ira@example.org", 1).await;
    let first: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM letter_signatures").fetch_one(&app.state.db.pool).await.unwrap();
    app.jobs_settled().await;
    constellate::features::members::account::erase_member(&app.state, id).await.unwrap();
    assert_eq!(rows(&app, "SELECT COUNT(*) FROM letter_signatures").await, 0);
    assert_eq!(
        rows(&app, "SELECT COUNT(*) FROM jobs WHERE dedupe_key LIKE 'voice-%'").await,
        0,
        "no key outlives its signature"
    );
    sign(&app, &slug, "Next Person", "next@example.org", "full", &[]).await;
    let second: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM letter_signatures").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(second > first, "ids are never given twice ({first} then {second})");
    let mail = app.smtp.wait_for("next@example.org", 1).await;
    assert!(mail.subject().contains("Confirm your signature"));
}
