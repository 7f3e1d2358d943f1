//! Changing the email address an account uses. The new address is only taken on once its
//! owner opens a link sent to it, and the page answers the same whether or not another account
//! already uses that address, so the form cannot be used to find out who is a member.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use sqlx::AnyConnection;

use super::{domain::EmailAddress, store};
use crate::core::{
    audit::{self, Action},
    context::Ctx,
    error::AppResult,
    jobs,
    layout::{message, redirect_with_notice, render, Page},
    mail::Email,
    state::AppState,
    time::now,
};

/// What the signed link is for; a link signed for anything else does not work here.
const PURPOSE: &str = "email-change";
/// The link works for a day.
const LINK_SECONDS: i64 = 24 * 3600;

/// The link's data: the account, when the link stops working, and the new address.
fn token(state: &AppState, member_id: i64, email: &str, expires: i64) -> String {
    state.links.sign(PURPOSE, &format!("{member_id}-{expires}-{}", B64.encode(email)))
}

/// The account and new address a link names, while it works.
fn read(state: &AppState, token: &str) -> Option<(i64, EmailAddress)> {
    let data = state.links.verify(PURPOSE, token)?;
    let mut parts = data.splitn(3, '-');
    let member_id = parts.next()?.parse().ok()?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let email = String::from_utf8(B64.decode(parts.next()?).ok()?).ok()?;
    (now() < expires).then_some(())?;
    Some((member_id, EmailAddress::parse(&email).ok()?))
}

/// Email the new address: a link to confirm it, or, if another account already uses it, a note
/// saying nothing was changed. Either way the person at the form is told the same thing.
pub async fn request(state: &AppState, conn: &mut AnyConnection, member_id: i64, new: &EmailAddress) -> AppResult<()> {
    let network = &state.config.network_name;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM members WHERE email = $1 AND id <> $2")
        .bind(new.as_str())
        .bind(member_id)
        .fetch_optional(&mut *conn)
        .await?;
    let email = match taken {
        Some(_) => Email::text(
            new.as_str(),
            format!("Nothing was changed at {network}"),
            format!(
                "Hello,\n\nSomeone asked to move an account at {network} to this email address. This address already \
                 belongs to an account, so nothing was changed.\n\nIf that was you, sign in with this address instead: \
                 {}/sign-in\n\nIf it was not you, you need do nothing.\n\n{network}\n",
                state.config.base_url
            ),
        ),
        None => {
            let link = format!(
                "{}/me/email/{}",
                state.config.base_url,
                token(state, member_id, new.as_str(), now() + LINK_SECONDS)
            );
            Email::text(
                new.as_str(),
                format!("Confirm your new email address for {network}"),
                format!(
                    "Hello,\n\nYou asked to use this address for your account at {network}. Open this link within a day \
                     and press the button, and it will be the address we use:\n\n{link}\n\n\
                     Until then we keep using your old address. If you did not ask for this, ignore this email.\n\n{network}\n"
                ),
            )
        }
    };
    jobs::enqueue_mail(&mut *conn, &email, Some(member_id)).await?;
    state.jobs_waiting.notify_one();
    Ok(())
}

#[derive(Template)]
#[template(path = "members/email_change.html")]
struct ConfirmPage {
    page: Page,
    token: String,
    email: String,
}

fn link_not_working(ctx: &Ctx) -> Response {
    let mut response = message(
        ctx,
        "This link no longer works",
        &["Links to confirm a new email address work for a day. Your account still uses its old address: change it again from your profile to get a new link."],
        Some(("/me/edit", "Change your profile")),
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

fn already_done(ctx: &Ctx) -> Response {
    message(ctx, "Your account already uses this address", &["Nothing more to do."], Some(("/me", "Your account")))
}

/// A button rather than an instant change: a mail scanner that opens the link changes nothing.
pub async fn confirm_page(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    let Some((member_id, email)) = read(&state, &token) else { return Ok(link_not_working(&ctx)) };
    match store::get(&state.db, member_id).await? {
        None => return Ok(link_not_working(&ctx)),
        Some(member) if member.email == email.as_str() => return Ok(already_done(&ctx)),
        Some(_) => {}
    }
    Ok(render(&ConfirmPage {
        page: Page::new(&ctx, "Confirm your new email address"),
        token,
        email: email.as_str().into(),
    }))
}

pub async fn confirm(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    let Some((member_id, email)) = read(&state, &token) else { return Ok(link_not_working(&ctx)) };
    let Some(member) = store::get(&state.db, member_id).await? else { return Ok(link_not_working(&ctx)) };
    if member.email == email.as_str() {
        return Ok(already_done(&ctx));
    }
    let mut tx = state.db.begin().await?;
    // The unique index decides a race with someone joining with the same address meanwhile.
    let changed = sqlx::query(
        "UPDATE members SET email = $1, updated_at = $2 WHERE id = $3 \
         AND NOT EXISTS (SELECT 1 FROM members o WHERE o.email = $1 AND o.id <> $3)",
    )
    .bind(email.as_str())
    .bind(now())
    .bind(member_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(message(
            &ctx,
            "That address is already in use",
            &["Another account now uses this email address, so your account keeps its old one. If both accounts are yours, ask staff to merge them."],
            Some(("/me", "Your account")),
        ));
    }
    store::reindex(&mut tx, member_id).await?;
    // The old address hears about it, in case the change was not theirs.
    if !member.email.is_empty() {
        let network = &state.config.network_name;
        let notice = Email::text(
            &member.email,
            format!("Your email address at {network} has changed"),
            format!(
                "Hello,\n\nYour account at {network} now uses a new email address, confirmed from that address. \
                 We will not email this one again.\n\nIf you did not do this, contact the staff team straight away.\n\n{network}\n"
            ),
        );
        jobs::enqueue_mail(&mut *tx, &notice, None).await?;
    }
    audit::record(&mut *tx, member_id, Action::Change, Some(member_id), "changed their email address").await?;
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, "/me", "email-changed"))
}
