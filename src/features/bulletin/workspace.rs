//! What the bulletin tells the staff workspace.
use crate::core::{
    error::AppResult,
    state::AppState,
    workspace::{Holding, Queue},
};

pub async fn queues(state: &AppState) -> AppResult<Vec<Queue>> {
    let waiting: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(submitted_at) FROM bulletin_items WHERE status = 'received'")
            .fetch_one(&state.db.pool)
            .await?;
    Ok(vec![Queue::new("Bulletin items to decide", waiting, "/staff/bulletin")])
}

/// Items they sent (as a member or from their address), sign-ups and delivery problems.
pub async fn holdings(state: &AppState, member_id: Option<i64>, email: &str) -> AppResult<Vec<Holding>> {
    let items: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, title, status FROM bulletin_items WHERE (member_id = $1 OR submitter_email = $2) AND written_by_staff = 0 ORDER BY id",
    )
    .bind(member_id)
    .bind(email)
    .fetch_all(&state.db.pool)
    .await?;
    let mut out: Vec<Holding> = items
        .into_iter()
        .map(|(id, title, status)| {
            Holding::new(format!("Bulletin item “{title}” ({status})"), format!("/staff/bulletin/items/{id}"))
        })
        .collect();
    let signups: Vec<(String, String)> = sqlx::query_as(
        "SELECT l.name, s.status FROM list_signups s JOIN mailing_lists l ON l.id = s.list_id WHERE s.email = $1",
    )
    .bind(email)
    .fetch_all(&state.db.pool)
    .await?;
    out.extend(
        signups
            .into_iter()
            .map(|(list, status)| Holding::new(format!("Signed up for the {list} ({status})"), "/staff/lists")),
    );
    let failures: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT failures, paused_at FROM mail_failures WHERE email = $1")
            .bind(email)
            .fetch_optional(&state.db.pool)
            .await?;
    if let Some((n, paused)) = failures {
        let paused = if paused.is_some() { ", delivery paused" } else { "" };
        out.push(Holding::new(format!("{n} permanent delivery failures{paused}"), "/staff/lists"));
    }
    Ok(out)
}
