//! The erasure gate. One person (a member who is also staff, a donor, a signer, a grant
//! applicant and panel member) puts a distinct marker into every column that can hold
//! something about them, then erases their account. The list of columns is read from the
//! schema: a column that the scenario does not fill and that is not declared below as holding
//! nothing personal fails the test, so a new area cannot add a column erasure forgets.
//! Afterwards no marker may be left in any column (sealed columns are opened to look) nor, on
//! SQLite, anywhere in the raw database and write-ahead-log files.
use std::collections::BTreeSet;

use constellate::{core::db::Dialect, features::SEALED_COLUMNS};

use crate::harness::{spawn_app_with, Backend, TestApp};

crate::on_both_databases!(erasure_leaves_nothing_of_the_person_in_any_column_or_on_disk);

const NAME: &str = "Zebedee Quartermaine";
const EMAIL: &str = "zebedee.q@example.org";

/// Columns that never hold anything about a person, with why.
const NOT_PERSONAL: &[(&str, &str)] = &[
    ("audit_log.action", "a fixed word"),
    ("audit_log.detail", "ids and counts, never names"),
    ("bulletin_decisions.decision", "a fixed word"),
    ("bulletin_guidelines.text", "the network's editorial guidelines"),
    ("bulletin_issues.editor_note", "written by staff for everyone"),
    ("bulletin_issues.status", "a fixed word"),
    ("bulletin_issues.title", "written by staff for everyone"),
    ("bulletin_items.closes_on", "a date"),
    ("bulletin_items.kind", "a fixed word"),
    ("bulletin_items.region", "one of twelve regions"),
    ("bulletin_items.status", "a fixed word"),
    ("bulletin_reply_templates.body", "staff's reply templates"),
    ("bulletin_reply_templates.name", "staff's reply templates"),
    ("consents.purpose", "a fixed word"),
    ("consents.wording_version", "a version number"),
    ("counters.name", "a fixed word"),
    ("grant_applications.group_size", "a band, the group's"),
    ("grant_applications.region", "one of twelve regions"),
    ("grant_applications.status", "a fixed word"),
    ("grant_awards.awarded_on", "a date"),
    ("grant_awards.follow_up_on", "a date"),
    ("grant_awards.recipient_org_id", "a registered organisation's public id"),
    ("grant_criteria.description", "published criteria"),
    ("grant_criteria.title", "published criteria"),
    ("grant_decisions.outcome", "a fixed word"),
    ("grant_follow_ups.reply_by", "a fixed word"),
    ("grant_funds.applicant_type", "a fixed word"),
    ("grant_funds.name", "the network's fund"),
    ("grant_funds.purpose", "the network's fund"),
    ("grant_funds.regrant_type", "a 360Giving code"),
    ("grant_income.kind", "a fixed word"),
    ("grant_income.received_on", "a date"),
    ("grant_income.source", "an organisation that funded the network (donors are kept apart)"),
    ("grant_payments.due_on", "a date"),
    ("grant_payments.method", "a fixed word"),
    ("grant_payments.paid_on", "a date"),
    ("grant_questions.hint", "the round's form"),
    ("grant_questions.kind", "a fixed word"),
    ("grant_questions.label", "the round's form"),
    ("grant_questions.options", "the round's form"),
    ("grant_rounds.closes_on", "a date"),
    ("grant_rounds.help", "the round's published text"),
    ("grant_rounds.opens_on", "a date"),
    ("grant_rounds.title", "the round's published text"),
    ("grant_rounds.who_decides", "the round's published text"),
    ("groups.description", "the group's own description"),
    ("groups.name", "the group's name"),
    ("groups.region", "one of twelve regions"),
    ("groups.status", "a fixed word"),
    ("groups.visibility", "a fixed word"),
    ("jobs.batch", "ids"),
    ("jobs.dedupe_key", "ids"),
    ("jobs.kind", "a fixed word"),
    ("jobs.status", "a fixed word"),
    ("letter_cosigners.name", "a group or organisation"),
    ("letter_signatures.confirm_hash", "the hash of a random token"),
    ("letter_signatures.display", "a fixed word"),
    ("letter_updates.body", "written by staff to all signers"),
    ("letters.addressee", "the letter's published text"),
    ("letters.body", "the letter's published text"),
    ("letters.closes_on", "a date"),
    ("letters.kind", "a fixed word"),
    ("letters.published_with", "the letter's published text"),
    ("letters.slug", "the letter's address"),
    ("letters.status", "a fixed word"),
    ("letters.title", "the letter's published text"),
    ("list_signups.status", "a fixed word"),
    ("login_tokens.purpose", "a fixed word"),
    ("login_tokens.token_hash", "the hash of a random token"),
    ("mailing_lists.audience", "a fixed word"),
    ("mailing_lists.consent_purpose", "a fixed word"),
    ("mailing_lists.description", "the list's description"),
    ("mailing_lists.name", "the list's name"),
    ("mailing_lists.slug", "the list's address"),
    ("members.role", "a fixed word (reset on erasure)"),
    ("members.status", "a fixed word"),
    ("members.visibility", "a fixed word (reset on erasure)"),
    ("published_statistics.body", "aggregate figures, small ones hidden"),
    ("published_statistics.scope", "a period's name"),
    ("secrets.name", "a fixed word"),
    ("secrets.value", "keys and key checks"),
    ("sessions.csrf_token", "a random token"),
    ("sessions.token_hash", "the hash of a random token"),
    ("support_assessments.answer", "a fixed word"),
    ("support_narrative.entry_on", "a date"),
    ("support_requests.asks", "fixed words"),
    ("support_requests.deadline", "a date"),
    ("support_requests.kind", "a fixed word"),
    ("support_requests.status", "a fixed word"),
];

/// Columns kept after erasure because the law requires it, with the rule.
const KEPT_BY_LAW: &[(&str, &str)] = &[
    ("gift_aid_declarations.covers", "HMRC: Gift Aid declarations, 6 years after the last gift"),
    ("gift_aid_declarations.declared_on", "HMRC: Gift Aid declarations, 6 years after the last gift"),
    ("gift_aid_declarations.full_name", "HMRC: Gift Aid declarations, 6 years after the last gift"),
    ("gift_aid_declarations.house", "HMRC: Gift Aid declarations, 6 years after the last gift"),
    ("gift_aid_declarations.keep_until", "HMRC: Gift Aid declarations, 6 years after the last gift"),
    ("gift_aid_declarations.postcode", "HMRC: Gift Aid declarations, 6 years after the last gift"),
];

/// Columns of the member's own row checked by value (their region is one of twelve words,
/// found in other rows too, so no marker can stand for it): NULL after erasure.
const MEMBER_ROW: &[&str] = &["members.region", "members.search_text", "members.password_hash"];

fn marker(n: u32) -> String {
    format!("zqm{n:02}")
}

/// Every text column in the schema, as (table, column).
pub async fn text_columns(app: &TestApp) -> Vec<(String, String)> {
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

/// The columns holding any of `needles` (sealed columns opened first), as "table.column".
async fn columns_holding(app: &TestApp, needles: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (table, column) in text_columns(app).await {
        let values: Vec<Option<String>> =
            sqlx::query_scalar(&format!("SELECT {column} FROM {table}")).fetch_all(&app.state.db.pool).await.unwrap();
        let sealed = SEALED_COLUMNS.contains(&(table.as_str(), column.as_str()));
        for value in values.into_iter().flatten() {
            let text = if sealed { app.state.keys.decrypt(&value).unwrap() } else { value };
            let text = text.to_lowercase();
            if needles.iter().any(|n| text.contains(&n.to_lowercase())) {
                found.insert(format!("{table}.{column}"));
            }
        }
    }
    found
}

/// The person's profile, with markers in their communities and access needs.
async fn edit_profile(app: &TestApp, me: &reqwest::Client, email: &str) {
    let (communities, needs) = (format!("{} Collective", marker(3)), format!("{} interpreter", marker(4)));
    let fields = [
        ("display_name", NAME),
        ("email", email),
        ("region", "London"),
        ("communities_other", &communities),
        ("visibility", "public"),
        ("access_needs", &needs),
    ];
    let r = app.submit_with(me, "/me/edit", "/me/edit", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn exec(app: &TestApp, sql: &str, binds: &[&str]) {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(&app.state.db.pool).await.unwrap();
}

async fn erasure_leaves_nothing_of_the_person_in_any_column_or_on_disk(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.bulletin_open_submissions = Some(true)).await;
    let m = marker;
    let staff = app.staff("staff").await;

    // Before joining: a bulletin item sent as a visitor, and a newsletter sign-up.
    let r = app
        .submit(
            "/bulletin/send",
            "/bulletin/send",
            &[
                ("submitter_name", NAME),
                ("submitter_email", EMAIL),
                ("kind", "news"),
                ("title", &m(1)),
                ("description", &m(2)),
            ],
        )
        .await;
    assert!(r.body.contains("Check your email"), "{}", r.body);
    assert_eq!(app.submit("/newsletter", "/newsletter", &[("email", EMAIL), ("list", "2")]).await.status, 303);

    // A member who is also staff.
    let id = app.add_member(NAME, EMAIL, "staff").await;
    let me = app.client_signed_in_as(id).await;
    edit_profile(&app, &me, EMAIL).await;
    let r = app
        .submit_with(
            &me,
            "/me/password",
            "/me/password",
            &[("password", "zqm05 long passphrase"), ("confirm", "zqm05 long passphrase")],
        )
        .await;
    assert_eq!(r.status, 303);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM members WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/members/{id}"),
            &format!("/staff/members/{id}"),
            &[("staff_notes", &m(6))],
        )
        .await;
    assert_eq!(r.status, 303);

    // Bulletin: an item, and the editors' reply to it.
    let r = app
        .submit_with(
            &me,
            "/bulletin/submit",
            "/bulletin/submit",
            &[
                ("kind", "news"),
                ("title", &m(7)),
                ("description", &m(8)),
                ("link", &format!("https://{}.example.org", m(9))),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let item: i64 = sqlx::query_scalar("SELECT id FROM bulletin_items WHERE member_id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/bulletin/items/{item}"),
            &format!("/staff/bulletin/items/{item}"),
            &[("decision", "request_change"), ("message", &m(10)), ("reasoning", &m(11))],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Voice: a signature and a campaign-support request, triaged with a narrative.
    let r = app
        .submit_with(
            &staff,
            "/staff/letters/new",
            "/staff/letters/new",
            &[
                ("kind", "letter"),
                ("title", "Erasure letter"),
                ("body", "Keep it open."),
                ("addressee", "The Minister"),
                ("published_with", "Us"),
                ("status", "open"),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let slug: String = sqlx::query_scalar("SELECT slug FROM letters").fetch_one(&app.state.db.pool).await.unwrap();
    let r = app
        .submit(
            &format!("/letters/{slug}"),
            &format!("/letters/{slug}/sign"),
            &[
                ("name", NAME),
                ("email", EMAIL),
                ("display", "full"),
                ("organisation", &m(12)),
                ("role", &m(13)),
                ("place", &m(14)),
                ("comment", &m(15)),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = app
        .submit_with(
            &me,
            "/support",
            "/support",
            &[("title", &m(16)), ("description", &m(17)), ("asks", "other"), ("ask_other", &m(18)), ("from", "me")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let request: i64 = sqlx::query_scalar("SELECT id FROM support_requests WHERE member_id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let req = request.to_string();
    exec(
        &app,
        "UPDATE support_requests SET answer = $1, referral = $2 WHERE id = CAST($3 AS BIGINT)",
        &[&m(19), &m(20), &req],
    )
    .await;
    exec(&app, "INSERT INTO support_assessments (request_id, question, answer, note) VALUES (CAST($1 AS BIGINT), 1, 'yes', $2)", &[&req, &m(21)]).await;
    exec(
        &app,
        "INSERT INTO support_narrative (request_id, entry_on, what_was_done, reflection, created_at) VALUES (CAST($1 AS BIGINT), '2026-11-01', $2, $3, 1)",
        &[&req, &m(22), &m(23)],
    )
    .await;

    // Grants: an individual application with answers, a message, a decision, an award with bank
    // details and a follow-up reply; a panel seat with a score; an application entered for
    // someone else as staff; a donation.
    let (fund, ids) = crate::grants::submitted_applications(&app.state.db, 100_000, 0, 2, 10_000).await;
    let (application, on_behalf) = (ids[0].to_string(), ids[1].to_string());
    let pid = id.to_string();
    exec(&app, "UPDATE grant_applications SET member_id = CAST($1 AS BIGINT), community = $2, status = 'awarded' WHERE id = CAST($3 AS BIGINT)", &[&pid, &m(24), &application]).await;
    exec(&app, "UPDATE grant_applications SET entered_by = CAST($1 AS BIGINT), entered_by_name = $2 WHERE id = CAST($3 AS BIGINT)", &[&pid, NAME, &on_behalf]).await;
    let round: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM grant_rounds").fetch_one(&app.state.db.pool).await.unwrap();
    let round = round.to_string();
    exec(&app, "INSERT INTO grant_questions (round_id, position, kind, label, hint, options, required) VALUES (CAST($1 AS BIGINT), 1, 'long', 'Tell us', '', '', 0)", &[&round]).await;
    exec(&app, "INSERT INTO grant_answers (application_id, question_id, value) SELECT CAST($1 AS BIGINT), MAX(id), $2 FROM grant_questions", &[&application, &m(25)]).await;
    exec(
        &app,
        "INSERT INTO grant_messages (application_id, body, created_at) VALUES (CAST($1 AS BIGINT), $2, 1)",
        &[&application, &m(26)],
    )
    .await;
    exec(
        &app,
        "INSERT INTO grant_decisions (application_id, outcome, amount_pence, reason, other_help, conflicts, decided_at) VALUES (CAST($1 AS BIGINT), 'award', 10000, $2, $3, 0, 1)",
        &[&application, &m(27), &m(28)],
    )
    .await;
    let bank = app.state.keys.encrypt(&format!("{NAME}, {}, 12345678", m(29)));
    exec(
        &app,
        "INSERT INTO grant_awards (application_id, fund_id, amount_pence, awarded_on, bank_details_enc, follow_up_on, updated_at) \
         VALUES (CAST($1 AS BIGINT), CAST($2 AS BIGINT), 10000, '2026-01-01', $3, '2026-07-01', 1)",
        &[&application, &fund.to_string(), &bank],
    )
    .await;
    exec(
        &app,
        "INSERT INTO grant_follow_ups (award_id, what_happened, difference, learning, reply_by, link, replied_at) \
         SELECT MAX(id), $1, $2, $3, 'link', $4, 1 FROM grant_awards",
        &[&m(30), &m(31), &m(32), &format!("https://{}.example.org", m(33))],
    )
    .await;
    exec(&app, "INSERT INTO grant_panel_members (round_id, member_id, shown_as, paid, added_at) VALUES (CAST($1 AS BIGINT), CAST($2 AS BIGINT), $3, 1, 1)", &[&round, &pid, &format!("{NAME} ({})", m(34))]).await;
    exec(&app, "INSERT INTO grant_criteria (fund_id, position, title, description) VALUES (CAST($1 AS BIGINT), 1, 'Reach', 'x')", &[&fund.to_string()]).await;
    exec(
        &app,
        "INSERT INTO grant_scores (application_id, member_id, criterion_id, score, note, scored_at) \
         SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), MAX(id), 2, $3, 1 FROM grant_criteria",
        &[&on_behalf, &pid, &m(35)],
    )
    .await;
    exec(&app, "INSERT INTO grant_donors (name, email, created_at) VALUES ($1, $2, 1)", &[NAME, EMAIL]).await;

    // Delivery records kept by address: a refusal, a failed job quoting the address, a
    // rate-limit window, and mail still waiting.
    exec(
        &app,
        "INSERT INTO mail_failures (email, failures, last_failure, updated_at) VALUES ($1, 1, $2, 1)",
        &[EMAIL, &format!("550 {EMAIL} unknown {}", m(36))],
    )
    .await;
    exec(
        &app,
        "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at, last_error) \
         VALUES ('mail', '{}', 'failed', 6, 6, 1, 1, 1, $1)",
        &[&format!("550 5.1.1 <{EMAIL}>: no such user")],
    )
    .await;
    edit_profile(&app, &me, "zqm37.new@example.org").await;
    // A message to the address still waiting in the queue, tied to no member (as a sign-up's is).
    exec(
        &app,
        "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ('mail', $1, 'queued', 0, 6, 4102444800, 1, 1)",
        &[&format!("{{\"to\":\"{EMAIL}\",\"subject\":\"Hello\",\"text\":\"x\"}}")],
    )
    .await;

    // Every column that can hold something about a person now does.
    let mut needles: Vec<String> = (1..=37).map(marker).collect();
    needles.extend([EMAIL.to_string(), NAME.to_string(), "Zebedee".into(), "Quartermaine".into(), hash.clone()]);
    let filled = columns_holding(&app, &needles).await;
    let declared: BTreeSet<String> = NOT_PERSONAL
        .iter()
        .chain(KEPT_BY_LAW)
        .map(|(c, _)| c.to_string())
        .chain(MEMBER_ROW.iter().map(|c| c.to_string()))
        .collect();
    let uncovered: Vec<String> = text_columns(&app)
        .await
        .into_iter()
        .map(|(t, c)| format!("{t}.{c}"))
        .filter(|c| !filled.contains(c) && !declared.contains(c))
        .collect();
    assert!(
        uncovered.is_empty(),
        "columns neither filled by this scenario nor declared as holding nothing personal: {uncovered:?}\n\
         (fill them in the scenario, or add them to NOT_PERSONAL with a reason)"
    );

    assert!(app.get_with(&me, "/me/delete").await.body.contains("We keep, with nothing that identifies you"));
    let r = app.submit_with(&me, "/me/delete", "/me/delete", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(app.get_with(&me, "/me").await.status, 303, "signed out");
    let erased: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'members_erased'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(erased, 1, "the count of erasures is kept");

    let left = columns_holding(&app, &needles).await;
    assert!(left.is_empty(), "still holding something of the erased person: {left:?}");
    let row: (Option<String>, Option<String>, Option<String>, String) =
        sqlx::query_as("SELECT region, search_text, password_hash, status FROM members WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(row, (None, None, None, "erased".to_string()));

    if backend == Backend::Sqlite {
        let mut raw = Vec::new();
        for file in ["constellate.db", "constellate.db-wal"] {
            raw.extend(std::fs::read(app.data_dir.join(file)).unwrap_or_default());
        }
        let raw = String::from_utf8_lossy(&raw).to_lowercase();
        let on_disk: Vec<&String> = needles.iter().filter(|n| raw.contains(&n.to_lowercase())).collect();
        assert!(on_disk.is_empty(), "the database files still hold {on_disk:?}");
    }
}
