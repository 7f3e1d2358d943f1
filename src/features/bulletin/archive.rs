//! The public archive of sent issues, each at a stable address, and an Atom feed (RFC 4287).
//! An issue marked members-only is readable by signed-in members only (its title is listed).
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    delivery::{issue_path, render_body},
    issue_store::{self, Issue},
};
use crate::core::{
    auth::Status,
    context::Ctx,
    error::{AppError, AppResult},
    forms::MAX_PAGE,
    layout::{render, Page},
    state::AppState,
    time::{human_date, local_date, now, rfc3339},
};

const PER_PAGE: i64 = 25;

/// (id, name, description) of a list, by its slug.
async fn list(state: &AppState, slug: &str) -> AppResult<(i64, String, String)> {
    sqlx::query_as("SELECT id, name, description FROM mailing_lists WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(AppError::NotFound)
}

/// Where a list's Atom feed is.
pub fn feed_path(slug: &str) -> String {
    format!("/archive/{slug}/feed.atom")
}

/// Members-only issues are for active members and staff.
fn may_read(ctx: &Ctx, issue: &Issue) -> bool {
    !issue.members_only || ctx.user.as_ref().is_some_and(|u| u.status == Status::Active || u.is_staff())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ArchiveQuery {
    page: i64,
}

#[derive(Template)]
#[template(path = "bulletin/archive.html")]
struct ArchivePage {
    page: Page,
    slug: String,
    name: String,
    description: String,
    /// (issue, address, date sent, readable by this visitor)
    issues: Vec<(Issue, String, String, bool)>,
    current: i64,
    more: bool,
    is_bulletin: bool,
    open_submissions: bool,
}

pub async fn archive(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<ArchiveQuery>,
) -> AppResult<Response> {
    let (_, name, description) = list(&state, &slug).await?;
    let current = q.page.clamp(1, MAX_PAGE);
    let mut issues = issue_store::sent_issues(&state.db, &slug, PER_PAGE + 1, (current - 1) * PER_PAGE).await?;
    let more = issues.len() as i64 > PER_PAGE;
    issues.truncate(PER_PAGE as usize);
    Ok(render(&ArchivePage {
        page: Page::new(&ctx, name.clone()).with_feed(name.clone(), feed_path(&slug)),
        issues: issues
            .into_iter()
            .map(|i| {
                let path = issue_path(&slug, i.number);
                let sent = i.sent_at.map(human_date).unwrap_or_default();
                let readable = may_read(&ctx, &i);
                (i, path, sent, readable)
            })
            .collect(),
        is_bulletin: slug == "bulletin",
        open_submissions: state.config.bulletin_open_submissions,
        slug,
        name,
        description,
        current,
        more,
    }))
}

#[derive(Template)]
#[template(path = "bulletin/issue.html")]
struct IssuePage {
    page: Page,
    issue: Issue,
    list_name: String,
    slug: String,
    sent: String,
    body: String,
}

/// An issue at its stable address. "Closes in N days" counts from today.
pub async fn issue(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, number)): Path<(String, String)>,
) -> AppResult<Response> {
    let number: i64 = number.parse().map_err(|_| AppError::NotFound)?;
    let (_, list_name, _) = list(&state, &slug).await?;
    let issue = issue_store::sent_issue(&state.db, &slug, number).await?.ok_or(AppError::NotFound)?;
    if !may_read(&ctx, &issue) {
        return Err(match ctx.user {
            None => AppError::SignInRequired { return_to: issue_path(&slug, number) },
            Some(_) => AppError::Forbidden,
        });
    }
    let body = render_body(&state, &issue, &local_date(now())).await?;
    Ok(render(&IssuePage {
        page: Page::new(&ctx, issue.title.clone()).with_feed(list_name.clone(), feed_path(&slug)),
        sent: issue.sent_at.map(human_date).unwrap_or_default(),
        body: body.html,
        list_name,
        slug,
        issue,
    }))
}

#[derive(Template)]
#[template(path = "bulletin/feed.xml")]
struct Feed {
    title: String,
    feed_url: String,
    site_url: String,
    updated: String,
    /// (issue, address, updated, content: None for members-only issues)
    entries: Vec<(Issue, String, String, Option<String>)>,
}

/// The newest 20 issues. Members-only issues appear with their title and a link only.
pub async fn feed(State(state): State<AppState>, Path(slug): Path<String>) -> AppResult<Response> {
    let (_, name, _) = list(&state, &slug).await?;
    let base = &state.config.base_url;
    let issues = issue_store::sent_issues(&state.db, &slug, 20, 0).await?;
    let today = local_date(now());
    let mut entries = Vec::with_capacity(issues.len());
    for issue in issues {
        let content = if issue.members_only { None } else { Some(render_body(&state, &issue, &today).await?.html) };
        let url = format!("{base}{}", issue_path(&slug, issue.number));
        let updated = rfc3339(issue.sent_at.unwrap_or(0));
        entries.push((issue, url, updated, content));
    }
    let feed = Feed {
        title: format!("{} – {}", name, state.config.network_name),
        feed_url: format!("{base}{}", feed_path(&slug)),
        site_url: format!("{base}/archive/{slug}"),
        updated: entries.first().map(|(_, _, u, _)| u.clone()).unwrap_or_else(|| rfc3339(0)),
        entries,
    };
    let xml = feed.render().map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml).into_response())
}
