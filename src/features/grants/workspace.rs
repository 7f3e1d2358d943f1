//! What grants tell the staff workspace.
use crate::core::{
    error::AppResult,
    state::AppState,
    time::{local_date, now},
    workspace::{Holding, Queue},
};

pub async fn queues(state: &AppState) -> AppResult<Vec<Queue>> {
    let to_decide: (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(a.submitted_at) FROM grant_applications a JOIN grant_rounds r ON r.id = a.round_id \
         WHERE a.status = 'submitted' AND r.decided_at IS NULL",
    )
    .fetch_one(&state.db.pool)
    .await?;
    let due: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM grant_payments WHERE paid_on IS NULL AND due_on <= $1")
            .bind(local_date(now()))
            .fetch_one(&state.db.pool)
            .await?;
    Ok(vec![
        Queue::new("Grant applications to decide", to_decide, "/staff/grants"),
        Queue::new("Grant payments due", due, "/staff/grants"),
    ])
}

/// Applications, panel seats and donor records.
pub async fn holdings(state: &AppState, member_id: Option<i64>, email: &str) -> AppResult<Vec<Holding>> {
    let mut out = Vec::new();
    if let Some(member_id) = member_id {
        let apps: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT a.id, r.title, a.status FROM grant_applications a JOIN grant_rounds r ON r.id = a.round_id \
             WHERE a.member_id = $1 ORDER BY a.id",
        )
        .bind(member_id)
        .fetch_all(&state.db.pool)
        .await?;
        out.extend(apps.into_iter().map(|(id, round, status)| {
            Holding::new(format!("Application to {round} ({status})"), format!("/staff/grants/applications/{id}"))
        }));
        let panels: Vec<(i64, String)> = sqlx::query_as(
            "SELECT r.id, r.title FROM grant_panel_members p JOIN grant_rounds r ON r.id = p.round_id WHERE p.member_id = $1",
        )
        .bind(member_id)
        .fetch_all(&state.db.pool)
        .await?;
        out.extend(panels.into_iter().map(|(id, round)| {
            Holding::new(
                format!("On the panel of {round} (with their scores and conflicts)"),
                format!("/staff/grants/rounds/{id}"),
            )
        }));
    }
    let donors: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM grant_donors WHERE email = $1").bind(email).fetch_all(&state.db.pool).await?;
    out.extend(donors.into_iter().map(|(id,)| {
        Holding::new(
            format!("Donor record {id} (with any Gift Aid declaration)"),
            format!("/staff/grants/donors/{id}/export"),
        )
    }));
    Ok(out)
}
