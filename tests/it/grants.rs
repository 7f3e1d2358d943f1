//! Grants, end to end on both databases: fund → round → applications (one taken by phone) →
//! panel (with a conflict) → scores → decisions emailed over real SMTP → payments → follow-up →
//! transparency; eligibility refusals; the overspend race; suppression; 360Giving validity;
//! donations and Gift Aid.
use constellate::{
    core::db::Db,
    features::grants::{
        domain::{Outcome, ValidDecision},
        money::{self, DecideError},
        store,
    },
};

use crate::harness::{spawn_app, spawn_app_with, Backend, TestApp};

crate::on_both_databases!(
    a_member_applies_a_panel_scores_staff_decide_and_the_money_is_followed,
    eligibility_is_checked_on_submission_with_clear_reasons,
    an_award_never_overspends_a_fund_even_from_many_tasks_at_once,
    the_fairness_view_hides_every_figure_under_five_and_whatever_would_give_one_away,
    community_names_chosen_by_few_are_grouped_as_other,
    open_data_is_valid_360giving_and_names_no_individual,
    donations_feed_the_pot_and_a_donor_is_erased_except_their_gift_aid_declaration,
    bank_details_are_stored_only_when_turned_on_and_then_encrypted,
    a_member_withdraws_and_staff_cannot_award_above_the_cap,
    staff_change_a_round_s_dates_and_budget_until_its_decisions_are_published,
    staff_change_a_fund_but_not_criteria_already_scored_nor_a_budget_below_its_awards,
    a_conflict_declared_after_scoring_takes_the_score_out_of_the_staff_table,
);

fn today() -> String {
    constellate::core::time::local_date(constellate::core::time::now())
}

/// A fund with two criteria and a published, open round; returns (fund id, round id).
async fn fund_and_round(app: &TestApp, staff: &reqwest::Client, who: &str, budget: &str, cap: &str) -> (i64, i64) {
    let r = app
        .submit_with(
            staff,
            "/staff/grants",
            "/staff/grants/funds",
            &[
                ("name", "Community Fund"),
                ("purpose", "Small grants for user-led groups and members."),
                ("budget", budget),
                ("restricted", "no"),
                ("applicant_type", who),
                ("cap", cap),
                ("criteria", "Led by lived experience: the people running it have been there\nReach: it reaches people others miss"),
                ("regrant_type", ""),
            ],
        )
        .await;
    let fund = r.created_id();
    let r = app
        .submit_with(
            staff,
            &format!("/staff/grants/funds/{fund}"),
            &format!("/staff/grants/funds/{fund}/rounds"),
            &[
                ("title", "Spring round"),
                ("timing", "rolling"),
                ("budget", budget),
                ("who_decides", "A panel of members and staff"),
                ("help", "Call us and we will fill it in with you"),
            ],
        )
        .await;
    let round = r.created_id();
    let r = app
        .submit_with(
            staff,
            &format!("/staff/grants/rounds/{round}"),
            &format!("/staff/grants/rounds/{round}/publish"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    (fund, round)
}

async fn question_ids(app: &TestApp, round: i64) -> Vec<i64> {
    store::questions(&app.state.db, round).await.unwrap().iter().map(|q| q.id).collect()
}

/// The four default answers: short, long, amount, yes/no.
fn answers<'a>(q: &[i64], amount: &'a str, long: &'a str) -> Vec<(String, &'a str)> {
    vec![
        (format!("q{}", q[0]), "Room hire for our peer support group"),
        (format!("q{}", q[1]), long),
        (format!("q{}", q[2]), amount),
        (format!("q{}", q[3]), "yes"),
    ]
}

fn fields<'a>(answers: &'a [(String, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = answers.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    out.extend_from_slice(extra);
    out
}

async fn start_application(app: &TestApp, client: &reqwest::Client, round: i64) -> i64 {
    let r = app
        .submit_with(client, &format!("/grants/rounds/{round}"), &format!("/grants/rounds/{round}/apply"), &[])
        .await;
    r.created_id()
}

async fn a_member_applies_a_panel_scores_staff_decide_and_the_money_is_followed(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (fund, round) = fund_and_round(&app, &staff, "both", "2000", "").await;
    let public = app.get(&format!("/grants/rounds/{round}")).await;
    assert!(public.body.contains("Led by lived experience") && public.body.contains("Call us and we will fill it in"));

    // A member, contact for a group, applies for the group: save, return, submit.
    let amara = app.add_member("Amara", "amara@example.org", "member").await;
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ('Hearing Voices Leeds', 'We meet.', 'Yorkshire and the Humber', 1, 'public', 1, 1) RETURNING id",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO group_contacts (group_id, member_id, added_at) VALUES ($1, $2, 1)")
        .bind(group)
        .bind(amara)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let member = crate::harness::client();
    app.sign_in_with(&member, "amara@example.org").await;
    let id = start_application(&app, &member, round).await;
    let q = question_ids(&app, round).await;
    let page = format!("/grants/applications/{id}");
    let draft = answers(&q, "450", "We will hire a room every week.");
    let as_group = format!("group-{group}");
    let r = app
        .submit_with(
            &member,
            &page,
            &page,
            &fields(&draft, &[("action", "save"), ("applying_as", &as_group), ("listed", "yes")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let back = app.get_with(&member, &page).await;
    assert!(back.body.contains("We will hire a room every week."), "the draft is kept");
    // Over the word limit: refused, and what was typed stays on the page.
    let long = "word ".repeat(201);
    let too_long = answers(&q, "450", &long);
    let r = app
        .submit_with(&member, &page, &page, &fields(&too_long, &[("action", "submit"), ("applying_as", &as_group)]))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Use 200 words or fewer (you have 201)") && r.body.contains("There is a problem"));
    let r = app
        .submit_with(
            &member,
            &page,
            &page,
            &fields(&draft, &[("action", "submit"), ("applying_as", &as_group), ("listed", "yes")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mine = app.get_with(&member, "/grants/mine").await;
    assert!(
        mine.body.contains("Sent: waiting for a decision") && mine.body.contains("We have received your application")
    );

    // Staff take an application by phone for another member.
    app.add_member("Bo", "bo@example.org", "member").await;
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/grants/rounds/{round}"),
            &format!("/staff/grants/rounds/{round}/on-behalf"),
            &[("applicant_email", "bo@example.org")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let edit = r.location.unwrap();
    let bo_app: i64 = edit.split('/').nth(4).unwrap().parse().unwrap();
    let phone = answers(&q, "300", "Art materials for our drop-in.");
    let r = app.submit_with(&staff, &edit, &edit, &fields(&phone, &[("action", "submit")])).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let staff_view = app.get_with(&staff, &format!("/staff/grants/applications/{bo_app}")).await;
    assert!(staff_view.body.contains("Entered on the applicant's behalf by Staff staff"), "{}", staff_view.body);

    // A member on the panel declares a conflict on Bo's application and scores Amara's.
    app.add_member("Priya", "priya@example.org", "member").await;
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/grants/rounds/{round}"),
            &format!("/staff/grants/rounds/{round}/panel"),
            &[("panel_email", "priya@example.org"), ("shown_as", "Priya, member")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let priya = crate::harness::client();
    app.sign_in_with(&priya, "priya@example.org").await;
    let list = app.get_with(&priya, &format!("/panel/rounds/{round}")).await;
    assert!(list.body.contains("Hearing Voices Leeds") && list.body.contains("Bo"));
    let r = app
        .submit_with(
            &priya,
            &format!("/panel/applications/{bo_app}"),
            &format!("/panel/applications/{bo_app}/conflict"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    let list = app.get_with(&priya, &format!("/panel/rounds/{round}")).await;
    assert!(!list.body.contains(&format!("/panel/applications/{bo_app}")), "hidden once conflicted");
    let hidden = app.get_with(&priya, &format!("/panel/applications/{bo_app}")).await;
    assert!(hidden.body.contains("You declared a conflict of interest") && !hidden.body.contains("Art materials"));
    let criteria = store::criteria(&app.state.db, fund).await.unwrap();
    let (s1, s2) = (format!("score{}", criteria[0].id), format!("score{}", criteria[1].id));
    let panel_page = format!("/panel/applications/{id}");
    let r = app.submit_with(&priya, &panel_page, &panel_page, &[(s1.as_str(), "3")]).await;
    assert_eq!(r.status, 422, "every criterion needs a score");
    let r = app.submit_with(&priya, &panel_page, &panel_page, &[(s1.as_str(), "3"), (s2.as_str(), "2")]).await;
    assert_eq!(r.status, 303);
    // Not on the panel: the pages do not exist.
    assert_eq!(app.get_with(&member, &format!("/panel/rounds/{round}")).await.status, 404);
    let table = app.get_with(&staff, &format!("/staff/grants/rounds/{round}/scores")).await;
    assert!(table.body.contains("<td>5</td>"), "Amara's total: {}", table.body);

    // Decisions: award Amara's group, decline Bo's with other help; both emailed. A decision
    // spends money and cannot be undone: the first press only asks, saying what will happen.
    let decide = format!("/staff/grants/applications/{id}/decide");
    let award = [("outcome", "award"), ("reason", "The panel loved the weekly room.")];
    let r = app.submit_with(&staff, &format!("/staff/grants/applications/{id}"), &decide, &award).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("This awards £450 from Community Fund to Hearing Voices Leeds."), "{}", r.body);
    assert!(r.body.contains("name=\"confirmed\" value=\"yes\"") && r.body.contains("The panel loved the weekly room."));
    assert!(money::award_of(&app.state.db, id).await.unwrap().is_none(), "nothing happens until confirmed");
    let mut confirmed = award.to_vec();
    confirmed.push(("confirmed", "yes"));
    let r = app.submit_with(&staff, &format!("/staff/grants/applications/{id}"), &decide, &confirmed).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mail = app.smtp.wait_for("amara@example.org", 2).await;
    assert!(mail.subject().contains("A decision on your application to Spring round"));
    assert!(
        mail.text().contains("you have been awarded £450") && mail.text().contains("The panel loved the weekly room.")
    );
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/grants/applications/{bo_app}"),
            &format!("/staff/grants/applications/{bo_app}/decide"),
            &[
                ("outcome", "decline"),
                ("reason", "We had more requests than money."),
                ("other_help", "The small-costs pot opens in May."),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mail = app.smtp.wait_for("bo@example.org", 1).await;
    assert!(mail.text().contains("The small-costs pot opens in May."));
    let record = app.get_with(&staff, &format!("/staff/grants/applications/{bo_app}")).await;
    assert!(record.body.contains("Conflicts of interest declared</dt><dd>1"), "{}", record.body);
    let mine = app.get_with(&member, &page).await;
    assert!(mine.body.contains("Awarded") && mine.body.contains("The panel loved the weekly room."));

    // Payments: a schedule of two, never more than the award; one marked paid; the bank export.
    let award = money::award_of(&app.state.db, id).await.unwrap().unwrap();
    let staff_page = format!("/staff/grants/applications/{id}");
    let pay = format!("/staff/grants/awards/{}/payments", award.id);
    let t = today();
    assert_eq!(
        app.submit_with(&staff, &staff_page, &pay, &[("due_on", &t), ("payment_amount", "300")]).await.status,
        303
    );
    let r = app.submit_with(&staff, &staff_page, &pay, &[("due_on", &t), ("payment_amount", "200")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("£150 is left to schedule"));
    assert_eq!(
        app.submit_with(&staff, &staff_page, &pay, &[("due_on", &t), ("payment_amount", "150")]).await.status,
        303
    );
    let csv = app.get_with(&staff, "/staff/grants/payments.csv").await.body;
    assert!(csv.contains("Hearing Voices Leeds,,,300.00,GRANT"), "{csv}");
    let first = money::payments(&app.state.db, award.id).await.unwrap()[0].id;
    let r = app
        .submit_with(
            &staff,
            &staff_page,
            &format!("/staff/grants/payments/{first}/paid"),
            &[("paid_on", &t), ("method", "Bank transfer")],
        )
        .await;
    assert_eq!(r.status, 303);
    let totals = store::totals(&app.state.db, fund).await.unwrap();
    assert_eq!((totals.awarded, totals.paid), (45_000, 30_000));

    // The follow-up goes once, after the grant period; the reply reaches staff.
    // (Brought forward rather than running time on: sessions would expire too.)
    assert_eq!(app.smtp.to("amara@example.org").len(), 2, "not before its date");
    app.state.chores.run_all(&app.state, constellate::core::time::now()).await;
    sqlx::query("UPDATE grant_awards SET follow_up_on = $1").bind(today()).execute(&app.state.db.pool).await.unwrap();
    app.state.chores.run_all(&app.state, constellate::core::time::now()).await;
    app.state.chores.run_all(&app.state, constellate::core::time::now()).await;
    let mail = app.smtp.wait_for("amara@example.org", 3).await;
    assert!(mail.subject().starts_with("How did it go?"));
    let link = mail.link(&format!("{}/grants/applications/", app.base));
    let r = app.submit_with(&member, &link, &link, &[("reply_by", "phone")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(app.get_with(&staff, &staff_page).await.body.contains("They would like to tell us by phone."));
    app.jobs_settled().await;
    assert_eq!(app.smtp.to("amara@example.org").len(), 3, "one follow-up only");

    // Transparency once decided: counts, criteria, the panel as shown, the listed group.
    assert_eq!(app.get(&format!("/grants/rounds/{round}/decisions")).await.status, 404);
    app.submit_with(
        &staff,
        &format!("/staff/grants/rounds/{round}"),
        &format!("/staff/grants/rounds/{round}/decisions"),
        &[("confirmed", "yes")],
    )
    .await;
    let open = app.get(&format!("/grants/rounds/{round}/decisions")).await;
    // Two applications and one award are figures about fewer than 5 people: not shown.
    assert!(
        open.body.contains("<dt>Applications</dt><dd>fewer than 5</dd>")
            && open.body.contains("<dt>Funded</dt><dd>fewer than 5</dd>")
            && open.body.contains("<dt>Total awarded</dt><dd>fewer than 5</dd>"),
        "{}",
        open.body
    );
    assert!(
        open.body.contains("Priya, member") && open.body.contains("Hearing Voices Leeds") && open.body.contains("£450")
    );

    // The member's data download holds their application; erasure removes what identifies them.
    let export: serde_json::Value = member.get(app.url("/me/export")).send().await.unwrap().json().await.unwrap();
    let apps = export["grants"]["applications"].as_array().unwrap();
    assert_eq!(apps[0]["how_it_went"]["reply_by"], "phone");
    assert_eq!(app.submit_with(&member, "/me/delete", "/me/delete", &[]).await.status, 303);
    let kept: Option<i64> = sqlx::query_scalar("SELECT member_id FROM grant_applications WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(kept, None, "the award stays for the accounts, without the person");
    let found = crate::privacy::occurrences(&app, "amara").await;
    assert!(found.is_empty(), "{found:?}");
}

async fn eligibility_is_checked_on_submission_with_clear_reasons(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, round) = fund_and_round(&app, &staff, "groups", "5000", "500").await;
    app.add_member("Sol", "sol@example.org", "member").await;
    app.sign_in("sol@example.org").await;
    let id = start_application(&app, &app.client, round).await;
    let q = question_ids(&app, round).await;
    let page = format!("/grants/applications/{id}");
    let a = answers(&q, "600", "Help.");
    let r = app.submit(&page, &page, &fields(&a, &[("action", "submit")])).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Community Fund is for groups. Apply as a group you are a contact for."), "{}", r.body);
    assert!(r.body.contains("You asked for £600; this fund gives up to £500 for each award."));
    // The draft was kept, and nothing was submitted.
    let stored = store::application(&app.state.db, id).await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.amount_pence), ("draft", Some(60_000)));
    // Once the round has closed, that is the reason given.
    sqlx::query("UPDATE grant_rounds SET rolling = 0, opens_on = '2020-01-01', closes_on = '2020-02-01' WHERE id = $1")
        .bind(round)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let r = app.submit(&page, &page, &fields(&a, &[("action", "submit")])).await;
    assert!(r.body.contains("This round is not taking applications at the moment."));
    // Membership lapsed: refused too.
    sqlx::query("UPDATE members SET status = 'pending' WHERE email = 'sol@example.org'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(app.get(&page).await.status, 403, "only active members reach applications");
}

/// `n` submitted applications of `pence` each in a round of a fund with `budget` (plus `income`).
pub async fn submitted_applications(db: &Db, budget: i64, income: i64, n: usize, pence: i64) -> (i64, Vec<i64>) {
    let fund: i64 = sqlx::query_scalar(
        "INSERT INTO grant_funds (name, purpose, budget_pence, restricted, applicant_type, donations_only, created_at, updated_at) \
         VALUES ('Race fund', 'Testing', $1, 0, 'both', 0, 1, 1) RETURNING id",
    )
    .bind(budget)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO grant_income (fund_id, kind, amount_pence, received_on, source, created_at) VALUES ($1, 'funder_grant', $2, '2026-01-01', 'A trust', 1)")
        .bind(fund)
        .bind(income)
        .execute(&db.pool)
        .await
        .unwrap();
    let round: i64 = sqlx::query_scalar(
        "INSERT INTO grant_rounds (fund_id, title, rolling, budget_pence, who_decides, help, published, created_at) \
         VALUES ($1, 'Race round', 1, $2, 'Staff', 'Ask', 1, 1) RETURNING id",
    )
    .bind(fund)
    .bind(budget)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO grant_applications (round_id, amount_pence, status, listed, created_at, updated_at, submitted_at) \
             VALUES ($1, $2, 'submitted', 0, 1, 1, 1) RETURNING id",
        )
        .bind(round)
        .bind(pence)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        ids.push(id);
    }
    (fund, ids)
}

async fn an_award_never_overspends_a_fund_even_from_many_tasks_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    // £1,000 budget + £500 income = room for exactly 15 awards of £100; 40 try at once.
    let (fund, ids) = submitted_applications(&app.state.db, 100_000, 50_000, 40, 10_000).await;
    // A second connection pool on the same database stands for a second app instance.
    let other = Db::open(&app.state.config).await.unwrap();
    let decider = app.add_member("Decider", "decider@example.org", "staff").await;
    let mut tasks = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let db = if i % 2 == 0 { app.state.db.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let application = store::application(&db, id).await.unwrap().unwrap();
            let d = ValidDecision {
                outcome: Outcome::Award,
                amount_pence: Some(10_000),
                reason: "Yes".into(),
                other_help: String::new(),
            };
            money::decide(&db, &application, &d, decider, None).await
        }));
    }
    let mut awarded = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => awarded += 1,
            Err(DecideError::Overspend { available }) => assert_eq!(available, 0),
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(awarded, 15);
    let totals = store::totals(&app.state.db, fund).await.unwrap();
    assert_eq!((totals.awarded, totals.available()), (150_000, 0));
    let statuses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_applications WHERE status = 'awarded'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(statuses, 15, "only the awarded applications changed");
}

/// A decided round with applications in two regions: `(region, applications, awards)`.
async fn decided_round(app: &TestApp, groups: &[(&str, usize, usize)], individuals: usize) {
    let (_, ids) = submitted_applications(
        &app.state.db,
        10_000_000,
        0,
        groups.iter().map(|g| g.1).sum::<usize>() + individuals,
        25_000,
    )
    .await;
    // Each call makes its own fund and round; name them apart.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_rounds").fetch_one(&app.state.db.pool).await.unwrap();
    sqlx::query("UPDATE grant_rounds SET title = $1 WHERE id = (SELECT MAX(id) FROM grant_rounds)")
        .bind(format!("Round {n}"))
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let mut next = ids.into_iter();
    let decider = app.add_member("Decider", &format!("decider{n}@example.org"), "staff").await;
    for (region, applications, awards) in groups {
        for i in 0..*applications {
            let id = next.next().unwrap();
            let group: i64 = sqlx::query_scalar(
                "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
                 VALUES ($1, 'We meet.', $2, 1, 'public', 1, 1) RETURNING id",
            )
            .bind(format!("{region} group {i}"))
            .bind(region)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
            sqlx::query("UPDATE grant_applications SET group_id = $1, region = $2, first_time = 1, listed = $3, group_size = '2-10' WHERE id = $4")
                .bind(group)
                .bind(region)
                .bind((i % 2) as i64)
                .bind(id)
                .execute(&app.state.db.pool)
                .await
                .unwrap();
            if i < *awards {
                let a = store::application(&app.state.db, id).await.unwrap().unwrap();
                let d = ValidDecision {
                    outcome: Outcome::Award,
                    amount_pence: Some(25_000),
                    reason: "Yes".into(),
                    other_help: String::new(),
                };
                money::decide(&app.state.db, &a, &d, decider, None).await.unwrap();
            }
        }
    }
    for id in next {
        let a = store::application(&app.state.db, id).await.unwrap().unwrap();
        let d = ValidDecision {
            outcome: Outcome::Award,
            amount_pence: Some(25_000),
            reason: "Yes".into(),
            other_help: String::new(),
        };
        money::decide(&app.state.db, &a, &d, decider, None).await.unwrap();
    }
    sqlx::query("UPDATE grant_rounds SET decided_at = 1").execute(&app.state.db.pool).await.unwrap();
}

/// The published figures as a reader gets them from the CSV: (round, dimension, value) →
/// (applications, awards), None where hidden.
type Published = std::collections::BTreeMap<(String, String, String), (Option<i64>, Option<i64>)>;

fn published(csv: &str) -> Published {
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let n = |i: usize| r[i].parse::<i64>().ok();
            ((r[0].to_string(), r[1].to_string(), r[2].to_string()), (n(3), n(4)))
        })
        .collect()
}

/// What a reader can work out from one set of published figures, by the two attacks the outside
/// check used: each total minus the rows shown under it (applications, awards, and declines =
/// applications − awards), and every pair of figures for nested groups (a row's applications
/// minus its awards, a total minus one row). Returns every count under 5 that comes out.
fn attack(figures: &Published) -> Vec<String> {
    let mut found = Vec::new();
    let small = |n: i64| (1..5).contains(&n);
    for ((round, dim, value), (a, w)) in figures {
        if let (Some(a), Some(w)) = (a, w) {
            if small(a - w) {
                found.push(format!("{round} {dim} {value}: {a} applications − {w} awards = {}", a - w));
            }
        }
    }
    let rounds: std::collections::BTreeSet<&String> = figures.keys().map(|k| &k.0).collect();
    for round in rounds {
        let (ta, tw) = figures[&(round.clone(), "All applications".into(), "All".into())];
        for dim in ["Region", "First time or returning", "Group size"] {
            let rows: Vec<&(Option<i64>, Option<i64>)> =
                figures.iter().filter(|(k, _)| &k.0 == round && k.1 == dim).map(|(_, v)| v).collect();
            let measures: [(Option<i64>, Box<dyn Fn(&(Option<i64>, Option<i64>)) -> Option<i64>>); 3] = [
                (ta, Box::new(|r| r.0)),
                (tw, Box::new(|r| r.1)),
                (ta.zip(tw).map(|(a, w)| a - w), Box::new(|r| r.0.zip(r.1).map(|(a, w)| a - w))),
            ];
            for (i, (total, get)) in measures.iter().enumerate() {
                let Some(total) = total else { continue };
                let hidden = rows.iter().filter(|r| get(r).is_none()).count();
                let rest = total - rows.iter().filter_map(|r| get(r)).sum::<i64>();
                if hidden >= 1 && small(rest) {
                    found.push(format!(
                        "{round} {dim} measure {i}: total minus the rows shown leaves {rest} in {hidden} hidden rows"
                    ));
                }
                for r in &rows {
                    if let Some(v) = get(r) {
                        if rows.len() > 1 && small(total - v) && rows.iter().filter(|o| get(o).is_some()).count() == 1 {
                            found.push(format!("{round} {dim} measure {i}: {total} − {v} isolates {}", total - v));
                        }
                    }
                }
            }
        }
    }
    found
}

async fn the_fairness_view_hides_every_figure_under_five_and_whatever_would_give_one_away(backend: Backend) {
    let app = spawn_app(backend).await;
    decided_round(&app, &[("Wales", 8, 6), ("London", 3, 2), ("North East", 9, 2), ("Kent", 12, 7)], 0).await;
    let page = app.get("/grants/fairness").await;
    assert_eq!(page.status, 200);
    let csv = app.get("/grants/fairness.csv").await.body;
    let first = published(&csv);
    let row = |v: &str| first.iter().find(|(k, _)| k.1 == "Region" && k.2 == v).map(|(_, f)| *f).unwrap();
    assert_eq!(row("London"), (None, None), "3 applications");
    assert_eq!(row("Kent"), (Some(12), Some(7)));
    assert_eq!(row("North East").1, None, "2 awards");
    assert_eq!(row("Wales").1, None, "8 − 6 = 2 declined would be worked out");
    assert!(attack(&first).is_empty(), "{:?}", attack(&first));
    let round_row = page.body.split("<th scope=\"row\">Kent</th>").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(round_row.contains("<td>12</td><td>7</td><td>£1,750</td><td>58%</td>"), "{round_row}");

    // The transparency page shows the round's totals as published, through the same rules.
    let round: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM grant_rounds").fetch_one(&app.state.db.pool).await.unwrap();
    let decisions = app.get(&format!("/grants/rounds/{round}/decisions")).await.body;
    assert!(
        decisions.contains("<dt>Applications</dt><dd>32</dd>") && decisions.contains("<dt>Funded</dt><dd>17</dd>"),
        "{decisions}"
    );

    // One more applicant added to the decided round (a late correction) changes nothing
    // published: a second publication would differ from the first by exactly that person.
    let late: i64 = sqlx::query_scalar(
        "INSERT INTO grant_applications (round_id, amount_pence, status, listed, region, created_at, updated_at, submitted_at) \
         VALUES ($1, 100, 'submitted', 0, 'Kent', 1, 1, 1) RETURNING id",
    )
    .bind(round)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let again = published(&app.get("/grants/fairness.csv").await.body);
    assert_eq!(again, first, "a closed period's figures are never recounted in public");
    let staff = app.staff("staff").await;
    let refused = app
        .submit_with(
            &staff,
            &format!("/staff/grants/rounds/{round}"),
            &format!("/staff/grants/rounds/{round}/figures"),
            &[("confirmed", "yes")],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("would change by fewer than 5 people"), "{}", refused.body);
    assert_eq!(published(&app.get("/grants/fairness.csv").await.body), first);
    sqlx::query("DELETE FROM grant_applications WHERE id = $1").bind(late).execute(&app.state.db.pool).await.unwrap();

    // A second round is published beside the first; the first does not move, and the pair of
    // publications together gives nothing away either.
    decided_round(&app, &[("Wales", 6, 5), ("Kent", 1, 1)], 0).await;
    let both = published(&app.get("/grants/fairness.csv").await.body);
    for (key, figure) in &first {
        assert_eq!(both.get(key), Some(figure), "{key:?} moved");
    }
    assert!(attack(&both).is_empty(), "{:?}", attack(&both));
    assert!(!csv.contains(",2,") && !csv.contains(",3,"), "no small count anywhere: {csv}");

    // Staff see the same protection for one round, counted now, and the funder report follows it.
    let staff_csv = app.get_with(&staff, &format!("/staff/grants/rounds/{round}/fairness.csv")).await.body;
    assert!(attack(&published(&staff_csv)).is_empty());
    assert!(staff_csv.contains("Region,London,fewer than 5,fewer than 5"), "{staff_csv}");
    let fund: i64 = sqlx::query_scalar("SELECT MIN(id) FROM grant_funds").fetch_one(&app.state.db.pool).await.unwrap();
    let report = app.get_with(&staff, &format!("/staff/grants/funds/{fund}/report.csv")).await.body;
    assert!(
        report.contains("Region,London: applications,fewer than 5") && report.contains("Money,Awarded,4250.00"),
        "{report}"
    );
}

/// A community named by fewer than 5 applicants is counted under "other", never shown by name.
async fn community_names_chosen_by_few_are_grouped_as_other(backend: Backend) {
    let app = spawn_app(backend).await;
    decided_round(&app, &[("Wales", 12, 6)], 0).await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM grant_applications ORDER BY id")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    for (i, id) in ids.iter().enumerate() {
        let community = match i {
            0 => "Deaf farmers of Ceredigion",
            1..=6 => "Peer support",
            _ => "Peer support; Carers",
        };
        sqlx::query("UPDATE grant_applications SET community = $1 WHERE id = $2")
            .bind(community)
            .bind(id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
    }
    let page = app.get("/grants/fairness").await.body;
    assert!(!page.contains("Deaf farmers"), "a name one applicant chose is not published");
    assert!(page.contains("Other communities (each named by fewer than 5 applicants)"));
    assert!(page.contains("<th scope=\"row\">Peer support</th><td>11</td>"), "{page}");
    assert!(page.contains("<th scope=\"row\">Carers</th><td>5</td>"));
}

async fn validate_360giving(doc: &serde_json::Value) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/360giving");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
    };
    let package = read("360-giving-package-schema.json");
    let grant = read("360-giving-schema.json");
    let reference = package["properties"]["grants"]["items"]["$ref"].as_str().unwrap().to_string();
    let registry = jsonschema::Registry::new().add(&reference, grant).unwrap().prepare().unwrap();
    let validator =
        jsonschema::options().offline().should_validate_formats(true).with_registry(&registry).build(&package).unwrap();
    validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

async fn open_data_is_valid_360giving_and_names_no_individual(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.giving360_prefix = Some("ab-cde".into());
        s.funder_org_id = Some("GB-CHC-1234567".into());
    })
    .await;
    decided_round(&app, &[("Wales", 2, 2)], 1).await;
    // One group is a registered charity; one award is to an unlisted group; one to a person.
    sqlx::query(
        "UPDATE grant_awards SET recipient_org_id = 'GB-CHC-7654321' WHERE id = (SELECT MIN(id) FROM grant_awards)",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE grant_funds SET regrant_type = 'FRG040'").execute(&app.state.db.pool).await.unwrap();
    let r = app.client.get(app.url("/grants/open-data.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    let errors = validate_360giving(&doc).await;
    assert!(errors.is_empty(), "360Giving schema errors:\n{}", errors.join("\n"));
    let grants = doc["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 3);
    assert!(grants.iter().all(|g| g["id"].as_str().unwrap().starts_with("360G-ab-cde-")));
    assert_eq!(grants[0]["recipientOrganization"][0]["id"], "GB-CHC-7654321");
    assert_eq!(grants[0]["recipientOrganization"][0]["name"], "Unnamed community group", "not listed");
    assert_eq!(grants[1]["recipientOrganization"][0]["name"], "Wales group 1");
    // Identifiers are opaque: no internal id that leads to a page (an unlisted group is still at
    // /groups/<id>), and the same from one publication to the next.
    let hex16 = |id: &str, prefix: &str| {
        id.strip_prefix(prefix).is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    for g in grants {
        assert!(hex16(g["id"].as_str().unwrap(), "360G-ab-cde-"), "{}", g["id"]);
    }
    assert!(hex16(grants[1]["recipientOrganization"][0]["id"].as_str().unwrap(), "360G-ab-cde-GROUP-"));
    assert!(hex16(grants[2]["recipientIndividual"]["id"].as_str().unwrap(), "360G-ab-cde-IND-"));
    let again: serde_json::Value =
        app.client.get(app.url("/grants/open-data.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["grants"], doc["grants"], "stable");
    assert_eq!(grants[2]["recipientIndividual"]["name"], "Individual Recipient");
    assert_eq!(grants[2]["fundingOrganization"][0]["id"], "GB-CHC-1234567");
    assert_eq!(grants[2]["regrantType"], "FRG040");
    assert_eq!(grants[2]["amountAwarded"], 250.0);
    // An invalid document is caught: the check is real.
    let mut broken = doc.clone();
    broken["grants"][0].as_object_mut().unwrap().remove("awardDate");
    assert!(!validate_360giving(&broken).await.is_empty());
    let csv = app.get("/grants/open-data.csv").await.body;
    let header = csv.lines().next().unwrap();
    assert!(header.contains("Identifier,Title,Description,Currency,Amount Applied For,Amount Awarded,Award Date,Recipient Org:Identifier,Recipient Org:Name,Recipient Ind:Identifier,Recipient Ind:Name"));
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.contains("Individual Recipient"));
}

async fn donations_feed_the_pot_and_a_donor_is_erased_except_their_gift_aid_declaration(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let r = app
        .submit_with(
            &staff,
            "/staff/grants",
            "/staff/grants/funds",
            &[
                ("name", "Small costs pot"),
                ("purpose", "Bus fares and tea."),
                ("budget", ""),
                ("restricted", "yes"),
                ("applicant_type", "both"),
                ("cap", "50"),
                ("criteria", "Need: it removes a small barrier"),
                ("regrant_type", ""),
                ("donations_only", "yes"),
            ],
        )
        .await;
    let pot = r.created_id();
    let pot_s = pot.to_string();
    // Gift Aid without the statement is refused, keeping what was typed.
    let base = [
        ("fund_id", pot_s.as_str()),
        ("amount", "20"),
        ("received_on", "2026-04-05"),
        ("donor_name", "Dana Whitlock"),
        ("gift_aid", "yes"),
        ("ga_full_name", "Dana Whitlock"),
        ("ga_house", "12"),
        ("ga_postcode", "ls1 1aa"),
        ("ga_covers", "all"),
    ];
    let r = app.submit_with(&staff, "/staff/grants/donations", "/staff/grants/donations", &base).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("must confirm the taxpayer statement") && r.body.contains("value=\"Dana Whitlock\""));
    let mut full = base.to_vec();
    full.push(("ga_statement", "yes"));
    assert_eq!(app.submit_with(&staff, "/staff/grants/donations", "/staff/grants/donations", &full).await.status, 303);
    let anonymous = [("fund_id", pot_s.as_str()), ("amount", "5"), ("received_on", "2026-04-06")];
    assert_eq!(
        app.submit_with(&staff, "/staff/grants/donations", "/staff/grants/donations", &anonymous).await.status,
        303
    );
    let totals = store::totals(&app.state.db, pot).await.unwrap();
    assert_eq!(totals.available(), 2_500, "the pot is its donations");
    // Funder income cannot go into the pot.
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/grants/funds/{pot}"),
            &format!("/staff/grants/funds/{pot}/income"),
            &[("income_amount", "100"), ("income_received_on", "2026-04-01"), ("income_source", "Trust")],
        )
        .await;
    assert_eq!(r.status, 422);
    // The donor's data downloads, then is erased; the declaration stays for six years.
    let donor: i64 = sqlx::query_scalar("SELECT id FROM grant_donors").fetch_one(&app.state.db.pool).await.unwrap();
    let export: serde_json::Value =
        staff.get(app.url(&format!("/staff/grants/donors/{donor}/export"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(export["name"], "Dana Whitlock");
    assert_eq!(export["gift_aid_declarations"][0]["kept_until"], "2032-04-05");
    assert_eq!(export["gift_aid_declarations"][0]["postcode"], "LS1 1AA");
    let r = app
        .submit_with(
            &staff,
            "/staff/grants/donations",
            &format!("/staff/grants/donors/{donor}/erase"),
            &[("confirmed", "yes")],
        )
        .await;
    assert_eq!(r.status, 303);
    let found = crate::privacy::occurrences(&app, "Dana Whitlock").await;
    assert_eq!(found, vec!["gift_aid_declarations.full_name".to_string()], "only the declaration keeps the name");
    assert_eq!(store::totals(&app.state.db, pot).await.unwrap().income, 2_500, "the money stays");
    // After the legal period housekeeping deletes it.
    let after = constellate::core::time::local_to_unix("2032-04-06", "12:00").unwrap();
    app.state.chores.run_all(&app.state, after).await;
    assert!(crate::privacy::occurrences(&app, "Dana Whitlock").await.is_empty());
}

async fn bank_details_are_stored_only_when_turned_on_and_then_encrypted(backend: Backend) {
    for on in [false, true] {
        let app = spawn_app_with(backend, |s| s.store_bank_details = Some(on)).await;
        let (_, ids) = submitted_applications(&app.state.db, 100_000, 0, 1, 10_000).await;
        let a = store::application(&app.state.db, ids[0]).await.unwrap().unwrap();
        let d = ValidDecision {
            outcome: Outcome::AwardDifferent,
            amount_pence: Some(8_000),
            reason: "Yes".into(),
            other_help: String::new(),
        };
        let staff = app.staff("staff").await;
        money::decide(&app.state.db, &a, &d, 1, None).await.unwrap();
        let award = money::award_of(&app.state.db, a.id).await.unwrap().unwrap();
        let page = format!("/staff/grants/applications/{}", a.id);
        assert_eq!(app.get_with(&staff, &page).await.body.contains("Bank details"), on);
        let bank = format!("/staff/grants/awards/{}/bank", award.id);
        let r = app
            .submit_with(
                &staff,
                &page,
                &bank,
                &[("account_name", "Hearing Voices"), ("sort_code", "30-90-12"), ("account_number", "12345678")],
            )
            .await;
        if !on {
            assert_eq!(r.status, 404);
            continue;
        }
        assert_eq!(r.status, 303);
        assert!(crate::privacy::occurrences(&app, "12345678").await.is_empty(), "encrypted at rest");
        let t = today();
        app.submit_with(
            &staff,
            &page,
            &format!("/staff/grants/awards/{}/payments", award.id),
            &[("due_on", &t), ("payment_amount", "80")],
        )
        .await;
        let csv = app.get_with(&staff, "/staff/grants/payments.csv").await.body;
        assert!(csv.contains("Hearing Voices,309012,12345678,80.00,GRANT"), "{csv}");
    }
}

async fn a_member_withdraws_and_staff_cannot_award_above_the_cap(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, round) = fund_and_round(&app, &staff, "both", "5000", "500").await;
    app.add_member("Wren", "wren@example.org", "member").await;
    app.sign_in("wren@example.org").await;
    let q = question_ids(&app, round).await;
    let a = answers(&q, "400", "Tea and biscuits.");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = start_application(&app, &app.client, round).await;
        let page = format!("/grants/applications/{id}");
        assert_eq!(app.submit(&page, &page, &fields(&a, &[("action", "submit")])).await.status, 303);
        ids.push(id);
    }
    // Withdrawn: the status and a message say so, and the panel no longer sees it.
    let page = format!("/grants/applications/{}", ids[0]);
    let r = app.submit(&page, &format!("{page}/withdraw"), &[]).await;
    assert_eq!(r.status, 303);
    let mine = app.get(&page).await;
    assert!(mine.body.contains("Withdrawn") && mine.body.contains("You withdrew this application"));
    let table = app.get_with(&staff, &format!("/staff/grants/rounds/{round}/scores")).await;
    assert!(!table.body.contains(&format!("/staff/grants/applications/{}\"", ids[0])));
    // A different amount above the fund's cap is refused with the cap named.
    let decide = format!("/staff/grants/applications/{}", ids[1]);
    let r = app
        .submit_with(
            &staff,
            &decide,
            &format!("{decide}/decide"),
            &[("outcome", "award_different"), ("amount", "600"), ("reason", "More than asked.")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("This fund gives up to £500 for each award") && r.body.contains("More than asked."));
    assert!(money::award_of(&app.state.db, ids[1]).await.unwrap().is_none());
}

async fn staff_change_a_round_s_dates_and_budget_until_its_decisions_are_published(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let (_, round) = fund_and_round(&app, &staff, "both", "5000", "500").await;
    let edit = format!("/staff/grants/rounds/{round}/edit");
    let page = app.get_with(&staff, &format!("/staff/grants/rounds/{round}")).await;
    assert!(page.body.contains(&format!("href=\"{edit}\"")), "the round page links to its edit page");
    let form = app.get_with(&staff, &edit).await;
    assert!(form.body.contains("value=\"Spring round\"") && form.body.contains("value=\"£5,000\""), "{}", form.body);

    // Bad input: an error summary, inline errors, and what was typed kept.
    let typed = [
        ("title", "Spring round, extended"),
        ("timing", "dates"),
        ("opens_on", "2026-03-01"),
        ("closes_on", "2026-02-01"),
        ("budget", "lots"),
        ("who_decides", "A panel of members and staff"),
        ("help", "Call us"),
    ];
    let r = app.submit_with(&staff, &edit, &edit, &typed).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("There is a problem"), "{}", r.body);
    assert!(r.body.contains("The closing date must be on or after the opening date"));
    assert!(r.body.contains("Enter an amount in pounds"));
    assert!(r.body.contains("value=\"Spring round, extended\""));
    let unchanged = store::round(&app.state.db, round).await.unwrap().unwrap();
    assert_eq!((unchanged.title.as_str(), unchanged.rolling), ("Spring round", true));

    // Good input is saved and shows on the public page.
    let good = [("closes_on", "2026-12-31"), ("budget", "£6,500.50")];
    let fields: Vec<(&str, &str)> =
        typed.iter().map(|(k, v)| (*k, good.iter().find(|(g, _)| g == k).map_or(*v, |(_, g)| *g))).collect();
    let r = app.submit_with(&staff, &edit, &edit, &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let saved = store::round(&app.state.db, round).await.unwrap().unwrap();
    assert_eq!(saved.title, "Spring round, extended");
    assert_eq!((saved.rolling, saved.closes_on.as_deref(), saved.budget_pence), (false, Some("2026-12-31"), 650_050));
    let public = app.get(&format!("/grants/rounds/{round}")).await;
    assert!(
        public.body.contains("Spring round, extended") && public.body.contains("closes 31 December 2026"),
        "{}",
        public.body
    );

    // Once decisions are published the details stay as they were.
    let r = app
        .submit_with(
            &staff,
            &format!("/staff/grants/rounds/{round}"),
            &format!("/staff/grants/rounds/{round}/decisions"),
            &[("confirmed", "yes")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(app.get_with(&staff, &edit).await.status, 400);
    let page = app.get_with(&staff, &format!("/staff/grants/rounds/{round}")).await;
    assert!(!page.body.contains(&format!("href=\"{edit}\"")), "no edit link once decided");
}

async fn staff_change_a_fund_but_not_criteria_already_scored_nor_a_budget_below_its_awards(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.state.db;
    // £1,000 budget, £500 income, one application for £1,200.
    let (fund, ids) = submitted_applications(db, 100_000, 50_000, 1, 120_000).await;
    sqlx::query("INSERT INTO grant_criteria (fund_id, position, title, description) VALUES ($1, 0, 'Reach', 'It reaches people')")
        .bind(fund)
        .execute(&db.pool)
        .await
        .unwrap();
    let staff = app.staff("staff").await;
    let edit = format!("/staff/grants/funds/{fund}/edit");
    assert!(app
        .get_with(&staff, &format!("/staff/grants/funds/{fund}"))
        .await
        .body
        .contains(&format!("href=\"{edit}\"")));
    let form = app.get_with(&staff, &edit).await.body;
    assert!(form.contains("value=\"Race fund\"") && form.contains("Reach: It reaches people"), "{form}");
    let fields = |name: &'static str, budget: &'static str, criteria: &'static str| {
        vec![
            ("name", name),
            ("purpose", "Testing"),
            ("budget", budget),
            ("restricted", "no"),
            ("applicant_type", "both"),
            ("cap", ""),
            ("criteria", criteria),
            ("regrant_type", ""),
        ]
    };
    let two = "Reach: It reaches people\nLed by lived experience: run by people who have been there";

    let r = app.submit_with(&staff, &edit, &edit, &fields("", "1000", two)).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("There is a problem") && r.body.contains("Enter the fund&#39;s name"), "{}", r.body);
    assert!(r.body.contains("run by people who have been there"), "what was typed is kept");

    // Before any score, the criteria can change.
    let r = app.submit_with(&staff, &edit, &edit, &fields("Race fund", "1000", two)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let criteria = store::criteria(db, fund).await.unwrap();
    assert_eq!(criteria.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(), ["Reach", "Led by lived experience"]);

    // An award of £1,200 and a panel score later, neither may be undone by an edit.
    let decider = app.add_member("Decider", "decider@example.org", "staff").await;
    let application = store::application(db, ids[0]).await.unwrap().unwrap();
    let award = ValidDecision {
        outcome: Outcome::Award,
        amount_pence: Some(120_000),
        reason: "Yes".into(),
        other_help: String::new(),
    };
    money::decide(db, &application, &award, decider, None).await.unwrap();
    sqlx::query("INSERT INTO grant_scores (application_id, member_id, criterion_id, score, note, scored_at) VALUES ($1, $2, $3, 3, '', 1)")
        .bind(ids[0])
        .bind(decider)
        .bind(criteria[0].id)
        .execute(&db.pool)
        .await
        .unwrap();
    let r = app.submit_with(&staff, &edit, &edit, &fields("Race fund", "500", "Reach: It reaches people")).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("The budget cannot be less than £700"), "{}", r.body);
    assert!(r.body.contains("A panel has already scored against these criteria"));
    let r = app.submit_with(&staff, &edit, &edit, &fields("Race fund, renamed", "700", two)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let fund_now = store::fund(db, fund).await.unwrap().unwrap();
    assert_eq!((fund_now.name.as_str(), fund_now.budget_pence), ("Race fund, renamed", 70_000));
    let scores: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_scores").fetch_one(&db.pool).await.unwrap();
    assert_eq!(scores, 1, "the criteria and their scores stay");
}

/// The scoring table shows what is stored: once a panel member declares a conflict on an
/// application they had scored, their score no longer counts and the conflict does.
async fn a_conflict_declared_after_scoring_takes_the_score_out_of_the_staff_table(backend: Backend) {
    let app = spawn_app(backend).await;
    let (fund, ids) = submitted_applications(&app.state.db, 100_000, 0, 1, 10_000).await;
    let id = ids[0];
    let criterion: i64 = sqlx::query_scalar(
        "INSERT INTO grant_criteria (fund_id, position, title, description) VALUES ($1, 1, 'Led by members', 'x') RETURNING id",
    )
    .bind(fund)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let round: i64 = sqlx::query_scalar("SELECT round_id FROM grant_applications WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let panelist = app.add_member("Pat Panel", "pat@example.org", "member").await;
    sqlx::query(
        "INSERT INTO grant_panel_members (round_id, member_id, shown_as, paid, added_at) VALUES ($1, $2, NULL, 1, 1)",
    )
    .bind(round)
    .bind(panelist)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let pat = app.client_signed_in_as(panelist).await;
    let page = format!("/panel/applications/{id}");
    let r = app.submit_with(&pat, &page, &page, &[(format!("score{criterion}").as_str(), "3")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let staff = app.staff("staff").await;
    let table = || async { app.get_with(&staff, &format!("/staff/grants/rounds/{round}/scores")).await.body };
    let row = |body: String| body.split("<tbody>").nth(1).unwrap().split("</tr>").next().unwrap().to_string();
    let before = row(table().await);
    assert!(before.contains("<td>1</td><td>3</td><td>3.0</td><td>0</td><td>0</td>"), "scored once: {before}");
    let r = app.submit_with(&pat, &page, &format!("{page}/conflict"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let after = row(table().await);
    assert!(
        after.contains("<td>0</td><td>0</td><td>–</td><td>0</td><td>1</td>"),
        "score gone, conflict counted: {after}"
    );
}
