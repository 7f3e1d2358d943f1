//! Admin-only views: the audit log of staff actions on personal data.
use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

use crate::{
    core::{
        access::{Access, Routes},
        context::Ctx,
        error::AppResult,
        forms::MAX_PAGE,
        layout::{render, Page},
        state::AppState,
        time::{human_local, rfc3339},
    },
    features::members::store::{audit_entries, AuditEntry},
};

pub fn routes() -> Routes {
    Routes::default().get("/admin/audit", Access::Admin, audit_log)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditQuery {
    page: i64,
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    page: Page,
    /// Each entry with when it happened: (exact, as people read it).
    entries: Vec<(AuditEntry, (String, String))>,
    current: i64,
    more: bool,
}

async fn audit_log(State(state): State<AppState>, ctx: Ctx, Query(q): Query<AuditQuery>) -> AppResult<Response> {
    let current = q.page.clamp(1, MAX_PAGE);
    let mut entries = audit_entries(&state.db, None, 101, (current - 1) * 100).await?;
    let more = entries.len() > 100;
    entries.truncate(100);
    // One date and time format everywhere, in the network's time zone; the exact moment in
    // the element's machine-readable value and its tooltip.
    let entries = entries.into_iter().map(|e| {
        let at = (rfc3339(e.at), human_local(e.at));
        (e, at)
    });
    Ok(render(&AuditPage { page: Page::new(&ctx, "Audit log"), entries: entries.collect(), current, more }))
}
