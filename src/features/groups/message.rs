//! Anyone can write to a group without learning anyone's address: the message is emailed to the
//! group's contacts, with the sender's address to reply to. Nothing of it is kept once sent.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::routes::{load, Group};
use crate::{
    core::{
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        jobs,
        layout::{message, render, Page},
        mail::Email,
        ratelimit,
        state::AppState,
    },
    features::members::domain::EmailAddress,
};

const MAX_MESSAGE: usize = 5000;
/// Messages one group can receive in a 15-minute window, from everyone together.
const PER_GROUP: i64 = 20;

#[derive(Template)]
#[template(path = "groups/message.html")]
struct MessagePage {
    page: Page,
    group: Group,
    errors: FormErrors,
    name: String,
    email: String,
    text: String,
}

/// A public group (a members-only one to signed-in people), as the group page shows it.
async fn visible_group(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Group> {
    let group = load(state, id).await?;
    if group.visibility != "public" && ctx.user.is_none() {
        return Err(AppError::NotFound);
    }
    Ok(group)
}

pub async fn message_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let group = visible_group(&state, &ctx, id).await?;
    let (name, email) = ctx.user.as_ref().map(|u| (u.name.clone(), u.email.clone())).unwrap_or_default();
    Ok(render(&MessagePage {
        page: Page::new(&ctx, format!("Send a message to {}", group.name)),
        group,
        errors: FormErrors::default(),
        name,
        email,
        text: String::new(),
    }))
}

pub async fn send_message(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let group = visible_group(&state, &ctx, id).await?;
    let sent = || {
        message(
            &ctx,
            "Your message has been sent",
            &["The group's contacts will get it by email and can reply to the address you gave. We have not kept a copy."],
            Some((&format!("/groups/{id}"), "Back to the group")),
        )
    };
    // A field people never see: a form that fills it is thanked and dropped.
    if !form.get("website").is_empty() {
        return Ok(sent());
    }
    let (name, typed_email, text) = (form.get("name"), form.get("email"), form.get("message"));
    let mut errors = FormErrors::default();
    if name.is_empty() {
        errors.add("name", "Enter your name, or what you would like to be called");
    } else if name.chars().count() > 100 {
        errors.add("name", "Your name must be 100 characters or fewer");
    }
    let email = EmailAddress::parse(&typed_email).map_err(|e| errors.add("email", e)).ok();
    if text.is_empty() {
        errors.add("message", "Write your message");
    } else if text.chars().count() > MAX_MESSAGE {
        errors.add("message", format!("Your message must be {MAX_MESSAGE} characters or fewer"));
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        let mut response = render(&MessagePage {
            page: Page::new(&ctx, format!("Error: Send a message to {}", group.name)),
            group,
            errors,
            name,
            email: typed_email,
            text,
        });
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    };
    ratelimit::hit(&state.db, &format!("group-message:ip:{}", ctx.ip), state.config.rate_limit_per_ip).await?;
    ratelimit::hit(&state.db, &format!("group-message:group:{id}"), PER_GROUP).await?;
    let contacts: Vec<(i64, String)> = sqlx::query_as(
        "SELECT m.id, m.email FROM members m JOIN group_contacts c ON c.member_id = m.id \
         WHERE c.group_id = $1 AND m.status = 'active' AND m.email IS NOT NULL",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let network = &state.config.network_name;
    let mut tx = state.db.begin().await?;
    for (contact, address) in &contacts {
        let mut mail = Email::text(
            address,
            format!("A message for {} from the {network} website", group.name),
            format!(
                "Hello,\n\n{name} sent this message to {} through the {network} website. Reply to this email to answer them: \
                 they gave the address {} for that. We have not shown them your address.\n\n---\n\n{text}\n\n---\n\n\
                 You get messages like this because you are a contact for {} at {network}.\n",
                group.name,
                email.as_str(),
                group.name
            ),
        );
        mail.headers.push(("Reply-To".into(), email.as_str().to_string()));
        jobs::enqueue_mail(&mut *tx, &mail, Some(*contact)).await?;
    }
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(sent())
}
