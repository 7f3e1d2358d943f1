//! Joining as an individual: a short form, then a confirmation link by email.
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::{
    domain::{JoinInput, Purpose, COMMUNITY_SUGGESTIONS, REGIONS},
    store,
};
use crate::{
    core::{
        context::Ctx,
        error::AppResult,
        forms::{FormData, FormErrors},
        layout::{message, render, Page},
        state::AppState,
    },
    features::accounts::{limit_attempt, send_sign_in_link},
};

#[derive(Template)]
#[template(path = "members/join_choice.html")]
struct JoinChoice {
    page: Page,
}

pub async fn join_choice(ctx: Ctx) -> Response {
    render(&JoinChoice { page: Page::new(&ctx, "Join the network") })
}

#[derive(Template)]
#[template(path = "members/join.html")]
struct JoinPage {
    page: Page,
    errors: FormErrors,
    input: JoinInput,
    regions: [&'static str; 12],
    suggestions: [&'static str; 10],
    purposes: [Purpose; 3],
}

fn join_form(ctx: &Ctx, input: JoinInput, errors: FormErrors) -> Response {
    let title = format!("{}Join as an individual", errors.title_prefix());
    let invalid = !errors.is_empty();
    let mut response = render(&JoinPage {
        page: Page::new(ctx, title),
        errors,
        input,
        regions: REGIONS,
        suggestions: COMMUNITY_SUGGESTIONS,
        purposes: Purpose::ALL,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

pub async fn join_page(ctx: Ctx) -> Response {
    join_form(&ctx, JoinInput::default(), FormErrors::default())
}

pub async fn join(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let input = JoinInput::from_form(&form);
    let member = match input.validate() {
        Ok(m) => m,
        Err(errors) => return Ok(join_form(&ctx, input, errors)),
    };
    limit_attempt(&state, &ctx, "join", member.email.as_str()).await?;
    let mut tx = state.db.begin().await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM members WHERE email = $1")
        .bind(member.email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    // Someone already a member gets a sign-in link instead: the page says the same either way,
    // so the form cannot be used to find out who is a member.
    let id = match existing {
        Some(id) => id,
        None => store::insert(&mut tx, &member, "unconfirmed", "member", crate::core::time::now()).await?,
    };
    send_sign_in_link(&state, &mut tx, id, member.email.as_str(), "/me").await?;
    tx.commit().await?;
    Ok(Redirect::to("/join/check-email").into_response())
}

pub async fn check_email(ctx: Ctx) -> Response {
    message(
        &ctx,
        "Check your email to finish joining",
        &[
            "We have sent you an email with a link. Open it and press the button to confirm your address and sign in.",
            "The link works once, within 15 minutes. It can take a few minutes to arrive; check your spam folder too.",
        ],
        Some(("/sign-in", "Link expired? Ask for a new one")),
    )
}
