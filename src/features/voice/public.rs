//! The public side of letters: the list, each letter's page with its signatories, signing,
//! confirming by email, and co-signing by a group's contact.
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    domain::{progress_percent, Display, ShownSigner, SignatureInput},
    store::{self, Letter},
    writer::{Outcome, Signatures, Submission},
};
use crate::{
    core::{
        context::Ctx,
        crypto::{hash_token, random_token},
        error::{AppError, AppResult},
        forms::{FormData, FormErrors, MAX_PAGE},
        layout::{message, redirect_with_notice, render, Page},
        mail::Email,
        markdown::to_safe_html,
        state::AppState,
        time::now,
    },
    features::members::store as members,
};

/// Unconfirmed signatures are deleted after this many days.
pub const UNCONFIRMED_DAYS: i64 = 7;
const PER_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "voice/letters.html")]
struct LettersPage {
    page: Page,
    letters: Vec<(Letter, i64)>,
}

pub async fn letters(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let letters = store::letters(&state.db, true).await?;
    Ok(render(&LettersPage { page: Page::new(&ctx, "Open letters and petitions"), letters }))
}

#[derive(Template)]
#[template(path = "voice/letter.html")]
struct LetterPage {
    page: Page,
    letter: Letter,
    body_html: String,
    count: i64,
    percent: i64,
    cosigners: Vec<(String, bool)>,
    signers: Vec<ShownSigner>,
    hidden: i64,
    page_number: i64,
    pages: i64,
    /// Groups the signed-in member may co-sign for, that have not yet.
    my_groups: Vec<(i64, String)>,
    errors: FormErrors,
    form: SignatureInput,
    displays: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

async fn public_letter(state: &AppState, slug: &str) -> AppResult<Letter> {
    store::letter_by_slug(&state.db, slug).await?.filter(Letter::is_public).ok_or(AppError::NotFound)
}

async fn letter_page(
    state: &AppState,
    ctx: &Ctx,
    letter: Letter,
    page_number: i64,
    form: SignatureInput,
    errors: FormErrors,
) -> AppResult<Response> {
    let (count, _) = store::counts(&state.db, letter.id).await?;
    let page_number = page_number.clamp(1, MAX_PAGE);
    let (signers, hidden) = store::shown_signers(&state.db, letter.id, PER_PAGE, (page_number - 1) * PER_PAGE).await?;
    let pages = ((count - hidden).max(0) + PER_PAGE - 1) / PER_PAGE;
    let cosigners = store::cosigners(&state.db, letter.id).await?;
    let my_groups = match &ctx.user {
        Some(u) if letter.is_open() => members::contact_groups(&state.db, u.id)
            .await?
            .into_iter()
            .filter(|(_, name)| !cosigners.iter().any(|(n, group)| *group && n == name))
            .collect(),
        _ => Vec::new(),
    };
    let invalid = !errors.is_empty();
    let mut response = render(&LetterPage {
        page: Page::new(ctx, format!("{}{}", errors.title_prefix(), letter.title)),
        body_html: to_safe_html(&letter.body),
        percent: letter.goal.map(|g| progress_percent(count, g)).unwrap_or(0),
        letter,
        count,
        cosigners,
        signers,
        hidden,
        page_number,
        pages,
        my_groups,
        errors,
        form,
        displays: Display::OPTIONS.to_vec(),
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn letter(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let letter = public_letter(&state, &slug).await?;
    let form = SignatureInput { display: "full".into(), ..Default::default() };
    letter_page(&state, &ctx, letter, q.page.unwrap_or(1), form, FormErrors::default()).await
}

/// Sign: validated here, written by the signature writer, confirmed by email. The honeypot
/// field is one people never see; a form that fills it is thanked and dropped.
pub async fn sign(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let signatures = state.area::<std::sync::Arc<Signatures>>();
    // Read up to a second old: the writer checks the letter is still open as it writes.
    let letter = match signatures.letters.get(&slug) {
        Some(letter) => letter,
        None => {
            let letter = std::sync::Arc::new(public_letter(&state, &slug).await?);
            signatures.letters.put(slug, letter.clone());
            letter
        }
    };
    if !letter.is_open() {
        return Ok(closed(&ctx, &letter));
    }
    let check_email = Redirect::to(&format!("/letters/{}/check-email", letter.slug)).into_response();
    if !form.get("website").is_empty() {
        return Ok(check_email);
    }
    let input = SignatureInput::from_form(&form);
    let signature = match input.validate() {
        Ok(s) => s,
        Err(errors) => return letter_page(&state, &ctx, (*letter).clone(), 1, input, errors).await,
    };
    if !signatures.allow(ctx.ip, state.config.sign_limit_per_ip) {
        return Err(AppError::RateLimited);
    }
    let token = random_token();
    let confirmation = confirmation_email(&state, &letter, signature.email.as_str(), &token);
    let already_signed = already_signed_email(&state, &letter, signature.email.as_str());
    let submission =
        Submission { letter_id: letter.id, signature, token_hash: hash_token(&token), confirmation, already_signed };
    // A new signature and an address that had signed get the same answer, so nobody can find
    // out from this page who signed; the writer tells the address's owner by email instead.
    Ok(match signatures.submit(&state, submission).await? {
        Outcome::Added | Outcome::AlreadySigned => check_email,
        Outcome::Closed => closed(&ctx, &letter),
    })
}

fn already_signed_email(state: &AppState, letter: &Letter, to: &str) -> Email {
    let network = &state.config.network_name;
    Email::text(
        to,
        format!("You have already signed: {}", letter.title),
        format!(
            "Hello,\n\nSomeone, probably you, tried to sign \"{}\" again with this email address. Your signature was already \
             there, so nothing was added and it still counts once.\n\n\
             If it was not you, you need do nothing: nobody else can change or remove your signature.\n\n{}/letters/{}\n\n{network}\n",
            letter.title, state.config.base_url, letter.slug
        ),
    )
}

fn confirmation_email(state: &AppState, letter: &Letter, to: &str, token: &str) -> Email {
    let network = &state.config.network_name;
    Email::text(
        to,
        format!("Confirm your signature: {}", letter.title),
        format!(
            "Hello,\n\nThank you for signing \"{}\". Your signature counts once you confirm it: open this link and press the button.\n\n\
             {}/signatures/confirm/{token}\n\n\
             If you did not sign, ignore this email: unconfirmed signatures and their details are deleted within {UNCONFIRMED_DAYS} days.\n\n{network}\n",
            letter.title, state.config.base_url
        ),
    )
}

fn closed(ctx: &Ctx, letter: &Letter) -> Response {
    let back = format!("/letters/{}", letter.slug);
    message(
        ctx,
        "This letter is no longer taking signatures",
        &["It has closed, so nothing was added. Thank you for wanting to sign."],
        Some((back.as_str(), "Back to the letter")),
    )
}

pub async fn check_email(State(state): State<AppState>, ctx: Ctx, Path(slug): Path<String>) -> AppResult<Response> {
    let letter = public_letter(&state, &slug).await?;
    let back = format!("/letters/{}", letter.slug);
    Ok(message(
        &ctx,
        "Check your email to confirm your signature",
        &[
            "We have sent you an email with a link. Open it and press the button, and your signature will count.",
            "If it does not arrive within a few minutes, check your spam folder. Unconfirmed signatures are deleted after 7 days.",
        ],
        Some((back.as_str(), "Back to the letter")),
    ))
}

#[derive(Template)]
#[template(path = "voice/confirm.html")]
struct ConfirmPage {
    page: Page,
    token: String,
    title: String,
}

/// The letter an unconfirmed signature's token belongs to, if it is still open.
async fn pending_letter(state: &AppState, token: &str) -> AppResult<Option<Letter>> {
    let letter_id: Option<i64> = sqlx::query_scalar(
        "SELECT s.letter_id FROM letter_signatures s JOIN letters l ON l.id = s.letter_id \
         WHERE s.confirm_hash = $1 AND l.status = 'open'",
    )
    .bind(hash_token(token))
    .fetch_optional(&state.db.pool)
    .await?;
    match letter_id {
        Some(id) => Ok(store::letter(&state.db, id).await?),
        None => Ok(None),
    }
}

fn link_expired(ctx: &Ctx) -> Response {
    let mut response = message(
        ctx,
        "This signature link no longer works",
        &["It has been used already, or the signature was not confirmed within 7 days, or the letter has closed. If you have already confirmed, your signature counts."],
        Some(("/letters", "See open letters")),
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// The emailed link shows a button rather than confirming at once, so a mail scanner that
/// opens links cannot confirm a signature for someone.
pub async fn confirm_page(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    match pending_letter(&state, &token).await? {
        Some(letter) => {
            Ok(render(&ConfirmPage { page: Page::new(&ctx, "Confirm your signature"), token, title: letter.title }))
        }
        None => Ok(link_expired(&ctx)),
    }
}

pub async fn confirm(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    let Some(letter) = pending_letter(&state, &token).await? else { return Ok(link_expired(&ctx)) };
    let done =
        sqlx::query("UPDATE letter_signatures SET confirmed_at = $1, confirm_hash = NULL WHERE confirm_hash = $2")
            .bind(now())
            .bind(hash_token(&token))
            .execute(&state.db.pool)
            .await?
            .rows_affected();
    if done == 0 {
        return Ok(link_expired(&ctx));
    }
    Ok(redirect_with_notice(&state, &format!("/letters/{}", letter.slug), "signature-confirmed"))
}

/// A group's contact co-signs on the group's behalf in one click.
pub async fn cosign(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let user = ctx.user()?;
    let letter = public_letter(&state, &slug).await?;
    if !letter.is_open() {
        return Ok(closed(&ctx, &letter));
    }
    let groups = members::contact_groups(&state.db, user.id).await?;
    let chosen = form.get("group").parse::<i64>().ok();
    let Some((group_id, name)) = groups.into_iter().find(|(id, _)| Some(*id) == chosen) else {
        return Err(AppError::Forbidden);
    };
    store::add_cosigner(&state.db, letter.id, Some(group_id), &name, Some(user.id), now()).await?;
    Ok(redirect_with_notice(&state, &format!("/letters/{}#organisations", letter.slug), "group-cosigned"))
}

/// The purpose signed into the link in each update email that stops further updates.
pub const UPDATES_OFF: &str = "letter-updates-off";

#[derive(Template)]
#[template(path = "voice/updates_off.html")]
struct UpdatesOffPage {
    page: Page,
    token: String,
    title: String,
}

/// What a stop-updates link names.
enum UpdatesLink {
    /// Not a link we made (mistyped, cut short, or forged).
    Invalid,
    /// A signature that wants updates: its id and its letter's title.
    Wanting(i64, String),
    /// A signature that already asked for none, or is gone: either way no more updates.
    Stopped,
}

async fn updates_link(state: &AppState, token: &str) -> AppResult<UpdatesLink> {
    let Some(id) = state.links.verify(UPDATES_OFF, token).and_then(|d| d.parse::<i64>().ok()) else {
        return Ok(UpdatesLink::Invalid);
    };
    let wanting: Option<(i64, String)> = sqlx::query_as(
        "SELECT s.id, l.title FROM letter_signatures s JOIN letters l ON l.id = s.letter_id WHERE s.id = $1 AND s.wants_updates = 1",
    )
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(wanting.map_or(UpdatesLink::Stopped, |(id, title)| UpdatesLink::Wanting(id, title)))
}

fn no_updates(ctx: &Ctx) -> Response {
    message(
        ctx,
        "You will get no more updates",
        &["We will not email you about this letter again. Your signature still counts."],
        Some(("/letters", "See open letters")),
    )
}

/// A link that is not one of ours changes nothing, and says so rather than pretending.
fn invalid_updates_link(ctx: &Ctx) -> Response {
    let mut response = message(
        ctx,
        "This link is not valid",
        &[
            "Nothing has changed. The link may have been cut short or changed when it was copied.",
            "Open the link from the email again, or copy all of it into your browser. If it still does not work, reply to the email and we will stop the updates for you.",
        ],
        Some(("/letters", "See open letters")),
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A button, not an instant change, so a mail scanner opening the link changes nothing.
pub async fn updates_off_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> AppResult<Response> {
    Ok(match updates_link(&state, &token).await? {
        UpdatesLink::Wanting(_, title) => {
            render(&UpdatesOffPage { page: Page::new(&ctx, "Stop updates about a letter"), token, title })
        }
        UpdatesLink::Stopped => no_updates(&ctx),
        UpdatesLink::Invalid => invalid_updates_link(&ctx),
    })
}

pub async fn updates_off(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    Ok(match updates_link(&state, &token).await? {
        UpdatesLink::Wanting(id, _) => {
            sqlx::query("UPDATE letter_signatures SET wants_updates = 0 WHERE id = $1")
                .bind(id)
                .execute(&state.db.pool)
                .await?;
            no_updates(&ctx)
        }
        UpdatesLink::Stopped => no_updates(&ctx),
        UpdatesLink::Invalid => invalid_updates_link(&ctx),
    })
}
