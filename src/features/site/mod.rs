//! The public front: home page, health, metrics, static files, and the staff start page.
use askama::Template;
use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

use crate::core::{
    access::{Access, Routes},
    context::Ctx,
    error::{AppError, AppResult},
    layout::{render, Page},
    state::AppState,
};

pub fn routes() -> Routes {
    Routes::default()
        .get("/", Access::Public, home)
        .get("/healthz", Access::Public, healthz)
        .get("/metrics", Access::Public, metrics)
        .get("/static/site.css", Access::Public, css)
        .get("/static/site.js", Access::Public, js)
        .get("/staff", Access::Staff, staff_home)
}

#[derive(Template)]
#[template(path = "site/home.html")]
struct Home {
    page: Page,
    members: i64,
    groups: i64,
    regions: i64,
}

/// The home page's counts are aggregate figures: kept for 30 seconds rather than counted per visit.
async fn home(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let (members, groups, regions) = match state.home_counts.get() {
        Some(counts) => counts,
        None => {
            let counts: (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM members WHERE status = 'active'), (SELECT COUNT(*) FROM groups WHERE status = 'active'), \
                 (SELECT COUNT(DISTINCT region) FROM members WHERE status = 'active' AND region IS NOT NULL)",
            )
            .fetch_one(&state.db.pool)
            .await?;
            state.home_counts.put(counts);
            counts
        }
    };
    Ok(render(&Home { page: Page::new(&ctx, "Welcome"), members, groups, regions }))
}

async fn healthz(State(state): State<AppState>) -> Response {
    match sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&state.db.pool).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Aggregate counts for monitoring, but only for this machine (a request that came through a
/// proxy is not this machine, whatever address the proxy connects from) or for a monitoring
/// system that sends the configured token: how many people are members is the network's own
/// business.
async fn metrics(State(state): State<AppState>, ctx: Ctx, headers: axum::http::HeaderMap) -> AppResult<Response> {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let token_ok = match (&state.config.metrics_token, bearer) {
        (Some(expected), Some(given)) => crate::core::crypto::same_token(expected, given.trim()),
        _ => false,
    };
    let local = ctx.ip.is_loopback() && !headers.contains_key("x-forwarded-for") && !headers.contains_key("forwarded");
    if !token_ok && !local {
        return Err(AppError::Forbidden);
    }
    let mut out = String::new();
    state.metrics.render_requests(&mut out);
    out.push_str("# HELP constellate_password_checks_total Password sign-in attempts checked (known or not).\n");
    out.push_str("# TYPE constellate_password_checks_total counter\n");
    out.push_str(&format!("constellate_password_checks_total {}\n", crate::core::crypto::password_checks()));
    let jobs: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(&state.db.pool).await?;
    out.push_str("# HELP constellate_jobs Jobs in the job table by status.\n# TYPE constellate_jobs gauge\n");
    for status in ["queued", "running", "done", "failed"] {
        let n = jobs.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        out.push_str(&format!("constellate_jobs{{status=\"{status}\"}} {n}\n"));
    }
    let members: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM members GROUP BY status").fetch_all(&state.db.pool).await?;
    out.push_str("# HELP constellate_members Member accounts by status.\n# TYPE constellate_members gauge\n");
    for (status, n) in members {
        out.push_str(&format!("constellate_members{{status=\"{status}\"}} {n}\n"));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../../static/site.css"))
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../../static/site.js"))
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct StaffHome {
    page: Page,
    pending: i64,
    failed_jobs: i64,
    bulletin_waiting: i64,
}

async fn staff_home(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let (pending, failed_jobs, bulletin_waiting): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM members WHERE status = 'pending'), (SELECT COUNT(*) FROM jobs WHERE status = 'failed'), \
         (SELECT COUNT(*) FROM bulletin_items WHERE status = 'received')",
    )
    .fetch_one(&state.db.pool)
    .await?;
    Ok(render(&StaffHome { page: Page::new(&ctx, "Staff"), pending, failed_jobs, bulletin_waiting }))
}

pub async fn not_found() -> Response {
    AppError::NotFound.into_response()
}
