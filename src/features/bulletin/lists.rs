//! Mailing lists: the members' bulletin (members whose bulletin consent is on), lists people
//! join with only an email (double opt-in), one-click unsubscribing, and addresses that bounce.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use crate::{
    core::{
        audit::{self, Action},
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        jobs,
        layout::{message, redirect_with_notice, render, Page},
        mail::Email,
        state::AppState,
        time::now,
    },
    features::{
        accounts::limit_attempt,
        members::{domain::EmailAddress, domain::Purpose, store as members},
    },
};

/// A signup that was never confirmed is deleted after a week; an unsubscribed one after 30
/// days (long enough to undo by mistake, then the address is not kept).
const PENDING_DAYS: i64 = 7;
const UNSUBSCRIBED_DAYS: i64 = 30;

pub fn unsubscribe_token(state: &AppState, list_id: i64, who: &str) -> String {
    state.links.sign("unsubscribe", &format!("{list_id}-{who}"))
}

/// Whom an unsubscribe token names.
enum Subscriber {
    Member(i64),
    Signup(i64),
}

fn read_token(state: &AppState, token: &str) -> Option<(i64, Subscriber)> {
    let data = state.links.verify("unsubscribe", token)?;
    let (list, who) = data.split_once('-')?;
    let list = list.parse().ok()?;
    let who = match (who.strip_prefix('m'), who.strip_prefix('s')) {
        (Some(id), _) => Subscriber::Member(id.parse().ok()?),
        (_, Some(id)) => Subscriber::Signup(id.parse().ok()?),
        _ => return None,
    };
    Some((list, who))
}

/// Turn a subscription off or (undo) on again. Returns the list's name, or None when the
/// token names nothing that exists any more.
async fn set_subscribed(state: &AppState, token: &str, on: bool) -> AppResult<Option<String>> {
    let Some((list_id, who)) = read_token(state, token) else { return Ok(None) };
    let list: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT name, consent_purpose FROM mailing_lists WHERE id = $1")
            .bind(list_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let Some((name, purpose)) = list else { return Ok(None) };
    let mut tx = state.db.begin().await?;
    match who {
        Subscriber::Member(id) => {
            let purpose = Purpose::ALL.into_iter().find(|p| Some(p.key()) == purpose.as_deref());
            let Some(purpose) = purpose else { return Ok(None) };
            if members::get(&state.db, id).await?.is_none() {
                return Ok(None);
            }
            let current = members::current_consents(&state.db, id).await?;
            if current.iter().any(|(p, granted)| *p == purpose && *granted != on) {
                members::record_consent(&mut tx, id, purpose, on, now()).await?;
            }
        }
        Subscriber::Signup(id) => {
            let changed = sqlx::query(
                "UPDATE list_signups SET status = $1, unsubscribed_at = $2 WHERE id = $3 AND list_id = $4 AND status <> 'pending'",
            )
            .bind(if on { "active" } else { "unsubscribed" })
            .bind((!on).then(now))
            .bind(id)
            .bind(list_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Ok(None);
            }
        }
    }
    tx.commit().await?;
    Ok(Some(name))
}

#[derive(Template)]
#[template(path = "bulletin/unsubscribed.html")]
struct UnsubscribedPage {
    page: Page,
    list: String,
    token: String,
    subscribed: bool,
    /// People who joined with only an email can have it deleted here.
    can_forget: bool,
}

fn gone(ctx: &Ctx) -> Response {
    let mut response = message(
        ctx,
        "This link no longer works",
        &["The subscription it was for no longer exists, so there is nothing to unsubscribe: you will not get more emails from it."],
        Some(("/", "Go to the home page")),
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

fn unsubscribed_page(ctx: &Ctx, token: String, list: String, subscribed: bool) -> Response {
    let can_forget = token.contains("-s");
    render(&UnsubscribedPage {
        page: Page::new(ctx, if subscribed { "You are subscribed again" } else { "You have been unsubscribed" }),
        list,
        token,
        subscribed,
        can_forget,
    })
}

/// The name of the list a token names, while that subscription exists; changes nothing.
async fn list_of(state: &AppState, token: &str) -> AppResult<Option<String>> {
    let Some((list_id, who)) = read_token(state, token) else { return Ok(None) };
    let exists = match who {
        Subscriber::Member(id) => members::get(&state.db, id).await?.is_some(),
        Subscriber::Signup(id) => {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM list_signups WHERE id = $1 AND list_id = $2")
                .bind(id)
                .bind(list_id)
                .fetch_optional(&state.db.pool)
                .await?;
            found.is_some()
        }
    };
    if !exists {
        return Ok(None);
    }
    Ok(sqlx::query_scalar("SELECT name FROM mailing_lists WHERE id = $1")
        .bind(list_id)
        .fetch_optional(&state.db.pool)
        .await?)
}

#[derive(Template)]
#[template(path = "bulletin/unsubscribe.html")]
struct UnsubscribePage {
    page: Page,
    list: String,
    token: String,
}

/// The link in every message shows one button. Opening it changes nothing: mail scanners and
/// previewers open every link in a message, which is why RFC 8058 makes unsubscribing a POST.
pub async fn unsubscribe_link(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match list_of(&state, &token).await? {
        Some(list) => {
            Ok(render(&UnsubscribePage { page: Page::new(&ctx, format!("Unsubscribe from the {list}")), list, token }))
        }
        None => Ok(gone(&ctx)),
    }
}

/// The POST that unsubscribes: from that page's button, or from a mail program's RFC 8058
/// one-click (`List-Unsubscribe=One-Click`). Both get the page that confirms it and offers to undo.
pub async fn unsubscribe_one_click(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match set_subscribed(&state, &token, false).await? {
        Some(list) => Ok(unsubscribed_page(&ctx, token, list, false)),
        None => Ok(gone(&ctx)),
    }
}

pub async fn undo_unsubscribe(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match set_subscribed(&state, &token, true).await? {
        Some(list) => Ok(unsubscribed_page(&ctx, token, list, true)),
        None => Ok(gone(&ctx)),
    }
}

/// Someone who joined a list with only an email deletes it (and anything queued for it).
pub async fn forget_signup(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    let Some((_, Subscriber::Signup(id))) = read_token(&state, &token) else { return Ok(gone(&ctx)) };
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM list_signups WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?;
    let Some(email) = email else { return Ok(gone(&ctx)) };
    erase_address(&state, &email).await?;
    Ok(message(
        &ctx,
        "Your address has been deleted",
        &["We have deleted your email address and everything we held with it. You will not hear from us again unless you sign up again."],
        Some(("/", "Go to the home page")),
    ))
}

/// Delete every sign-up, queued message and failure record for an address.
pub async fn erase_address(state: &AppState, email: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM list_signups WHERE email = $1").bind(email).fetch_all(&mut *tx).await?;
    for id in ids {
        sqlx::query("DELETE FROM jobs WHERE dedupe_key LIKE $1")
            .bind(format!("bulletin:%:s{id}"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM list_signups WHERE email = $1").bind(email).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM mail_failures WHERE email = $1").bind(email).execute(&mut *tx).await?;
    crate::core::ratelimit::forget_address(&mut tx, email).await?;
    crate::core::jobs::forget_address(&mut tx, email).await?;
    tx.commit().await?;
    state.mailer.forget_recipient(email).await.map_err(AppError::internal)?;
    Ok(())
}

/// A permanent delivery failure for an address; after `bounce_limit` of them its bulletin
/// delivery pauses until staff (or the person) resume it.
pub async fn record_failure(state: &AppState, email: &str, reason: &str) -> Result<(), sqlx::Error> {
    let t = now();
    let reason: String = reason.chars().take(500).collect();
    sqlx::query(
        "INSERT INTO mail_failures (email, failures, last_failure, paused_at, updated_at) \
         VALUES ($1, 1, $2, CASE WHEN $3 <= 1 THEN $4 END, $4) \
         ON CONFLICT (email) DO UPDATE SET failures = mail_failures.failures + 1, last_failure = $2, \
         paused_at = CASE WHEN mail_failures.paused_at IS NULL AND mail_failures.failures + 1 >= $3 THEN $4 \
                          ELSE mail_failures.paused_at END, updated_at = $4",
    )
    .bind(email)
    .bind(reason)
    .bind(state.config.bounce_limit)
    .bind(t)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

#[derive(Template)]
#[template(path = "bulletin/newsletter.html")]
struct NewsletterPage {
    page: Page,
    errors: FormErrors,
    email: String,
    list: String,
    lists: Vec<(String, String)>,
    descriptions: Vec<(String, String)>,
}

/// Lists anyone can join with an email: (id, name, description).
async fn open_lists(state: &AppState) -> AppResult<Vec<(i64, String, String)>> {
    Ok(sqlx::query_as("SELECT id, name, description FROM mailing_lists WHERE audience = 'signups' ORDER BY id")
        .fetch_all(&state.db.pool)
        .await?)
}

async fn newsletter_form(
    state: &AppState,
    ctx: &Ctx,
    email: String,
    list: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let lists = open_lists(state).await?;
    let invalid = !errors.is_empty();
    let list = if list.is_empty() { lists.first().map(|(id, _, _)| id.to_string()).unwrap_or_default() } else { list };
    let mut response = render(&NewsletterPage {
        page: Page::new(ctx, format!("{}Follow our news", errors.title_prefix())),
        errors,
        email,
        list,
        lists: lists.iter().map(|(id, name, _)| (id.to_string(), name.clone())).collect(),
        descriptions: lists.into_iter().map(|(_, name, d)| (name, d)).collect(),
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn newsletter_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    newsletter_form(&state, &ctx, String::new(), String::new(), FormErrors::default()).await
}

/// Sign up with only an email: a confirmation link is sent, and nothing is sent to the address
/// until it is used. Whether the address was already signed up is never revealed.
pub async fn newsletter_signup(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let typed = form.get("email");
    let list = form.get("list");
    let mut errors = FormErrors::default();
    let email = EmailAddress::parse(&typed).map_err(|e| errors.add("email", e)).ok();
    let lists = open_lists(&state).await?;
    let list_id = list.parse::<i64>().ok().filter(|id| lists.iter().any(|(l, _, _)| l == id));
    if list_id.is_none() {
        errors.add("list", "Choose what you would like to hear about");
    }
    let (Some(email), Some(list_id)) = (email, list_id) else {
        return newsletter_form(&state, &ctx, typed, list, errors).await;
    };
    limit_attempt(&state, &ctx, "newsletter", email.as_str()).await?;
    let t = now();
    let mut tx = state.db.begin().await?;
    let signup: (i64, String) = sqlx::query_as(
        "INSERT INTO list_signups (list_id, email, status, created_at) VALUES ($1, $2, 'pending', $3) \
         ON CONFLICT (list_id, email) DO UPDATE SET created_at = CASE WHEN list_signups.status = 'pending' THEN $3 \
         ELSE list_signups.created_at END RETURNING id, status",
    )
    .bind(list_id)
    .bind(email.as_str())
    .bind(t)
    .fetch_one(&mut *tx)
    .await?;
    let (id, status) = signup;
    let network = &state.config.network_name;
    let text = if status == "active" {
        format!("Hello,\n\nSomeone (we hope you) asked to follow {network}'s news with this address. You are already signed up, so there is nothing to do.\n")
    } else {
        let token = state.links.sign("confirm-signup", &id.to_string());
        format!(
            "Hello,\n\nPlease confirm you would like to hear from {network} by opening this link and pressing the button:\n\n{}/lists/confirm/{token}\n\n\
             If you did not ask for this, ignore this email: without confirmation we send nothing more and delete your address within {PENDING_DAYS} days.\n",
            state.config.base_url
        )
    };
    jobs::enqueue_mail(
        &mut *tx,
        &Email::text(email.as_str(), format!("Confirm you would like {network}'s news"), text),
        None,
    )
    .await?;
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(Redirect::to("/newsletter/check-email").into_response())
}

pub async fn newsletter_check_email(ctx: Ctx) -> Response {
    message(
        &ctx,
        "Check your email",
        &[
            "We have sent you an email with a link. Open it and press the button to confirm, and then you will start hearing from us.",
            "If it does not arrive within a few minutes, check your spam folder.",
        ],
        None,
    )
}

#[derive(Template)]
#[template(path = "bulletin/confirm_signup.html")]
struct ConfirmPage {
    page: Page,
    token: String,
}

fn signup_of(state: &AppState, token: &str) -> Option<i64> {
    state.links.verify("confirm-signup", token)?.parse().ok()
}

/// The emailed link shows a button rather than confirming at once, so a mail scanner that
/// opens links cannot sign someone up.
pub async fn confirm_page(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    if signup_of(&state, &token).is_none() {
        return Err(AppError::NotFound);
    }
    Ok(render(&ConfirmPage { page: Page::new(&ctx, "Confirm your subscription"), token }))
}

pub async fn confirm(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    let id = signup_of(&state, &token).ok_or(AppError::NotFound)?;
    let name: Option<String> = sqlx::query_scalar(
        "UPDATE list_signups SET status = 'active', confirmed_at = $1, unsubscribed_at = NULL WHERE id = $2 \
         RETURNING (SELECT name FROM mailing_lists WHERE id = list_id)",
    )
    .bind(now())
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some(name) = name else {
        return Ok(message(
            &ctx,
            "This link has expired",
            &["Unconfirmed sign-ups are deleted after a week. You are welcome to sign up again."],
            Some(("/newsletter", "Sign up again")),
        ));
    };
    let done = format!("You will now get the {name}. Every email has a link to stop it at any time.");
    Ok(message(&ctx, "You are signed up", &[done.as_str()], Some(("/", "Go to the home page"))))
}

/// Housekeeping: delete sign-ups never confirmed, and unsubscribed ones once undo has had its time.
pub fn forget_old_signups(state: &AppState, now: i64) -> crate::core::housekeeping::ChoreFuture<'_> {
    Box::pin(async move {
        let stale = sqlx::query(
            "DELETE FROM list_signups WHERE (status = 'pending' AND created_at < $1) OR (status = 'unsubscribed' AND unsubscribed_at < $2)",
        )
        .bind(now - PENDING_DAYS * 86_400)
        .bind(now - UNSUBSCRIBED_DAYS * 86_400)
        .execute(&state.db.pool)
        .await?;
        Ok(stale.rows_affected())
    })
}

#[derive(Template)]
#[template(path = "bulletin/staff_lists.html")]
struct ListsPage {
    page: Page,
    lists: Vec<(i64, String, String, i64, i64)>,
    failures: Vec<(String, i64, String, bool)>,
    errors: FormErrors,
    name: String,
    description: String,
}

async fn lists_page(
    state: &AppState,
    ctx: &Ctx,
    name: String,
    description: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let staff = ctx.user()?;
    // (id, name, audience, subscribed, pending)
    let lists: Vec<(i64, String, String, i64, i64)> = sqlx::query_as(
        "SELECT l.id, l.name, l.audience, \
         CASE WHEN l.audience = 'members' THEN (SELECT COUNT(*) FROM members m WHERE m.status = 'active' AND \
              (SELECT c.granted FROM consents c WHERE c.member_id = m.id AND c.purpose = l.consent_purpose ORDER BY c.id DESC LIMIT 1) = 1) \
         ELSE (SELECT COUNT(*) FROM list_signups s WHERE s.list_id = l.id AND s.status = 'active') END, \
         (SELECT COUNT(*) FROM list_signups s WHERE s.list_id = l.id AND s.status = 'pending') \
         FROM mailing_lists l ORDER BY l.id",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let failures: Vec<(String, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT email, failures, last_failure, paused_at FROM mail_failures ORDER BY paused_at IS NULL, updated_at DESC LIMIT 500",
    )
    .fetch_all(&state.db.pool)
    .await?;
    if !failures.is_empty() {
        audit::record(&state.db.pool, staff.id, Action::View, None, "viewed addresses with delivery failures").await?;
    }
    let invalid = !errors.is_empty();
    let mut response = render(&ListsPage {
        page: Page::new(ctx, format!("{}Mailing lists", errors.title_prefix())),
        lists,
        failures: failures.into_iter().map(|(e, n, last, paused)| (e, n, last, paused.is_some())).collect(),
        errors,
        name,
        description,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn staff_lists(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    lists_page(&state, &ctx, String::new(), String::new(), FormErrors::default()).await
}

/// Staff start another list people can join with an email.
pub async fn create_list(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let name = form.get("name");
    let description = form.get("description");
    let mut errors = FormErrors::default();
    let slug: String = name
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() || name.chars().count() > 80 {
        errors.add("name", "Enter a name of up to 80 characters, with some letters or numbers");
    }
    if description.is_empty() || description.chars().count() > 500 {
        errors.add("description", "Say in a sentence what people will get (up to 500 characters)");
    }
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM mailing_lists WHERE slug = $1")
        .bind(&slug)
        .fetch_optional(&state.db.pool)
        .await?;
    if taken.is_some() {
        errors.add("name", "There is already a list with that name");
    }
    if !errors.is_empty() {
        return lists_page(&state, &ctx, name, description, errors).await;
    }
    sqlx::query(
        "INSERT INTO mailing_lists (slug, name, description, audience, created_at) VALUES ($1, $2, $3, 'signups', $4)",
    )
    .bind(slug)
    .bind(&name)
    .bind(&description)
    .bind(now())
    .execute(&state.db.pool)
    .await?;
    Ok(redirect_with_notice(&state, "/staff/lists", "list-created"))
}

/// Resume delivery to an address (the person fixed their mailbox, or it was a mistake).
pub async fn resume_address(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let staff = ctx.user()?;
    let email = form.get("email");
    sqlx::query("DELETE FROM mail_failures WHERE email = $1").bind(&email).execute(&state.db.pool).await?;
    audit::record(&state.db.pool, staff.id, Action::Change, None, "resumed delivery to an address").await?;
    Ok(redirect_with_notice(&state, "/staff/lists", "delivery-resumed"))
}
