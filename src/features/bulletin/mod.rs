//! The weekly bulletin: member submissions, the editorial queue, issues delivered over SMTP
//! without tracking, mailing lists with one-click unsubscribe, the public archive and feed.
pub mod archive;
pub mod compose;
pub mod delivery;
pub mod domain;
pub mod editorial;
pub mod issue_store;
pub mod lists;
pub mod store;
pub mod submit;
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
        // Sending items: members, and (when allowed) anyone with an email address.
        .get("/bulletin/submit", Access::Member, submit::submit_page)
        .post("/bulletin/submit", Access::Member, submit::submit)
        .get("/bulletin/mine", Access::Member, submit::mine)
        .get("/bulletin/mine/{id}", Access::Owner, submit::my_item)
        .post("/bulletin/mine/{id}", Access::Owner, submit::change_my_item)
        .get("/bulletin/send", Access::Public, submit::visitor_page)
        .post("/bulletin/send", Access::Public, submit::visitor_submit)
        .get("/bulletin/sent/{token}", Access::Public, submit::visitor_item_page)
        .post("/bulletin/sent/{token}", Access::Public, submit::visitor_item_send)
        // The editorial queue.
        .get("/staff/bulletin", Access::Staff, editorial::queue)
        .get("/staff/bulletin/items/new", Access::Staff, editorial::new_item_page)
        .post("/staff/bulletin/items/new", Access::Staff, editorial::create_item)
        .get("/staff/bulletin/items/{id}", Access::Staff, editorial::item_page)
        .post("/staff/bulletin/items/{id}", Access::Staff, editorial::decide)
        .get("/staff/bulletin/items/{id}/edit", Access::Staff, editorial::edit_item_page)
        .post("/staff/bulletin/items/{id}/edit", Access::Staff, editorial::edit_item)
        .get("/staff/bulletin/guidelines", Access::Staff, editorial::guidelines)
        .post("/staff/bulletin/guidelines", Access::Staff, editorial::change_guidelines)
        // Issues.
        .get("/staff/bulletin/issues", Access::Staff, compose::issues)
        .post("/staff/bulletin/issues", Access::Staff, compose::create_issue)
        .get("/staff/bulletin/issues/{id}", Access::Staff, compose::compose)
        .post("/staff/bulletin/issues/{id}", Access::Staff, compose::save_issue)
        .post("/staff/bulletin/issues/{id}/items", Access::Staff, compose::arrange)
        .get("/staff/bulletin/issues/{id}/preview", Access::Staff, compose::preview)
        .get("/staff/bulletin/issues/{id}/email.html", Access::Staff, compose::preview_email_html)
        .get("/staff/bulletin/issues/{id}/email.txt", Access::Staff, compose::preview_email_text)
        .post("/staff/bulletin/issues/{id}/test", Access::Staff, compose::send_test)
        .post("/staff/bulletin/issues/{id}/schedule", Access::Staff, compose::schedule)
        .post("/staff/bulletin/issues/{id}/unschedule", Access::Staff, compose::unschedule)
        .get("/staff/bulletin/issues/{id}/report", Access::Staff, compose::report)
        // Lists, sign-ups and unsubscribing.
        .get("/staff/lists", Access::Staff, lists::staff_lists)
        .post("/staff/lists", Access::Staff, lists::create_list)
        .post("/staff/lists/resume", Access::Staff, lists::resume_address)
        .get("/newsletter", Access::Public, lists::newsletter_page)
        .post("/newsletter", Access::Public, lists::newsletter_signup)
        .get("/newsletter/check-email", Access::Public, lists::newsletter_check_email)
        .get("/lists/confirm/{token}", Access::Public, lists::confirm_page)
        .post("/lists/confirm/{token}", Access::Public, lists::confirm)
        .get("/unsubscribe/{token}", Access::Public, lists::unsubscribe_link)
        .post_by_token("/unsubscribe/{token}", lists::unsubscribe_one_click)
        .post("/unsubscribe/{token}/undo", Access::Public, lists::undo_unsubscribe)
        .post("/unsubscribe/{token}/forget", Access::Public, lists::forget_signup)
        // The public archive.
        .get("/archive/{slug}", Access::Public, archive::archive)
        .get("/archive/{slug}/feed.atom", Access::Public, archive::feed)
        .get("/archive/{slug}/{number}", Access::Public, archive::issue)
}

pub fn job_handlers(handlers: crate::core::jobs::Handlers) -> crate::core::jobs::Handlers {
    delivery::handlers(handlers)
}

pub fn chores(chores: Chores) -> Chores {
    chores
        .add("unconfirmed and unsubscribed mailing-list sign-ups", lists::forget_old_signups)
        .add("unconfirmed bulletin items from visitors", forget_unconfirmed_items)
}

/// In-memory state: issue content kept while an issue is being sent.
pub fn area_state(areas: &mut axum::http::Extensions) {
    areas.insert(std::sync::Arc::new(delivery::BodyCache::default()));
}

/// Items sent by someone without an account who never confirmed: deleted after a week.
fn forget_unconfirmed_items(state: &AppState, now: i64) -> crate::core::housekeeping::ChoreFuture<'_> {
    Box::pin(async move {
        let gone = sqlx::query("DELETE FROM bulletin_items WHERE status = 'unconfirmed' AND created_at < $1")
            .bind(now - 7 * 86_400)
            .execute(&state.db.pool)
            .await?;
        Ok(gone.rows_affected())
    })
}

/// A member's bulletin items and the editors' messages about them, for their data download.
pub async fn member_data(state: &AppState, member_id: i64) -> AppResult<Value> {
    let items = store::items_of_member(&state.db, member_id).await?;
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter().filter(|i| !i.written_by_staff) {
        let decisions = store::decisions_of(&state.db, item.id).await?;
        out.push(json!({
            "id": item.id,
            "kind": item.kind,
            "title": item.title,
            "description": item.description,
            "link": item.link,
            "closes_on": item.closes_on,
            "region": item.region,
            "on_behalf_of_group_id": item.group_id,
            "status": item.status_text(),
            "edited_by_editors": item.edited_by_staff,
            "submitted_at": item.submitted_at.map(rfc3339),
            "messages_from_editors": decisions.iter().map(|d| json!({
                "decision": d.label(),
                "message": d.message,
                "at": rfc3339(d.decided_at),
            })).collect::<Vec<_>>(),
        }));
    }
    let failures: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT f.failures, f.last_failure, f.paused_at FROM mail_failures f JOIN members m ON m.email = f.email WHERE m.id = $1",
    )
    .bind(member_id)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(json!({
        "items_sent": out,
        "delivery_failures": failures.map(|(n, last, paused)| json!({
            "permanent_failures": n,
            "last_reply_from_your_mail_server": last,
            "bulletin_paused_at": paused.map(rfc3339),
        })),
    }))
}

/// Erase a member's part of the bulletin: items never published are deleted; items that went
/// out in an issue stay in the archive without their name. Sign-ups and delivery records kept
/// under their address go too.
pub async fn erase_member_data(
    conn: &mut AnyConnection,
    member_id: i64,
    email: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM bulletin_items WHERE member_id = $1 AND written_by_staff = 0 \
         AND (issue_id IS NULL OR issue_id IN (SELECT id FROM bulletin_issues WHERE sent_at IS NULL))",
    )
    .bind(member_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE bulletin_items SET member_id = NULL WHERE member_id = $1")
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE bulletin_decisions SET decided_by = NULL WHERE decided_by = $1")
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    if let Some(email) = email {
        for table in ["list_signups", "mail_failures"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE email = $1")).bind(email).execute(&mut *conn).await?;
        }
        // Items sent from this address before (or without) an account: the same rule.
        sqlx::query(
            "DELETE FROM bulletin_items WHERE submitter_email = $1 \
             AND (issue_id IS NULL OR issue_id IN (SELECT id FROM bulletin_issues WHERE sent_at IS NULL))",
        )
        .bind(email)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE bulletin_items SET submitter_name = NULL, submitter_email = NULL WHERE submitter_email = $1",
        )
        .bind(email)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
