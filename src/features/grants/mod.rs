//! Grants: funds (and the small-costs pot fed by donations), rounds with short forms, member
//! applications, participatory panels with conflicts and scores, decisions with reasons,
//! awards that never overspend a fund, payments, a light follow-up, the fairness view and
//! 360Giving open data.
pub mod apply;
pub mod decide;
pub mod domain;
pub mod donations;
pub mod fairness;
pub mod follow_up;
pub mod money;
pub mod open_data;
pub mod panel;
pub mod public;
pub mod staff;
pub mod store;
pub mod workspace;

use serde_json::{json, Value};
use sqlx::AnyConnection;

use crate::core::{
    access::{Access, Routes},
    error::AppResult,
    housekeeping::Chores,
    state::AppState,
    time::rfc3339,
};

pub fn routes() -> Routes {
    Routes::default()
        // Anyone: rounds, decisions, who the money reaches, open data.
        .get("/grants", Access::Public, public::index)
        .get("/grants/rounds/{id}", Access::Public, public::round_page)
        .get("/grants/rounds/{id}/decisions", Access::Public, public::transparency)
        .get("/grants/fairness", Access::Public, fairness::public)
        .get("/grants/fairness.csv", Access::Public, fairness::public_csv)
        .get("/grants/open-data.json", Access::Public, open_data::json_export)
        .get("/grants/open-data.csv", Access::Public, open_data::csv_export)
        // Members applying.
        .post("/grants/rounds/{id}/apply", Access::Member, apply::start)
        .get("/grants/mine", Access::Member, apply::mine)
        .get("/grants/applications/{id}", Access::Owner, apply::application_page)
        .post("/grants/applications/{id}", Access::Owner, apply::save)
        .post("/grants/applications/{id}/withdraw", Access::Owner, apply::withdraw)
        .get("/grants/applications/{id}/follow-up", Access::Owner, follow_up::follow_up_page)
        .post("/grants/applications/{id}/follow-up", Access::Owner, follow_up::send_reply)
        // Panel members (staff or members on a round's panel).
        .get("/panel/rounds/{id}", Access::Panel, panel::round_page)
        .get("/panel/applications/{id}", Access::Panel, panel::application_page)
        .post("/panel/applications/{id}", Access::Panel, panel::score)
        .post("/panel/applications/{id}/conflict", Access::Panel, panel::declare_conflict)
        // Staff: funds, income, rounds.
        .get("/staff/grants", Access::Staff, staff::funds)
        .post("/staff/grants/funds", Access::Staff, staff::create_fund)
        .get("/staff/grants/funds/{id}", Access::Staff, staff::fund_page)
        .get("/staff/grants/funds/{id}/edit", Access::Staff, staff::edit_fund_page)
        .post("/staff/grants/funds/{id}/edit", Access::Staff, staff::update_fund)
        .post("/staff/grants/funds/{id}/income", Access::Staff, staff::record_income)
        .post("/staff/grants/funds/{id}/rounds", Access::Staff, staff::create_round)
        .get("/staff/grants/funds/{id}/report", Access::Staff, fairness::funder_report)
        .get("/staff/grants/funds/{id}/report.csv", Access::Staff, fairness::funder_report_csv)
        .get("/staff/grants/rounds/{id}", Access::Staff, staff::round_page)
        .get("/staff/grants/rounds/{id}/edit", Access::Staff, staff::edit_round_page)
        .post("/staff/grants/rounds/{id}/edit", Access::Staff, staff::update_round)
        .post("/staff/grants/rounds/{id}/questions", Access::Staff, staff::add_question)
        .post("/staff/grants/rounds/{id}/questions/{question}/remove", Access::Staff, staff::remove_question)
        .post("/staff/grants/rounds/{id}/panel", Access::Staff, staff::add_panel_member)
        .post("/staff/grants/rounds/{id}/publish", Access::Staff, staff::publish)
        .post("/staff/grants/rounds/{id}/decisions", Access::Staff, staff::publish_decisions)
        .post("/staff/grants/rounds/{id}/on-behalf", Access::Staff, staff::on_behalf)
        .get("/staff/grants/rounds/{id}/scores", Access::Staff, panel::scoring_table)
        .get("/staff/grants/rounds/{id}/fairness", Access::Staff, fairness::round)
        .get("/staff/grants/rounds/{id}/fairness.csv", Access::Staff, fairness::round_csv)
        .post("/staff/grants/rounds/{id}/figures", Access::Staff, fairness::republish)
        // Staff: applications, decisions, payments.
        .get("/staff/grants/applications/{id}", Access::Staff, decide::application_page)
        .get("/staff/grants/applications/{id}/edit", Access::Staff, staff::edit_page)
        .post("/staff/grants/applications/{id}/edit", Access::Staff, staff::edit)
        .post("/staff/grants/applications/{id}/decide", Access::Staff, decide::decide)
        .post("/staff/grants/awards/{id}/payments", Access::Staff, decide::schedule_payment)
        .post("/staff/grants/awards/{id}/bank", Access::Staff, decide::bank_details)
        .post("/staff/grants/payments/{id}/paid", Access::Staff, decide::mark_paid)
        .get("/staff/grants/payments.csv", Access::Staff, decide::bank_export)
        // Staff: donations and donors.
        .get("/staff/grants/donations", Access::Staff, donations::donations)
        .post("/staff/grants/donations", Access::Staff, donations::record)
        .get("/staff/grants/donors/{id}/export", Access::Staff, donations::export)
        .post("/staff/grants/donors/{id}/erase", Access::Staff, donations::erase)
}

pub fn chores(chores: Chores) -> Chores {
    chores
        .add("grant follow-up messages that are due", follow_up::send_due)
        .add("Gift Aid declarations past their legal keeping period", donations::forget_expired_declarations)
}

/// A member's applications (answers, status, messages, follow-up), and their panel work.
pub async fn member_data(state: &AppState, member_id: i64) -> AppResult<Value> {
    let mut applications = Vec::new();
    for app in store::applications_where(&state.db, "a.member_id = $1", member_id).await? {
        let answers = store::answered(&state.db, &app).await?;
        let award = money::award_of(&state.db, app.id).await?;
        let follow_up = match &award {
            Some(a) => follow_up::reply(&state.db, a.id).await?,
            None => None,
        };
        applications.push(json!({
            "id": app.id,
            "round": app.round_title,
            "for_group": app.group_name,
            "status": app.status_text(),
            "amount_asked_pence": app.amount_pence,
            "amount_awarded_pence": award.as_ref().map(|a| a.amount_pence),
            "entered_for_you_by": app.entered_by_name,
            "group_size": app.group_size,
            "agreed_to_be_listed": app.listed,
            "started_at": rfc3339(app.created_at),
            "submitted_at": app.submitted_at.map(rfc3339),
            "answers": answers.iter().map(|(q, v)| json!({"question": q.label, "answer": v})).collect::<Vec<_>>(),
            "messages": store::messages(&state.db, app.id).await?.iter().map(|(d, m)| json!({"date": d, "message": m})).collect::<Vec<_>>(),
            "how_it_went": follow_up.map(|f| json!({
                "what_happened": f.what_happened, "difference": f.difference, "learning": f.learning,
                "reply_by": f.reply_by, "link": f.link,
            })),
        }));
    }
    let panels: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT r.title, p.shown_as FROM grant_panel_members p JOIN grant_rounds r ON r.id = p.round_id WHERE p.member_id = $1 ORDER BY r.id",
    )
    .bind(member_id)
    .fetch_all(&state.db.pool)
    .await?;
    let scores: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "SELECT s.application_id, c.title, s.score, s.note FROM grant_scores s JOIN grant_criteria c ON c.id = s.criterion_id \
         WHERE s.member_id = $1 ORDER BY s.application_id, c.position",
    )
    .bind(member_id)
    .fetch_all(&state.db.pool)
    .await?;
    let conflicts: Vec<(i64,)> = sqlx::query_as("SELECT application_id FROM grant_conflicts WHERE member_id = $1")
        .bind(member_id)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(json!({
        "applications": applications,
        "panels": panels.iter().map(|(r, s)| json!({"round": r, "shown_publicly_as": s})).collect::<Vec<_>>(),
        "scores_you_gave": scores.iter().map(|(a, c, s, n)| json!({"application": a, "criterion": c, "score": s, "note": n})).collect::<Vec<_>>(),
        "conflicts_you_declared": conflicts.iter().map(|(a,)| a).collect::<Vec<_>>(),
    }))
}

/// Erase a member's part of grants. Drafts go. Applications that were sent stay as counts and
/// money records (awards and payments must be accounted for) without the person: their answers,
/// messages, follow-up reply, bank details and self-described community are deleted, and the
/// application no longer points to them. A group's application keeps the group's answers. Their
/// panel seats, conflicts and scores go; decisions and records they made as staff lose their name.
///
/// A donor record under their address is erased as staff would erase it (its Gift Aid
/// declaration is kept for its legal period), and for an individual's application the written
/// reasons for the decision go too: they were about that person.
pub async fn erase_member_data(
    conn: &mut AnyConnection,
    member_id: i64,
    email: Option<&str>,
) -> Result<(), sqlx::Error> {
    let own = "SELECT id FROM grant_applications WHERE member_id = $1";
    let individual = "SELECT id FROM grant_applications WHERE member_id = $1 AND group_id IS NULL";
    let statements = [
        format!("DELETE FROM grant_answers WHERE application_id IN ({own} AND status = 'draft')"),
        format!("DELETE FROM grant_messages WHERE application_id IN ({own} AND status = 'draft')"),
        "DELETE FROM grant_applications WHERE member_id = $1 AND status = 'draft'".to_string(),
        format!("DELETE FROM grant_answers WHERE application_id IN ({individual})"),
        format!("DELETE FROM grant_messages WHERE application_id IN ({own})"),
        format!("DELETE FROM grant_follow_ups WHERE award_id IN (SELECT id FROM grant_awards WHERE application_id IN ({own}))"),
        format!("UPDATE grant_awards SET bank_details_enc = NULL WHERE application_id IN ({individual})"),
        format!("UPDATE grant_decisions SET reason = '', other_help = '' WHERE application_id IN ({individual})"),
        "UPDATE grant_applications SET community = NULL, member_id = NULL WHERE member_id = $1".to_string(),
        "UPDATE grant_applications SET entered_by = NULL, entered_by_name = 'a former member of staff' WHERE entered_by = $1".to_string(),
        "DELETE FROM grant_panel_members WHERE member_id = $1".to_string(),
        "DELETE FROM grant_conflicts WHERE member_id = $1".to_string(),
        "DELETE FROM grant_scores WHERE member_id = $1".to_string(),
        "UPDATE grant_decisions SET decided_by = NULL WHERE decided_by = $1".to_string(),
        "UPDATE grant_income SET recorded_by = NULL WHERE recorded_by = $1".to_string(),
    ];
    let scored: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT application_id FROM grant_scores WHERE member_id = $1 \
         UNION SELECT application_id FROM grant_conflicts WHERE member_id = $1",
    )
    .bind(member_id)
    .fetch_all(&mut *conn)
    .await?;
    for sql in statements {
        sqlx::query(&sql).bind(member_id).execute(&mut *conn).await?;
    }
    for (application_id,) in scored {
        panel::refresh_summary(conn, application_id).await?;
    }
    if let Some(email) = email {
        let donors: Vec<i64> = sqlx::query_scalar("SELECT id FROM grant_donors WHERE email = $1")
            .bind(email)
            .fetch_all(&mut *conn)
            .await?;
        for donor in donors {
            donations::erase_donor(conn, donor).await?;
        }
    }
    Ok(())
}
