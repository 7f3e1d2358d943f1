//! The public front: home page and the four theme pages, health, metrics, static files.
pub mod themes;

use askama::Template;
use axum::{
    extract::{Query, State},
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
        .get("/knowledge", Access::Public, themes::knowledge)
        .get("/collaboration", Access::Public, themes::collaboration)
        .get("/voice", Access::Public, themes::voice)
        .get("/resourcing", Access::Public, themes::resourcing)
        .get("/healthz", Access::Public, healthz)
        .get("/metrics", Access::Public, metrics)
        .get("/static/site.css", Access::Public, css)
        .get("/static/site.js", Access::Public, js)
}

#[derive(Template)]
#[template(path = "site/home.html")]
struct Home {
    page: Page,
    members: i64,
    groups: i64,
    regions: i64,
    themes: [&'static themes::Theme; 4],
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
    let themes = [&themes::KNOWLEDGE, &themes::COLLABORATION, &themes::VOICE, &themes::RESOURCING];
    let page = themes
        .iter()
        .flat_map(|t| t.feeds)
        .fold(Page::new(&ctx, "Welcome"), |page, (title, href)| page.with_feed(*title, *href));
    Ok(render(&Home { page, members, groups, regions, themes }))
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

/// A static file in every form it is served in: as it is, and compressed at build time.
struct Asset {
    content_type: &'static str,
    plain: &'static [u8],
    brotli: &'static [u8],
    gzip: &'static [u8],
}

const CSS: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    plain: include_bytes!("../../../static/site.css"),
    brotli: include_bytes!(concat!(env!("OUT_DIR"), "/site.css.br")),
    gzip: include_bytes!(concat!(env!("OUT_DIR"), "/site.css.gz")),
};

const JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    plain: include_bytes!("../../../static/site.js"),
    brotli: include_bytes!(concat!(env!("OUT_DIR"), "/site.js.br")),
    gzip: include_bytes!(concat!(env!("OUT_DIR"), "/site.js.gz")),
};

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Version {
    v: String,
}

/// The current version's URL is kept a year (a change makes a new URL); any other for minutes.
fn asset(asset: &Asset, headers: &axum::http::HeaderMap, version: &str) -> Response {
    let cache = if version == crate::core::layout::ASSET_VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (body, encoding) = match crate::core::compress::negotiate(accept) {
        Some(e @ crate::core::compress::Encoding::Brotli) => (asset.brotli, Some(e)),
        Some(e @ crate::core::compress::Encoding::Gzip) => (asset.gzip, Some(e)),
        None => (asset.plain, None),
    };
    let mut response =
        ([(header::CONTENT_TYPE, asset.content_type), (header::CACHE_CONTROL, cache)], body).into_response();
    if let Some(e) = encoding {
        response.headers_mut().insert(header::CONTENT_ENCODING, axum::http::HeaderValue::from_static(e.name()));
    }
    response.headers_mut().insert(header::VARY, axum::http::HeaderValue::from_static("accept-encoding"));
    response
}

async fn css(headers: axum::http::HeaderMap, Query(q): Query<Version>) -> Response {
    asset(&CSS, &headers, &q.v)
}

async fn js(headers: axum::http::HeaderMap, Query(q): Query<Version>) -> Response {
    asset(&JS, &headers, &q.v)
}

pub async fn not_found() -> Response {
    AppError::NotFound.into_response()
}
