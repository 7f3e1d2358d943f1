//! Composing an issue from accepted items: sections by kind, order by move-up/move-down buttons
//! (no dragging, no script), an editor's note, previews as a web page and as email, a test to
//! yourself, then schedule or send now; and afterwards, the send report.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

use super::{
    delivery::{self, personalise, render_body, Recipient},
    domain::{closing_note, sections, ItemKind},
    issue_store::{self, Issue},
    lists::unsubscribe_token,
    store::Item,
};
use crate::core::{
    confirm::{self, Confirm},
    context::Ctx,
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    jobs,
    layout::{redirect_with_notice, render, Page},
    state::AppState,
    time::{human_local, local_date, local_to_unix, now, parse_date},
};

#[derive(Template)]
#[template(path = "bulletin/issues.html")]
struct IssuesPage {
    page: Page,
    issues: Vec<Issue>,
    lists: Vec<(String, String)>,
    errors: FormErrors,
}

pub async fn issues(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let lists = issue_store::lists(&state.db).await?;
    Ok(render(&IssuesPage {
        page: Page::new(&ctx, "Bulletin issues"),
        issues: issue_store::issues(&state.db).await?,
        lists: lists.into_iter().map(|(id, name, _)| (id.to_string(), name)).collect(),
        errors: FormErrors::default(),
    }))
}

pub async fn create_issue(State(state): State<AppState>, form: FormData) -> AppResult<Response> {
    let list: i64 =
        form.get("list").parse().map_err(|_| AppError::BadRequest("Choose a list for the issue.".into()))?;
    if !issue_store::lists(&state.db).await?.iter().any(|(id, _, _)| *id == list) {
        return Err(AppError::BadRequest("Choose a list for the issue.".into()));
    }
    let mut tx = state.db.begin().await?;
    let id = issue_store::create_issue(&mut tx, list, &local_date(now())).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}"), "issue-created"))
}

async fn load(state: &AppState, id: i64) -> AppResult<Issue> {
    issue_store::issue(&state.db, id).await?.ok_or(AppError::NotFound)
}

/// An item on the compose page, with whether it has closed (and so will be left out).
struct Row {
    item: Item,
    closing: Option<String>,
    closed: bool,
    first: bool,
    last: bool,
}

#[derive(Template)]
#[template(path = "bulletin/compose.html")]
struct ComposePage {
    page: Page,
    issue: Issue,
    sections: Vec<(ItemKind, Vec<Row>)>,
    waiting: Vec<Item>,
    errors: FormErrors,
    title: String,
    editor_note: String,
    members_only: bool,
    send_date: String,
    send_time: String,
    scheduled_for: Option<String>,
    recipients: i64,
}

async fn compose_page(
    state: &AppState,
    ctx: &Ctx,
    issue: Issue,
    form: Option<&FormData>,
    errors: FormErrors,
) -> AppResult<Response> {
    let today = parse_date(&local_date(now())).unwrap_or_default();
    let items = issue_store::issue_items(&state.db, issue.id).await?;
    let sections = sections(items, |i| i.kind.as_str())
        .into_iter()
        .map(|(kind, list)| {
            let n = list.len();
            let rows = list
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let closing = closing_note(item.closes_on.as_deref(), today);
                    let closed = item.closes_on.is_some() && closing.is_none();
                    Row { item, closing, closed, first: i == 0, last: i + 1 == n }
                })
                .collect();
            (kind, rows)
        })
        .collect();
    let waiting = if issue.list_is_members && issue.is_draft() {
        issue_store::unassigned_items(&state.db).await?
    } else {
        Vec::new()
    };
    let field = |name: &str, default: String| form.map(|f| f.get(name)).unwrap_or(default);
    let invalid = !errors.is_empty();
    let mut response = render(&ComposePage {
        page: Page::new(ctx, format!("{}Compose: {}", errors.title_prefix(), issue.title)),
        sections,
        waiting,
        errors,
        title: field("title", issue.title.clone()),
        editor_note: field("editor_note", issue.editor_note.clone()),
        members_only: form.map_or(issue.members_only, |f| f.checked("members_only")),
        send_date: field("send_date", String::new()),
        send_time: field("send_time", "09:00".into()),
        scheduled_for: issue.send_at.map(human_local),
        recipients: recipient_count(state, &issue).await?,
        issue,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// How many people the issue would go to now.
async fn recipient_count(state: &AppState, issue: &Issue) -> AppResult<i64> {
    if let Some(n) = issue.recipients {
        return Ok(n);
    }
    let n = if issue.list_is_members {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM members m WHERE m.status = 'active' AND m.email IS NOT NULL \
             AND (SELECT c.granted FROM consents c WHERE c.member_id = m.id AND c.purpose = \
                  (SELECT consent_purpose FROM mailing_lists WHERE id = $1) ORDER BY c.id DESC LIMIT 1) = 1 \
             AND NOT EXISTS (SELECT 1 FROM mail_failures f WHERE f.email = m.email AND f.paused_at IS NOT NULL)",
        )
    } else {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM list_signups s WHERE s.list_id = $1 AND s.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM mail_failures f WHERE f.email = s.email AND f.paused_at IS NOT NULL)",
        )
    }
    .bind(issue.list_id)
    .fetch_one(&state.db.pool)
    .await?;
    Ok(n)
}

pub async fn compose(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    compose_page(&state, &ctx, issue, None, FormErrors::default()).await
}

/// A sent issue cannot change: what people received is what the archive shows.
fn draft(issue: &Issue) -> AppResult<()> {
    if issue.is_draft() {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "This issue has been scheduled or sent, so it can no longer be changed. Unschedule it first to change it."
                .into(),
        ))
    }
}

pub async fn save_issue(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    draft(&issue)?;
    let mut errors = FormErrors::default();
    let title = form.get("title");
    if title.is_empty() || title.chars().count() > 120 {
        errors.add("title", "Give the issue a title of up to 120 characters");
    }
    let note = form.get("editor_note");
    if note.chars().count() > 6000 {
        errors.add("editor_note", "The editor's note must be 6,000 characters or fewer");
    }
    if !errors.is_empty() {
        return compose_page(&state, &ctx, issue, Some(&form), errors).await;
    }
    let mut conn = state.db.pool.acquire().await?;
    issue_store::update_issue(&mut conn, id, &title, &note, form.checked("members_only")).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}"), "issue-saved"))
}

/// Move an item up or down, take it out, or add a waiting one (the button says which).
pub async fn arrange(State(state): State<AppState>, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    draft(&issue)?;
    let item: i64 = form.get("item").parse().map_err(|_| AppError::BadRequest("Choose an item.".into()))?;
    let mut tx = state.db.begin().await?;
    match form.get("action").as_str() {
        "up" => issue_store::move_item(&mut tx, id, item, true).await?,
        "down" => issue_store::move_item(&mut tx, id, item, false).await?,
        "remove" => issue_store::remove_item(&mut tx, id, item).await?,
        "add" => issue_store::add_item(&mut tx, id, item).await?,
        _ => return Err(AppError::BadRequest("Choose move up, move down, take out or add.".into())),
    }
    tx.commit().await?;
    // Back to the item just moved, so keyboard users keep their place.
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}#item-{item}"), "issue-arranged"))
}

#[derive(Template)]
#[template(path = "bulletin/preview.html")]
struct PreviewPage {
    page: Page,
    issue: Issue,
    body: String,
}

pub async fn preview(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    let body = render_body(&state, &issue, &local_date(now())).await?;
    Ok(render(&PreviewPage { page: Page::new(&ctx, format!("Preview: {}", issue.title)), body: body.html, issue }))
}

/// The email as a reader would get it, for the person looking (their name, their link).
async fn sample_email(state: &AppState, ctx: &Ctx, issue: &Issue) -> AppResult<crate::core::mail::Email> {
    let user = ctx.user()?;
    let body = render_body(state, issue, &local_date(now())).await?;
    let to = Recipient {
        email: user.email.clone(),
        name: Some(user.name.clone()),
        unsubscribe_token: unsubscribe_token(state, issue.list_id, &format!("m{}", user.id)),
    };
    personalise(state, &body, &to).map_err(AppError::internal)
}

pub async fn preview_email_html(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    let email = sample_email(&state, &ctx, &issue).await?;
    // The message exactly as mail programs get it, so its own styles must apply; nothing in it
    // may run (sandbox) or load from anywhere.
    let policy = "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'";
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, policy)],
        email.html.unwrap_or_default(),
    )
        .into_response())
}

pub async fn preview_email_text(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    let email = sample_email(&state, &ctx, &issue).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], email.text).into_response())
}

/// Send the issue to yourself only, exactly as readers will get it.
pub async fn send_test(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    let mut email = sample_email(&state, &ctx, &issue).await?;
    email.subject = format!("[Test] {}", email.subject);
    jobs::enqueue_mail(&state.db.pool, &email, Some(ctx.user()?.id)).await?;
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}"), "test-sent"))
}

/// Schedule for a local date and time, or send now (`when` = "now").
pub async fn schedule(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let issue = load(&state, id).await?;
    draft(&issue)?;
    if form.get("when") == "now" && !confirm::confirmed(&form) {
        let people = recipient_count(&state, &issue).await?;
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Send issue {} now?", issue.number),
                consequences: vec![
                    format!("This sends “{}” to {people} people now.", issue.title),
                    "An email cannot be recalled once it is sent.".into(),
                ],
                button: format!("Send it to {people} people now"),
                action: format!("/staff/bulletin/issues/{id}/schedule"),
                form: &form,
                back: format!("/staff/bulletin/issues/{id}"),
            },
        ));
    }
    let at = if form.get("when") == "now" {
        now()
    } else {
        let mut errors = FormErrors::default();
        match local_to_unix(&form.get("send_date"), &form.get("send_time")) {
            Some(at) if at > now() => at,
            Some(_) => {
                errors.add("send_date", "Choose a time in the future, or send it now");
                return compose_page(&state, &ctx, issue, Some(&form), errors).await;
            }
            None => {
                errors.add("send_date", "Enter a real date and a time, like 1 12 2026 and 09:00");
                return compose_page(&state, &ctx, issue, Some(&form), errors).await;
            }
        }
    };
    let mut tx = state.db.begin().await?;
    delivery::schedule(&mut tx, id, at).await?;
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(if form.get("when") == "now" {
        redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}/report"), "issue-sending")
    } else {
        redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}"), "issue-scheduled")
    })
}

pub async fn unschedule(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    load(&state, id).await?;
    let mut tx = state.db.begin().await?;
    let changed = delivery::unschedule(&mut tx, id).await?;
    tx.commit().await?;
    if !changed {
        return Err(AppError::BadRequest("This issue is not scheduled: it may already be sending.".into()));
    }
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/issues/{id}"), "issue-unscheduled"))
}

#[derive(Template)]
#[template(path = "bulletin/report.html")]
struct ReportPage {
    page: Page,
    issue: Issue,
    report: delivery::SendReport,
    sent_on: String,
}

pub async fn report(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let staff = ctx.user()?;
    let issue = load(&state, id).await?;
    let report = delivery::report(&state.db, id).await?;
    if !report.failures.is_empty() {
        crate::core::audit::record(
            &state.db.pool,
            staff.id,
            crate::core::audit::Action::View,
            None,
            &format!("viewed failed addresses of bulletin issue {id}"),
        )
        .await?;
    }
    Ok(render(&ReportPage {
        page: Page::new(&ctx, format!("Send report: {}", issue.title)),
        sent_on: issue.sent_at.map(human_local).unwrap_or_default(),
        issue,
        report,
    }))
}
