//! What Voice tells the staff workspace.
use crate::core::{
    error::AppResult,
    state::AppState,
    time::now,
    workspace::{Holding, Queue},
};

pub async fn queues(state: &AppState) -> AppResult<Vec<Queue>> {
    let unanswered: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM support_requests WHERE status = 'new'")
            .fetch_one(&state.db.pool)
            .await?;
    let overdue: (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(created_at) FROM support_requests WHERE status = 'new' AND created_at < $1",
    )
    .bind(now() - state.config.support_reply_days * 86_400)
    .fetch_one(&state.db.pool)
    .await?;
    Ok(vec![
        Queue::new("Campaign requests to answer", unanswered, "/staff/support"),
        Queue::new("Campaign requests past their reply time", overdue, "/staff/support"),
    ])
}

/// Signatures under their address and the requests they sent.
pub async fn holdings(state: &AppState, member_id: Option<i64>, email: &str) -> AppResult<Vec<Holding>> {
    let signatures: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT l.id, l.title, s.confirmed_at FROM letter_signatures s JOIN letters l ON l.id = s.letter_id WHERE s.email = $1",
    )
    .bind(email)
    .fetch_all(&state.db.pool)
    .await?;
    let query = crate::core::error::urlencode(email);
    let mut out: Vec<Holding> = signatures
        .into_iter()
        .map(|(id, title, confirmed)| {
            let state = if confirmed.is_some() { "confirmed" } else { "not confirmed" };
            Holding::new(format!("Signed “{title}” ({state})"), format!("/staff/letters/{id}/signatures?q={query}"))
        })
        .collect();
    if let Some(member_id) = member_id {
        let requests: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, title, status FROM support_requests WHERE member_id = $1 ORDER BY id")
                .bind(member_id)
                .fetch_all(&state.db.pool)
                .await?;
        out.extend(requests.into_iter().map(|(id, title, status)| {
            Holding::new(format!("Campaign request “{title}” ({status})"), format!("/staff/support/{id}"))
        }));
    }
    Ok(out)
}
