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

/// What went wrong, as a person and a program read it. Every error response carries one: the
/// context middleware renders it as a page in the layout for whoever is signed in, or as RFC
/// 9457 problem details for a client that asked for JSON. Responses the framework makes itself
/// (a path or query that does not parse, a method a route does not take) get one by status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Problem {
        Problem { status, title: title.to_string(), detail: detail.into() }
    }

    /// The plain words for an error the framework answered with no words of ours.
    pub fn for_status(status: StatusCode) -> Problem {
        let (title, detail) = match status.as_u16() {
            400 => (
                "Something in that address was not right",
                "Part of the web address is not in the form we expected, such as a word where a number should be. Check it, or go back and follow the link again.",
            ),
            401 | 403 => ("You do not have access to this page", FORBIDDEN),
            404 => ("Page not found", NOT_FOUND),
            405 => (
                "That cannot be done at this address",
                "This address does not take that kind of request. Go back and use the page's own links and buttons.",
            ),
            413 => ("That is too large", TOO_LARGE),
            415 | 422 => (
                "What you sent could not be read",
                "It was not in the form this page expects. Go back, check what you entered and send it again.",
            ),
            429 => ("Please wait a little", RATE_LIMITED),
            s if s >= 500 => ("Sorry, something went wrong", INTERNAL),
            _ => ("Something in that request was not right", "Go back and try again."),
        };
        Problem::new(status, title, detail)
    }

    /// RFC 9457 problem details.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
    }
}

const NOT_FOUND: &str =
    "We could not find that page. If you typed the address, check it; if you followed a link, it may be out of date.";
const FORBIDDEN: &str =
    "This page is for people with a different role. If you think you should see it, ask a member of staff.";
const TOO_LARGE: &str = "What you sent is larger than we accept. For imports, split the spreadsheet into smaller files (up to 20 MB each) and import them one at a time.";
const RATE_LIMITED: &str = "There have been a lot of attempts from here or for this email address in the last few minutes. Please wait 15 minutes and try again. If you need help now, contact the staff team.";

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let problem = match &self {
            AppError::NotFound => Problem::for_status(StatusCode::NOT_FOUND),
            AppError::SignInRequired { return_to } => {
                let target = format!("/sign-in?return_to={}", urlencode(return_to));
                return Redirect::to(&target).into_response();
            }
            AppError::Forbidden => Problem::for_status(StatusCode::FORBIDDEN),
            AppError::Csrf => Problem::new(
                StatusCode::FORBIDDEN,
                "Your form could not be sent",
                "For your safety we could not accept that form: it may have been open too long or come from another site. Go back, reload the page and try again. Nothing you typed was saved.",
            ),
            AppError::RateLimited => Problem::for_status(StatusCode::TOO_MANY_REQUESTS),
            AppError::TooLarge => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            AppError::BadRequest(m) => Problem::new(StatusCode::BAD_REQUEST, "Something in that request was not right", m),
            AppError::Db(e) => {
                tracing::error!(error = %e, "database error");
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        // A page with no one signed in, in case nothing renders it again for the request.
        let mut response = render(&ErrorPage::new(&problem.title, &problem.detail)).into_response();
        *response.status_mut() = problem.status;
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
        response.extensions_mut().insert(problem);
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
