//! Per-request context: who is signed in, the CSRF token, the client address, a flash notice.
//!
//! One middleware builds it for every request; the route guard (`access.rs`) checks the CSRF
//! token of every state-changing request with [`verify_csrf`], so no handler can forget to.
use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::core::{
    auth::{self, SessionUser},
    crypto::{random_token, same_token},
    error::{AppError, Problem},
    state::AppState,
};

/// Largest ordinary form we read; imports have their own, larger limit.
pub const FORM_LIMIT: usize = 256 * 1024;
/// Largest import upload.
pub const IMPORT_LIMIT: usize = 20 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Ctx {
    pub user: Option<SessionUser>,
    pub csrf: String,
    pub ip: IpAddr,
    pub notice: Option<String>,
    /// The path asked for (the layout marks where the person is in the navigation).
    pub path: String,
}

impl Ctx {
    pub fn user(&self) -> Result<&SessionUser, AppError> {
        self.user.as_ref().ok_or(AppError::SignInRequired { return_to: "/".into() })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Ctx, AppError> {
        parts.extensions.get::<Ctx>().cloned().ok_or_else(|| AppError::internal("context middleware missing"))
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    if state.config.trust_proxy {
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if let Some(ip) = forwarded.and_then(|v| v.split(',').next()).and_then(|s| s.trim().parse().ok()) {
            return ip;
        }
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let wants_json = wants_json(req.headers());
    // /healthz answers monitoring in plain words, whatever its status.
    let plain_words = req.uri().path() == "/healthz";
    if !crate::core::forms::uri_is_text(req.uri().path(), req.uri().query()) {
        let response = AppError::BadRequest(
            "That web address holds characters that cannot be part of an address here. Check it, or go back and follow the link again."
                .into(),
        )
        .into_response();
        let nobody =
            Ctx { user: None, csrf: String::new(), ip: client_ip(&state, &req), notice: None, path: "/".into() };
        return finish(&state, present(&nobody, wants_json, response));
    }
    let user = match cookie(req.headers(), "sid") {
        Some(sid) => match auth::session_user(&state.db, sid).await {
            Ok(u) => u,
            Err(e) => return AppError::from(e).into_response(),
        },
        None => None,
    };
    let cookie_csrf = cookie(req.headers(), "csrf").map(str::to_owned);
    let new_csrf = cookie_csrf.is_none().then(random_token);
    let csrf = match &user {
        Some(u) => u.csrf.clone(),
        None => cookie_csrf.clone().or_else(|| new_csrf.clone()).unwrap_or_default(),
    };
    let notice = cookie(req.headers(), "flash").map(crate::core::layout::notice_text).filter(|s| !s.is_empty());
    let path = req.uri().path().to_string();
    let ctx = Ctx { user, csrf, ip: client_ip(&state, &req), notice: notice.map(str::to_owned), path };
    let had_flash = cookie(req.headers(), "flash").is_some();
    req.extensions_mut().insert(ctx.clone());
    let response = next.run(req).await;
    let mut response = if plain_words { response } else { present(&ctx, wants_json, response) };
    if let Some(token) = new_csrf {
        response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, "csrf", &token, None));
    }
    if had_flash && !response.headers().get_all(header::SET_COOKIE).iter().any(|v| v.as_bytes().starts_with(b"flash="))
    {
        response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, "flash", "", Some(0)));
    }
    finish(&state, response)
}

/// Whether the client asked for JSON rather than a page (an API client, a script).
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let json = accept.find("application/json").or_else(|| accept.find("application/problem+json"));
    match (json, accept.find("text/html")) {
        (Some(_), None) => true,
        (Some(j), Some(h)) => j < h,
        _ => false,
    }
}

/// An error answered in the form the client asked for: a page in the layout that knows who is
/// signed in, or RFC 9457 problem details. A response of ours with an error status and no
/// [`Problem`] (a form shown again with its errors) is left as it is; one the framework made
/// (plain text or nothing) gets the plain words for its status, never the framework's own.
fn present(ctx: &Ctx, wants_json: bool, response: Response) -> Response {
    let status = response.status();
    let to_sign_in = status == StatusCode::SEE_OTHER
        && response.headers().get(header::LOCATION).is_some_and(|l| l.as_bytes().starts_with(b"/sign-in?"));
    if wants_json && to_sign_in {
        let problem =
            Problem::new(StatusCode::UNAUTHORIZED, "Sign in first", "This needs a signed-in session or a token.");
        return problem_json(&problem, Response::new(Body::empty()));
    }
    if status.as_u16() < 400 {
        return response;
    }
    let framework =
        response.headers().get(header::CONTENT_TYPE).is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
    let problem = match response.extensions().get::<Problem>() {
        Some(problem) => problem.clone(),
        None if framework => Problem::for_status(status),
        None => return response,
    };
    if wants_json {
        return problem_json(&problem, response);
    }
    let (mut parts, _) = response.into_parts();
    let page =
        crate::core::layout::render(&crate::core::layout::ErrorPage::signed(ctx, &problem.title, &problem.detail));
    let (page_parts, body) = page.into_parts();
    parts.status = problem.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(t) = page_parts.headers.get(header::CONTENT_TYPE) {
        parts.headers.insert(header::CONTENT_TYPE, t.clone());
    }
    Response::from_parts(parts, body)
}

fn problem_json(problem: &Problem, response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.status = problem.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::LOCATION);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    Response::from_parts(parts, Body::from(problem.json().to_string()))
}

/// What every page may load and do: only this site's own files, no inline script, no framing,
/// forms only to this site. A route that must differ (the raw email preview) sets its own.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Headers every response carries, then the response is counted for /metrics.
fn finish(state: &AppState, mut response: Response) -> Response {
    let headers = response.headers_mut();
    // Pages can hold personal data: no caching, unless the route said otherwise (static files).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Links out never carry our addresses, which can hold tokens; our own forms keep their Origin.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if state.config.secure_cookies() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000"));
    }
    state.metrics.record_status(response.status().as_u16());
    response
}

/// Checks the request came from our own page: the Origin (when the browser sends one) must be
/// ours, and the `_csrf` field of the form (ordinary or multipart) must match. The body is read
/// here, within the route's size limit, and handed on unchanged.
pub async fn verify_csrf(ctx: &Ctx, req: Request, limit: usize) -> Result<Request, AppError> {
    if let (Some(origin), Some(host)) = (req.headers().get(header::ORIGIN), req.headers().get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let host = host.to_str().unwrap_or("");
        if origin != "null" && origin.split("://").nth(1) != Some(host) {
            return Err(AppError::Csrf);
        }
    }
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::TooLarge);
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| AppError::TooLarge)?;
    let token = if content_type.starts_with("multipart/form-data") {
        multipart_token(bytes.clone(), &content_type).await
    } else {
        form_urlencoded::parse(&bytes).find(|(k, _)| k == "_csrf").map(|(_, v)| v.into_owned())
    };
    match token {
        Some(t) if same_token(&t, &ctx.csrf) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(AppError::Csrf),
    }
}

/// The `_csrf` field of a multipart body (forms put it first, so parsing stops early).
async fn multipart_token(bytes: axum::body::Bytes, content_type: &str) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("_csrf") {
            return field.text().await.ok();
        }
    }
    None
}
