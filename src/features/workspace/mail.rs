//! Emails that could not be sent: who they were for, what the mail server said, and a way to
//! try again once the cause is fixed. Recipients are personal data, so each look is audited.
use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use crate::core::{
    audit::{self, Action},
    context::Ctx,
    error::{AppError, AppResult},
    layout::{redirect_with_notice, render, Page},
    state::AppState,
    time::{human_local, now},
    workspace::Queue,
};

pub async fn queue(state: &AppState) -> AppResult<Queue> {
    let failed: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(updated_at) FROM jobs WHERE status = 'failed'")
            .fetch_one(&state.db.pool)
            .await?;
    Ok(Queue::new("Emails that could not be sent", failed, "/staff/mail"))
}

pub struct Failed {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub error: String,
    pub when: String,
}

#[derive(Template)]
#[template(path = "workspace/mail.html")]
struct FailedPage {
    page: Page,
    failed: Vec<Failed>,
}

/// The newest 200 failures. A message's payload names its recipient and subject; a bulletin
/// message names its member instead.
pub async fn failed(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let rows: Vec<(i64, String, String, Option<String>, Option<String>, i64)> = sqlx::query_as(
        "SELECT j.id, j.kind, j.payload, m.email, j.last_error, j.updated_at FROM jobs j \
         LEFT JOIN members m ON m.id = j.member_id WHERE j.status = 'failed' ORDER BY j.updated_at DESC, j.id DESC LIMIT 200",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let failed = rows
        .into_iter()
        .map(|(id, kind, payload, member_email, error, at)| {
            let payload: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
            let field = |k: &str| payload[k].as_str().map(str::to_string);
            Failed {
                id,
                to: field("to").or(member_email).unwrap_or_else(|| "(no longer known)".into()),
                subject: field("subject").unwrap_or_else(|| kind.replace(['_', '-'], " ")),
                error: error.unwrap_or_default(),
                when: human_local(at),
            }
        })
        .collect();
    audit::record(&state.db.pool, ctx.user()?.id, Action::View, None, "viewed emails that could not be sent").await?;
    Ok(render(&FailedPage { page: Page::new(&ctx, "Emails that could not be sent"), failed }))
}

/// Queue a failed email to be tried again now, with its attempts counted afresh.
pub async fn retry(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let t = now();
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $1 WHERE id = $2 AND status = 'failed'",
    )
    .bind(t)
    .bind(id)
    .execute(&state.db.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, "/staff/mail", "email-retried"))
}
