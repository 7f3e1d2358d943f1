//! The one error type handlers return: a person sees a kind page, the log sees the cause.
use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use crate::core::layout::{render, ErrorPage};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("sign-in required")]
    SignInRequired { return_to: String },
    #[error("forbidden")]
    Forbidden,
    #[error("request could not be verified (CSRF)")]
    Csrf,
    #[error("too many attempts")]
    RateLimited,
    #[error("upload too large")]
    TooLarge,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message): (StatusCode, &str, String) = match &self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "We could not find that page. If you typed the address, check it; if you followed a link, it may be out of date.".into(),
            ),
            AppError::SignInRequired { return_to } => {
                let target = format!("/sign-in?return_to={}", urlencode(return_to));
                return Redirect::to(&target).into_response();
            }
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "You do not have access to this page",
                "This page is for people with a different role. If you think you should see it, ask a member of staff.".into(),
            ),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "Your form could not be sent",
                "For your safety we could not accept that form: it may have been open too long or come from another site. Go back, reload the page and try again. Nothing you typed was saved.".into(),
            ),
            AppError::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "Please wait a little",
                "There have been a lot of attempts from here or for this email address in the last few minutes. Please wait 15 minutes and try again. If you need help now, contact the staff team.".into(),
            ),
            AppError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "That file is too large",
                "What you sent is larger than we accept. For imports, split the spreadsheet into smaller files (up to 20 MB each) and import them one at a time.".into(),
            ),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Something in that request was not right", m.clone()),
            AppError::Db(e) => {
                tracing::error!(error = %e, "database error");
                (StatusCode::INTERNAL_SERVER_ERROR, "Sorry, something went wrong", INTERNAL.into())
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "Sorry, something went wrong", INTERNAL.into())
            }
        };
        let mut response = render(&ErrorPage::new(title, &message)).into_response();
        *response.status_mut() = status;
        match self {
            AppError::Csrf => {
                response.headers_mut().insert("x-denied", header::HeaderValue::from_static("csrf"));
            }
            // Every limit counts in fixed windows of the same length: the next one starts then.
            AppError::RateLimited => {
                let t = crate::core::time::now();
                let wait =
                    crate::core::ratelimit::WINDOW_SECONDS - t.rem_euclid(crate::core::ratelimit::WINDOW_SECONDS);
                response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
            }
            _ => {}
        }
        response
    }
}

const INTERNAL: &str = "The problem is on our side and has been logged. Nothing you sent has been lost if you saw a confirmation; otherwise please try again in a few minutes.";

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
