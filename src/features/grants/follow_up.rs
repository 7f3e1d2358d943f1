//! The one light-touch follow-up: after the grant period, an optional "how did it go?" message
//! with three open questions, which can be answered in writing, by asking for a phone call, or
//! with a short audio or video link. Never a mandatory report.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::store;
use crate::core::{
    context::Ctx,
    db::Db,
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    housekeeping::ChoreFuture,
    jobs,
    layout::{redirect_with_notice, render, Page},
    mail::Email,
    state::AppState,
    time::{local_date, now},
};

#[derive(Clone, Debug)]
pub struct FollowUp {
    pub what_happened: String,
    pub difference: String,
    pub learning: String,
    pub reply_by: String,
    pub link: Option<String>,
}

pub async fn reply(db: &Db, award_id: i64) -> Result<Option<FollowUp>, sqlx::Error> {
    let row: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT what_happened, difference, learning, reply_by, link FROM grant_follow_ups WHERE award_id = $1",
    )
    .bind(award_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(what_happened, difference, learning, reply_by, link)| FollowUp {
        what_happened,
        difference,
        learning,
        reply_by,
        link,
    }))
}

pub async fn replied(db: &Db, award_id: i64) -> Result<bool, sqlx::Error> {
    Ok(reply(db, award_id).await?.is_some())
}

/// Housekeeping: queue the message for every award whose follow-up date has come. The
/// message and the mark that it went are one transaction, so it goes exactly once.
pub fn send_due(state: &AppState, now: i64) -> ChoreFuture<'_> {
    Box::pin(async move {
        let today = local_date(now);
        let due: Vec<(i64, i64, Option<i64>, Option<String>, Option<String>, String)> = sqlx::query_as(
            "SELECT w.id, a.id, a.member_id, m.email, m.display_name, r.title FROM grant_awards w \
             JOIN grant_applications a ON a.id = w.application_id JOIN grant_rounds r ON r.id = a.round_id \
             LEFT JOIN members m ON m.id = a.member_id WHERE w.follow_up_sent_at IS NULL AND w.follow_up_on <= $1",
        )
        .bind(&today)
        .fetch_all(&state.db.pool)
        .await?;
        let n = due.len() as u64;
        for (award_id, app_id, member_id, email, name, round) in due {
            let mut tx = state.db.begin().await?;
            let claimed = sqlx::query(
                "UPDATE grant_awards SET follow_up_sent_at = $1 WHERE id = $2 AND follow_up_sent_at IS NULL",
            )
            .bind(now)
            .bind(award_id)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            store::add_message(&mut tx, app_id, FOLLOW_UP_MESSAGE).await?;
            if let Some(email) = email {
                let link = format!("{}/grants/applications/{app_id}/follow-up", state.config.base_url);
                let text = format!(
                    "Hello {},\n\n{FOLLOW_UP_MESSAGE}\n\n{link}\n\nIf you would rather not, you do not need to do anything.\n",
                    name.as_deref().unwrap_or("there")
                );
                jobs::enqueue_mail(
                    &mut *tx,
                    &Email::text(&email, format!("How did it go? Your grant from {round}"), text),
                    member_id,
                )
                .await?;
            }
            tx.commit().await?;
        }
        state.jobs_waiting.notify_one();
        Ok(n)
    })
}

const FOLLOW_UP_MESSAGE: &str = "We would love to hear how it went. It is optional and there is no report to write: three short questions, or ask us to phone you, or send a short audio or video link instead.";

#[derive(Template)]
#[template(path = "grants/follow_up.html")]
struct FollowUpPage {
    page: Page,
    errors: FormErrors,
    values: FormData,
    id: i64,
    ways: [(&'static str, &'static str); 3],
}

async fn own_award(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<i64> {
    let user = ctx.user()?;
    store::application(&state.db, id).await?.filter(|a| a.member_id == Some(user.id)).ok_or(AppError::NotFound)?;
    let award = super::money::award_of(&state.db, id)
        .await?
        .filter(|a| a.follow_up_sent_at.is_some())
        .ok_or(AppError::NotFound)?;
    Ok(award.id)
}

fn page(ctx: &Ctx, id: i64, values: FormData, errors: FormErrors) -> Response {
    let invalid = !errors.is_empty();
    let mut response = render(&FollowUpPage {
        page: Page::new(ctx, format!("{}How did it go?", errors.title_prefix())),
        errors,
        values,
        id,
        ways: [
            ("written", "I will write a few words here"),
            ("phone", "Please phone me (we will use the number you have given us, or ask)"),
            ("link", "I will send a short audio or video link"),
        ],
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

pub async fn follow_up_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    own_award(&state, &ctx, id).await?;
    Ok(page(&ctx, id, FormData(vec![("reply_by".into(), "written".into())]), FormErrors::default()))
}

pub async fn send_reply(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let award_id = own_award(&state, &ctx, id).await?;
    let mut errors = FormErrors::default();
    let reply_by = form.get("reply_by");
    if !["written", "phone", "link"].contains(&reply_by.as_str()) {
        errors.add("reply_by", "Choose how you would like to tell us");
    }
    let link = form.get("link");
    if reply_by == "link" && url::Url::parse(&link).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
        errors.add("link", "Enter a web address starting https://");
    }
    for field in ["what_happened", "difference", "learning"] {
        if form.get(field).chars().count() > 5000 {
            errors.add(field, "Keep this to 5000 characters or fewer");
        }
    }
    if reply_by == "written" && ["what_happened", "difference", "learning"].iter().all(|f| form.get(f).is_empty()) {
        errors.add("what_happened", "Write a few words in any of the boxes, or choose another way to tell us");
    }
    if !errors.is_empty() {
        return Ok(page(&ctx, id, form, errors));
    }
    sqlx::query(
        "INSERT INTO grant_follow_ups (award_id, what_happened, difference, learning, reply_by, link, replied_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (award_id) DO NOTHING",
    )
    .bind(award_id)
    .bind(form.get("what_happened"))
    .bind(form.get("difference"))
    .bind(form.get("learning"))
    .bind(&reply_by)
    .bind((reply_by == "link").then_some(link))
    .bind(now())
    .execute(&state.db.pool)
    .await?;
    Ok(redirect_with_notice(&state, &format!("/grants/applications/{id}"), "follow-up-sent"))
}
