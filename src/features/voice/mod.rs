//! Voice: open letters and petitions that show who signed, as they chose to be shown, and
//! survive a viral day; members' requests for campaign support, triaged with the network's
//! decision matrix and always answered.
pub mod domain;
pub mod public;
pub mod staff_letters;
pub mod store;
pub mod support;
pub mod workspace;
pub mod writer;

use serde_json::{json, Value};
use sqlx::AnyConnection;

use crate::core::{
    access::{Access, Routes},
    error::AppResult,
    housekeeping::{ChoreFuture, Chores},
    state::AppState,
    time::{local_date, rfc3339},
};

pub fn job_handlers(handlers: crate::core::jobs::Handlers) -> crate::core::jobs::Handlers {
    handlers.add(staff_letters::KIND_UPDATE, staff_letters::send_update)
}

pub fn routes() -> Routes {
    Routes::default()
        // Letters, in public.
        .get("/letters", Access::Public, public::letters)
        .get("/letters/{slug}", Access::Public, public::letter)
        .post("/letters/{slug}/sign", Access::Public, public::sign)
        .get("/letters/{slug}/check-email", Access::Public, public::check_email)
        .post("/letters/{slug}/cosign", Access::Member, public::cosign)
        .get("/signatures/confirm/{token}", Access::Public, public::confirm_page)
        .post("/signatures/confirm/{token}", Access::Public, public::confirm)
        .get("/signatures/updates-off/{token}", Access::Public, public::updates_off_page)
        .post("/signatures/updates-off/{token}", Access::Public, public::updates_off)
        // Letters, for staff.
        .get("/staff/letters", Access::Staff, staff_letters::list)
        .get("/staff/letters/new", Access::Staff, staff_letters::new_page)
        .post("/staff/letters/new", Access::Staff, staff_letters::create)
        .get("/staff/letters/{id}", Access::Staff, staff_letters::edit_page)
        .post("/staff/letters/{id}", Access::Staff, staff_letters::save)
        .post("/staff/letters/{id}/organisations", Access::Staff, staff_letters::add_organisation)
        .post("/staff/letters/{id}/updates", Access::Staff, staff_letters::post_update)
        .get("/staff/letters/{id}/signatories.csv", Access::Staff, staff_letters::export_csv)
        .get("/staff/letters/{id}/print", Access::Staff, staff_letters::printable)
        .get("/staff/letters/{id}/signatures", Access::Staff, staff_letters::signatures_page)
        .post("/staff/letters/{id}/signatures/{signature}/remove", Access::Staff, staff_letters::remove_signature)
        // Campaign support.
        .get("/support", Access::Member, support::support_page)
        .post("/support", Access::Member, support::ask_support)
        .get("/support/alert", Access::Member, support::alert_page)
        .post("/support/alert", Access::Member, support::send_alert)
        .get("/support/mine", Access::Member, support::mine)
        .get("/staff/support", Access::Staff, support::staff_list)
        .get("/staff/support/{id}", Access::Staff, support::triage)
        .post("/staff/support/{id}", Access::Staff, support::decide)
        .post("/staff/support/{id}/narrative", Access::Staff, support::add_narrative)
}

pub fn chores(chores: Chores) -> Chores {
    chores
        .add("letters past their closing date", close_past_letters)
        .add("unconfirmed letter signatures", forget_unconfirmed_signatures)
        .add("signer emails after a letter closed", forget_signer_emails)
}

/// The signature writer's channel and the in-memory signing limit.
pub fn area_state(areas: &mut axum::http::Extensions) {
    areas.insert(std::sync::Arc::new(writer::Signatures::default()));
}

/// An open letter closes once its closing date has passed in the network's time zone (the
/// date is the last day it takes signatures).
fn close_past_letters(state: &AppState, now: i64) -> ChoreFuture<'_> {
    Box::pin(async move {
        let closed = sqlx::query(
            "UPDATE letters SET status = 'closed', closed_at = $1, updated_at = $1 \
             WHERE status = 'open' AND closes_on IS NOT NULL AND closes_on < $2",
        )
        .bind(now)
        .bind(local_date(now))
        .execute(&state.db.pool)
        .await?;
        Ok(closed.rows_affected())
    })
}

/// Signatures never confirmed are deleted after a week, with their queued confirmation email
/// (if it never went out, it need not).
fn forget_unconfirmed_signatures(state: &AppState, now: i64) -> ChoreFuture<'_> {
    Box::pin(async move {
        let cutoff = now - public::UNCONFIRMED_DAYS * 86_400;
        let mut tx = state.db.begin().await?;
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM letter_signatures WHERE confirmed_at IS NULL AND created_at < $1")
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
        writer::forget_jobs_of(&mut tx, &ids).await?;
        let gone = sqlx::query("DELETE FROM letter_signatures WHERE confirmed_at IS NULL AND created_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(gone.rows_affected())
    })
}

/// Signer emails are deleted `signer_email_days` after the letter closes, unless the signer
/// asked for updates or is a member (whose address the network holds anyway). The signature
/// and name stay: the letter still shows who signed.
fn forget_signer_emails(state: &AppState, now: i64) -> ChoreFuture<'_> {
    Box::pin(async move {
        let gone = sqlx::query(
            "UPDATE letter_signatures SET email = NULL WHERE email IS NOT NULL AND wants_updates = 0 \
             AND letter_id IN (SELECT id FROM letters WHERE closed_at IS NOT NULL AND closed_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM members m WHERE m.email = letter_signatures.email)",
        )
        .bind(now - state.config.signer_email_days * 86_400)
        .execute(&state.db.pool)
        .await?;
        Ok(gone.rows_affected())
    })
}

/// A member's signatures (by their address), their requests to the network, and what they
/// wrote in narrative records.
pub async fn member_data(state: &AppState, member_id: i64) -> AppResult<Value> {
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM members WHERE id = $1")
        .bind(member_id)
        .fetch_optional(&state.db.pool)
        .await?;
    let signatures: Vec<(String, String, Option<String>, Option<String>, Option<String>, Option<String>, String, i64, i64, Option<i64>)> =
        sqlx::query_as(
            "SELECT l.title, s.name, s.organisation, s.role, s.place, s.comment, s.display, s.wants_updates, s.created_at, s.confirmed_at \
             FROM letter_signatures s JOIN letters l ON l.id = s.letter_id WHERE s.email = $1 ORDER BY s.id",
        )
        .bind(email)
        .fetch_all(&state.db.pool)
        .await?;
    let requests: Vec<(String, String, String, String, Option<String>, Option<String>, Option<String>, i64)> =
        sqlx::query_as(
            "SELECT kind, title, description, status, deadline, answer, referral, created_at FROM support_requests \
             WHERE member_id = $1 ORDER BY id",
        )
        .bind(member_id)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(json!({
        "letter_signatures": signatures.into_iter().map(|(letter, name, org, role, place, comment, display, updates, at, confirmed)| json!({
            "letter": letter, "name": name, "organisation": org, "role": role, "town_or_region": place,
            "comment": comment, "shown_as": display, "wants_updates": updates == 1,
            "signed_at": rfc3339(at), "confirmed_at": confirmed.map(rfc3339),
        })).collect::<Vec<_>>(),
        "support_requests": requests.into_iter().map(|(kind, title, description, status, deadline, answer, referral, at)| json!({
            "kind": kind, "title": title, "description": description, "status": status, "deadline": deadline,
            "our_answer": answer, "referral": referral, "sent_at": rfc3339(at),
        })).collect::<Vec<_>>(),
    }))
}

/// Erase a member's part of Voice: their signatures (under their address) go, as do their
/// requests; records they wrote or co-signings they made stay without their name.
pub async fn erase_member_data(
    conn: &mut AnyConnection,
    member_id: i64,
    email: Option<&str>,
) -> Result<(), sqlx::Error> {
    if let Some(email) = email {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM letter_signatures WHERE email = $1")
            .bind(email)
            .fetch_all(&mut *conn)
            .await?;
        writer::forget_jobs_of(&mut *conn, &ids).await?;
        sqlx::query("DELETE FROM letter_signatures WHERE email = $1").bind(email).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM support_requests WHERE member_id = $1").bind(member_id).execute(&mut *conn).await?;
    for sql in [
        "UPDATE letter_cosigners SET signed_by = NULL WHERE signed_by = $1",
        "UPDATE letter_updates SET posted_by = NULL WHERE posted_by = $1",
        "UPDATE support_narrative SET written_by = NULL WHERE written_by = $1",
    ] {
        sqlx::query(sql).bind(member_id).execute(&mut *conn).await?;
    }
    Ok(())
}
