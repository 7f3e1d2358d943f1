use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use sqlx::AnyConnection;

use crate::{
    core::{
        access::{Access, Routes},
        auth::{self, LinkPurpose, LinkState, SESSION_SECONDS},
        context::{set_cookie, Ctx},
        crypto::{hash_password, verify_password},
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        jobs,
        layout::{message, redirect_with_notice, render, Page},
        mail::Email,
        ratelimit,
        state::AppState,
    },
    features::members::{
        domain::{parse_display_name, EmailAddress, NewMember},
        store as members,
    },
};

pub fn routes() -> Routes {
    Routes::default()
        .get("/sign-in", Access::Public, sign_in_page)
        .post("/sign-in", Access::Public, request_link)
        .get("/sign-in/check-email", Access::Public, check_email)
        .post("/sign-in/password", Access::Public, sign_in_with_password)
        .get("/sign-in/link/{token}", Access::Public, link_page)
        .post("/sign-in/link/{token}", Access::Public, use_link)
        .post("/sign-out", Access::SignedIn, sign_out)
        .get("/setup/{token}", Access::Public, setup_page)
        .post("/setup/{token}", Access::Public, setup)
        .get("/me/password", Access::SignedIn, password_page)
        .post("/me/password", Access::SignedIn, set_password)
}

/// Only paths on this site: never send someone elsewhere after sign-in. What was asked for is
/// parsed the way a browser would parse it against this site, and anything that would leave it
/// (a second slash, a backslash, a tab or newline a browser drops, a scheme) becomes `/me`.
fn safe_return(to: &str) -> String {
    local_path(to).unwrap_or_else(|| "/me".to_string())
}

fn local_path(to: &str) -> Option<String> {
    const HOST: &str = "constellate.invalid";
    let plain = to.starts_with('/')
        && !to.starts_with("//")
        && !to.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if !plain {
        return None;
    }
    let url = url::Url::parse(&format!("http://{HOST}/")).ok()?.join(to).ok()?;
    if url.host_str() != Some(HOST) || url.port().is_some() || !url.username().is_empty() {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    })
}

#[derive(Template)]
#[template(path = "accounts/sign_in.html")]
struct SignInPage {
    page: Page,
    errors: FormErrors,
    email: String,
    password_email: String,
    return_to: String,
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

async fn sign_in_page(ctx: Ctx, Query(q): Query<ReturnTo>) -> Response {
    render(&SignInPage {
        page: Page::new(&ctx, "Sign in"),
        errors: FormErrors::default(),
        email: String::new(),
        password_email: String::new(),
        return_to: safe_return(q.return_to.as_deref().unwrap_or("/me")),
    })
}

fn sign_in_errors(ctx: &Ctx, form: &FormData, errors: FormErrors) -> Response {
    let mut response = render(&SignInPage {
        page: Page::new(ctx, format!("{}Sign in", errors.title_prefix())),
        email: form.get("email"),
        password_email: form.get("password_email"),
        return_to: safe_return(&form.get("return_to")),
        errors,
    });
    *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    response
}

/// Rate-limit an attempt by address and by email.
pub async fn limit_attempt(state: &AppState, ctx: &Ctx, what: &str, email: &str) -> AppResult<()> {
    ratelimit::hit(&state.db, &format!("{what}:ip:{}", ctx.ip), state.config.rate_limit_per_ip).await?;
    ratelimit::hit(&state.db, &format!("{what}:email:{email}"), state.config.rate_limit_per_email).await
}

async fn request_link(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let email = match EmailAddress::parse(&form.get("email")) {
        Ok(e) => e,
        Err(message) => {
            let mut errors = FormErrors::default();
            errors.add("email", message);
            return Ok(sign_in_errors(&ctx, &form, errors));
        }
    };
    limit_attempt(&state, &ctx, "sign-in", email.as_str()).await?;
    // The answer is the same whether or not we know the address, so nobody can test who is a member.
    if let Some(member) = members::find_by_email(&state.db, email.as_str()).await? {
        let mut conn = state.db.pool.acquire().await?;
        send_sign_in_link(&state, &mut conn, member.id, email.as_str(), &safe_return(&form.get("return_to"))).await?;
    }
    Ok(Redirect::to("/sign-in/check-email").into_response())
}

/// Queue an email with a fresh sign-in link (which also confirms a new member's address).
pub async fn send_sign_in_link(
    state: &AppState,
    conn: &mut AnyConnection,
    member_id: i64,
    email: &str,
    return_to: &str,
) -> AppResult<()> {
    let token = auth::issue_link(&mut *conn, Some(member_id), LinkPurpose::SignIn).await?;
    let ret = if return_to == "/me" {
        String::new()
    } else {
        format!("?return_to={}", crate::core::error::urlencode(return_to))
    };
    let link = format!("{}/sign-in/link/{token}{ret}", state.config.base_url);
    let network = &state.config.network_name;
    let email = Email::text(
        email,
        format!("Your sign-in link for {network}"),
        format!(
            "Hello,\n\nUse this link to sign in to {network}. It works once, within 15 minutes:\n\n{link}\n\n\
             If you did not ask for this, you can ignore this email: nobody can sign in without the link.\n"
        ),
    );
    jobs::enqueue_mail(&mut *conn, &email, Some(member_id)).await?;
    state.jobs_waiting.notify_one();
    Ok(())
}

async fn check_email(ctx: Ctx) -> Response {
    message(
        &ctx,
        "Check your email",
        &[
            "If that address belongs to a member, we have sent a sign-in link to it. The link works once, within 15 minutes.",
            "It can take a few minutes to arrive. Check your spam folder too. Nothing arrived? You can ask for another link.",
        ],
        Some(("/sign-in", "Ask for another sign-in link")),
    )
}

async fn sign_in_with_password(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    let email = EmailAddress::parse(&form.get("password_email")).map_err(|e| errors.add("password_email", e)).ok();
    let password = form.get("password");
    if password.is_empty() {
        errors.add("password", "Enter your password");
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else { return Ok(sign_in_errors(&ctx, &form, errors)) };
    limit_attempt(&state, &ctx, "sign-in", email.as_str()).await?;
    let hash: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, password_hash FROM members WHERE email = $1 AND status <> 'erased'")
            .bind(email.as_str())
            .fetch_optional(&state.db.pool)
            .await?;
    // Every attempt costs one password check, so the time taken does not tell whether the
    // address belongs to an account with a password.
    let verified = match &hash {
        Some((id, Some(stored))) => verify_password(&password, stored).then_some(*id),
        _ => {
            verify_password(&password, crate::core::crypto::dummy_password_hash());
            None
        }
    };
    match verified {
        Some(id) => signed_in_response(&state, id, &safe_return(&form.get("return_to"))).await,
        None => {
            errors.add(
                "password_email",
                "The email address or password is not right. You can sign in with an emailed link instead.",
            );
            Ok(sign_in_errors(&ctx, &form, errors))
        }
    }
}

async fn signed_in_response(state: &AppState, member_id: i64, to: &str) -> AppResult<Response> {
    let sid = auth::start_session(&state.db, member_id).await?;
    let mut response = redirect_with_notice(state, to, "signed-in");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, "sid", &sid, Some(SESSION_SECONDS)));
    Ok(response)
}

#[derive(Template)]
#[template(path = "accounts/link.html")]
struct LinkPage {
    page: Page,
    token: String,
    return_to: String,
}

fn link_expired(ctx: &Ctx) -> Response {
    let mut response = message(
        ctx,
        "This link has expired or was already used",
        &["Sign-in links work once, within 15 minutes. Ask for a new one: it only takes a moment."],
        Some(("/sign-in", "Ask for a new sign-in link")),
    );
    *response.status_mut() = axum::http::StatusCode::GONE;
    response
}

/// Showing a button first means mail scanners that open links do not use them up.
async fn link_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    Query(q): Query<ReturnTo>,
) -> AppResult<Response> {
    if auth::check_link(&state.db, &token, LinkPurpose::SignIn).await? != LinkState::Valid {
        return Ok(link_expired(&ctx));
    }
    Ok(render(&LinkPage {
        page: Page::new(&ctx, "Finish signing in"),
        token,
        return_to: safe_return(q.return_to.as_deref().unwrap_or("/me")),
    }))
}

async fn use_link(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let Some(Some(member_id)) = auth::redeem_link(&state.db, &token, LinkPurpose::SignIn).await? else {
        return Ok(link_expired(&ctx));
    };
    // The first link a new member uses confirms their email address.
    let confirmed_status = match state.config.approval {
        crate::core::config::Approval::Open => "active",
        crate::core::config::Approval::Reviewed => "pending",
    };
    sqlx::query("UPDATE members SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'unconfirmed'")
        .bind(confirmed_status)
        .bind(crate::core::time::now())
        .bind(member_id)
        .execute(&state.db.pool)
        .await?;
    signed_in_response(&state, member_id, &safe_return(&form.get("return_to"))).await
}

async fn sign_out(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    auth::end_session(&state.db, &ctx.user()?.session_hash).await?;
    let mut response = redirect_with_notice(&state, "/", "signed-out");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, "sid", "", Some(0)));
    Ok(response)
}

#[derive(Template)]
#[template(path = "accounts/setup.html")]
struct SetupPage {
    page: Page,
    errors: FormErrors,
    token: String,
    display_name: String,
    email: String,
}

/// On start with no admin: make a one-time setup link and return it for printing.
pub async fn setup_link_if_needed(state: &AppState) -> Result<Option<String>, sqlx::Error> {
    if auth::admin_exists(&state.db).await? {
        return Ok(None);
    }
    let token = auth::issue_link(&state.db.pool, None, LinkPurpose::Setup).await?;
    Ok(Some(format!("{}/setup/{token}", state.config.base_url)))
}

async fn setup_page(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    if auth::check_link(&state.db, &token, LinkPurpose::Setup).await? != LinkState::Valid
        || auth::admin_exists(&state.db).await?
    {
        return Ok(link_expired(&ctx));
    }
    Ok(render(&SetupPage {
        page: Page::new(&ctx, "Set up the first admin account"),
        errors: FormErrors::default(),
        token,
        display_name: String::new(),
        email: String::new(),
    }))
}

async fn setup(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    let name = parse_display_name(&form.get("display_name")).map_err(|e| errors.add("display_name", e)).ok();
    let email = EmailAddress::parse(&form.get("email")).map_err(|e| errors.add("email", e)).ok();
    let (Some(display_name), Some(email)) = (name, email) else {
        let mut response = render(&SetupPage {
            page: Page::new(&ctx, "Error: Set up the first admin account"),
            errors,
            token,
            display_name: form.get("display_name"),
            email: form.get("email"),
        });
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    };
    if auth::admin_exists(&state.db).await? || auth::redeem_link(&state.db, &token, LinkPurpose::Setup).await?.is_none()
    {
        return Ok(link_expired(&ctx));
    }
    let mut tx = state.db.begin().await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM members WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query("UPDATE members SET role = 'admin', status = 'active' WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            let new = NewMember { display_name, email, region: None, communities: vec![], consents: vec![] };
            members::insert(&mut tx, &new, "active", "admin", crate::core::time::now()).await?
        }
    };
    tx.commit().await?;
    signed_in_response(&state, id, "/staff").await
}

#[derive(Template)]
#[template(path = "accounts/password.html")]
struct PasswordPage {
    page: Page,
    errors: FormErrors,
}

async fn password_page(ctx: Ctx) -> Response {
    render(&PasswordPage { page: Page::new(&ctx, "Set a password"), errors: FormErrors::default() })
}

async fn set_password(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let user = ctx.user()?;
    let password = form.get("password");
    let mut errors = FormErrors::default();
    if password.chars().count() < 10 {
        errors.add("password", "Password must be at least 10 characters");
    } else if password.len() > 512 {
        errors.add("password", "Password must be 512 characters or fewer");
    } else if password != form.get("confirm") {
        errors.add("confirm", "The two passwords do not match");
    }
    if !errors.is_empty() {
        let mut response = render(&PasswordPage { page: Page::new(&ctx, "Error: Set a password"), errors });
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    let hash = hash_password(&password).map_err(AppError::internal)?;
    sqlx::query("UPDATE members SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(crate::core::time::now())
        .bind(user.id)
        .execute(&state.db.pool)
        .await?;
    Ok(redirect_with_notice(&state, "/me", "password-saved"))
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn return_address_stays_on_this_site() {
        assert_eq!(safe_return("/groups/3"), "/groups/3");
        assert_eq!(safe_return("//evil.example"), "/me");
        assert_eq!(safe_return("https://evil.example"), "/me");
        assert_eq!(safe_return("/\\evil.example"), "/me");
        assert_eq!(safe_return("/\t/evil.example"), "/me");
        assert_eq!(safe_return("/\n/x"), "/me");
        assert_eq!(safe_return("/%09/evil.example"), "/%09/evil.example", "an encoded tab stays a path segment");
        assert_eq!(safe_return("/grants/rounds/3?tab=open"), "/grants/rounds/3?tab=open");
        assert_eq!(safe_return("/a/../../b"), "/b");
        assert_eq!(safe_return("javascript:alert(1)"), "/me");
        assert_eq!(safe_return(""), "/me");
    }
}
