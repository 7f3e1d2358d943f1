//! Sending an issue: one job fans out a message job per recipient (all in one transaction, at
//! most once per recipient thanks to the jobs' dedupe keys), and the message jobs send the
//! personalised email. Nothing in a message tracks anyone: no pixels, no rewritten links; the
//! only per-recipient link is the signed unsubscribe link.
use std::{sync::Arc, time::Duration};

use askama::Template;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::{
    domain::{closing_note, sections, ItemKind},
    issue_store::{self, Issue},
    store::Item,
};
use crate::core::{
    cache::CachedMap,
    db::Db,
    error::{AppError, AppResult},
    jobs::{self, ClaimedJob, JobError, JobFuture, NewJob},
    mail::{Email, MailError},
    markdown::to_safe_html,
    state::AppState,
    time::{local_date, now, parse_date},
};

pub const KIND_SEND_ISSUE: &str = "bulletin_issue";
pub const KIND_MESSAGE: &str = "bulletin_message";

#[derive(Serialize, Deserialize)]
struct SendIssue {
    issue: i64,
}

/// One recipient of one issue: a member, or a confirmed sign-up.
#[derive(Serialize, Deserialize)]
struct Message {
    issue: i64,
    #[serde(default)]
    member: Option<i64>,
    #[serde(default)]
    signup: Option<i64>,
}

/// The jobs of one issue's sending share this batch, for the send report.
pub fn batch(issue_id: i64) -> String {
    format!("bulletin:{issue_id}")
}

fn send_key(issue_id: i64) -> String {
    format!("bulletin-send:{issue_id}")
}

/// The public address of a sent issue.
pub fn issue_path(list_slug: &str, number: i64) -> String {
    format!("/archive/{list_slug}/{number}")
}

/// An item as an issue shows it.
pub struct ItemView {
    pub title: String,
    pub link: Option<String>,
    pub from: Option<String>,
    pub region: Option<String>,
    pub closing: Option<String>,
    pub description_html: String,
    pub description_text: String,
}

impl ItemView {
    fn new(item: &Item, today: jiff::civil::Date) -> ItemView {
        ItemView {
            title: item.title.clone(),
            link: item.link.clone(),
            from: item.from_name.clone(),
            region: item.region.clone(),
            closing: closing_note(item.closes_on.as_deref(), today),
            description_html: to_safe_html(&item.description),
            description_text: item.description.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "bulletin/issue_body.html")]
struct BodyHtml<'a> {
    note_html: &'a str,
    sections: &'a [(ItemKind, Vec<ItemView>)],
}

#[derive(Template)]
#[template(path = "bulletin/issue_body.txt")]
struct BodyText<'a> {
    note: &'a str,
    sections: &'a [(ItemKind, Vec<ItemView>)],
}

/// An issue's content, the same for every reader: made once and reused for every message.
pub struct IssueBody {
    pub list_id: i64,
    pub subject: String,
    pub list_name: String,
    pub list_audience_members: bool,
    pub html: String,
    pub text: String,
    pub web_url: String,
}

/// The content of an issue as of `today` (closing dates count down from it).
pub async fn render_body(state: &AppState, issue: &Issue, today: &str) -> AppResult<IssueBody> {
    let items = issue_store::issue_items(&state.db, issue.id).await?;
    let today = parse_date(today).ok_or_else(|| AppError::internal("today is not a date"))?;
    // Items that closed before today are left out (the send itself also marks them closed).
    let open: Vec<&Item> = items
        .iter()
        .filter(|i| i.closes_on.is_none() || closing_note(i.closes_on.as_deref(), today).is_some())
        .collect();
    let sections: Vec<(ItemKind, Vec<ItemView>)> = sections(open, |i| i.kind.as_str())
        .into_iter()
        .map(|(kind, list)| (kind, list.into_iter().map(|i| ItemView::new(i, today)).collect()))
        .collect();
    let note_html = to_safe_html(&issue.editor_note);
    let html = BodyHtml { note_html: &note_html, sections: &sections }.render().map_err(AppError::internal)?;
    let text = BodyText { note: &issue.editor_note, sections: &sections }.render().map_err(AppError::internal)?;
    let slug: String = sqlx::query_scalar("SELECT slug FROM mailing_lists WHERE id = $1")
        .bind(issue.list_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(IssueBody {
        list_id: issue.list_id,
        subject: issue.title.clone(),
        list_name: issue.list_name.clone(),
        list_audience_members: issue.list_is_members,
        html,
        text,
        web_url: format!("{}{}", state.config.base_url, issue_path(&slug, issue.number)),
    })
}

/// Who a message goes to.
pub struct Recipient {
    pub email: String,
    pub name: Option<String>,
    /// Signed: names the list and the person, so one click unsubscribes them.
    pub unsubscribe_token: String,
}

#[derive(Template)]
#[template(path = "bulletin/email.html")]
struct EmailHtml<'a> {
    body: &'a IssueBody,
    greeting: &'a str,
    reason: &'a str,
    unsubscribe_url: &'a str,
}

#[derive(Template)]
#[template(path = "bulletin/email.txt")]
struct EmailText<'a> {
    body: &'a IssueBody,
    greeting: &'a str,
    reason: &'a str,
    unsubscribe_url: &'a str,
}

/// The message for one recipient: the issue's content with their name, why they get it, and
/// their unsubscribe link (also in the `List-Unsubscribe` headers, RFC 2369 and RFC 8058).
pub fn personalise(state: &AppState, body: &IssueBody, to: &Recipient) -> Result<Email, askama::Error> {
    let greeting = match &to.name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_string(),
    };
    let network = &state.config.network_name;
    let reason = if body.list_audience_members {
        format!("You get the {} because you chose to as a member of {network}.", body.list_name)
    } else {
        format!("You get the {} because you signed up for it and confirmed your address.", body.list_name)
    };
    let unsubscribe_url = format!("{}/unsubscribe/{}", state.config.base_url, to.unsubscribe_token);
    let vars = (&greeting, &reason, &unsubscribe_url);
    let html = EmailHtml { body, greeting: vars.0, reason: vars.1, unsubscribe_url: vars.2 }.render()?;
    let text = EmailText { body, greeting: vars.0, reason: vars.1, unsubscribe_url: vars.2 }.render()?;
    let mailto = state.config.unsubscribe_mailto.clone().unwrap_or_else(|| from_address(&state.config.mail_from));
    Ok(Email {
        to: to.email.clone(),
        subject: body.subject.clone(),
        text,
        html: Some(html),
        headers: vec![
            (
                "List-Unsubscribe".into(),
                format!("<{unsubscribe_url}>, <mailto:{mailto}?subject=unsubscribe%20{}>", to.unsubscribe_token),
            ),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
            ("List-Id".into(), format!("{} <{}>", body.list_name, list_id_domain(&state.config.base_url))),
        ],
    })
}

/// The bare address of a "Name <address>" setting.
fn from_address(mail_from: &str) -> String {
    match (mail_from.find('<'), mail_from.rfind('>')) {
        (Some(start), Some(end)) if start < end => mail_from[start + 1..end].to_string(),
        _ => mail_from.trim().to_string(),
    }
}

/// A List-Id (RFC 2919) built from the site's host name.
fn list_id_domain(base_url: &str) -> String {
    let host = base_url.split("://").nth(1).unwrap_or(base_url).split(['/', ':']).next().unwrap_or("localhost");
    format!("bulletin.{host}")
}

/// Queue the sending of an issue at `at` (now, or a scheduled time). Replaces an earlier
/// schedule that has not started.
pub async fn schedule(conn: &mut AnyConnection, issue_id: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM jobs WHERE dedupe_key = $1 AND status = 'queued'")
        .bind(send_key(issue_id))
        .execute(&mut *conn)
        .await?;
    let key = send_key(issue_id);
    let payload = SendIssue { issue: issue_id };
    let job = NewJob { dedupe_key: Some(&key), run_at: at, ..NewJob::now(KIND_SEND_ISSUE, &payload) };
    jobs::enqueue(&mut *conn, &job).await?;
    sqlx::query("UPDATE bulletin_issues SET status = 'scheduled', send_at = $1, updated_at = $2 WHERE id = $3")
        .bind(at)
        .bind(now())
        .bind(issue_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Take a scheduled issue back to a draft, if its sending has not started.
pub async fn unschedule(conn: &mut AnyConnection, issue_id: i64) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE bulletin_issues SET status = 'draft', send_at = NULL, updated_at = $1 WHERE id = $2 AND status = 'scheduled'",
    )
    .bind(now())
    .bind(issue_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM jobs WHERE dedupe_key = $1 AND status = 'queued'")
        .bind(send_key(issue_id))
        .execute(&mut *conn)
        .await?;
    Ok(changed == 1)
}

/// The fan-out: mark the issue sent, leave out items that have closed, and queue a message per
/// recipient, all in one transaction. Run again after a crash, it finds the issue sent and does
/// nothing; and the dedupe keys mean no recipient is ever queued twice.
fn send_issue<'a>(state: &'a AppState, job: &'a ClaimedJob) -> JobFuture<'a> {
    Box::pin(async move {
        let SendIssue { issue } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let t = now();
        let mut tx = state.db.begin().await?;
        let list: Option<(i64, String, Option<String>)> = sqlx::query_as(
            "UPDATE bulletin_issues SET status = 'sent', sent_at = $1, updated_at = $1 WHERE id = $2 AND status = 'scheduled' \
             RETURNING list_id, (SELECT audience FROM mailing_lists WHERE id = list_id), \
             (SELECT consent_purpose FROM mailing_lists WHERE id = list_id)",
        )
        .bind(t)
        .bind(issue)
        .fetch_optional(&mut *tx)
        .await?;
        // Already sent (this job ran before a crash) or taken back to a draft: nothing to do.
        let Some((list_id, audience, purpose)) = list else { return Ok(()) };
        sqlx::query(
            "UPDATE bulletin_items SET status = 'expired', issue_id = NULL, updated_at = $1 \
             WHERE issue_id = $2 AND closes_on IS NOT NULL AND closes_on < $3",
        )
        .bind(t)
        .bind(issue)
        .bind(local_date(t))
        .execute(&mut *tx)
        .await?;
        let batch = batch(issue);
        // The ids are numbers from the database, never from a request: safe in the SQL text.
        let recipients = if audience == "members" {
            format!(
                "SELECT '{KIND_MESSAGE}', '{{\"issue\":{issue},\"member\":' || m.id || '}}', m.id, 'queued', 0, 6, $1, $1, $1, \
                 'bulletin:{issue}:m' || m.id, $2 FROM members m \
                 WHERE m.status = 'active' AND m.email IS NOT NULL \
                 AND (SELECT c.granted FROM consents c WHERE c.member_id = m.id AND c.purpose = $3 ORDER BY c.id DESC LIMIT 1) = 1 \
                 AND NOT EXISTS (SELECT 1 FROM mail_failures f WHERE f.email = m.email AND f.paused_at IS NOT NULL)"
            )
        } else {
            format!(
                "SELECT '{KIND_MESSAGE}', '{{\"issue\":{issue},\"signup\":' || s.id || '}}', NULL, 'queued', 0, 6, $1, $1, $1, \
                 'bulletin:{issue}:s' || s.id, $2 FROM list_signups s \
                 WHERE s.list_id = {list_id} AND s.status = 'active' AND s.email <> $3 \
                 AND NOT EXISTS (SELECT 1 FROM mail_failures f WHERE f.email = s.email AND f.paused_at IS NOT NULL)"
            )
        };
        let sql =
            format!("INSERT INTO jobs ({}) {recipients} ON CONFLICT (dedupe_key) DO NOTHING", jobs::INSERT_COLUMNS);
        sqlx::query(&sql).bind(t).bind(&batch).bind(purpose.unwrap_or_default()).execute(&mut *tx).await?;
        sqlx::query(
            "UPDATE bulletin_issues SET recipients = (SELECT COUNT(*) FROM jobs WHERE batch = $1) WHERE id = $2",
        )
        .bind(&batch)
        .bind(issue)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        state.jobs_waiting.notify_one();
        Ok(())
    })
}

/// Issue content kept per instance while an issue is being sent (it no longer changes).
pub struct BodyCache(CachedMap<i64, Arc<IssueBody>>);

impl Default for BodyCache {
    fn default() -> Self {
        BodyCache(CachedMap::new(Duration::from_secs(3600), 16))
    }
}

async fn cached_body(state: &AppState, issue_id: i64) -> Result<Arc<IssueBody>, JobError> {
    let cache = state.area::<Arc<BodyCache>>();
    if let Some(body) = cache.0.get(&issue_id) {
        return Ok(body);
    }
    let issue = issue_store::issue(&state.db, issue_id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("issue {issue_id} no longer exists")))?;
    let sent = issue.sent_at.unwrap_or_else(now);
    let body =
        Arc::new(render_body(state, &issue, &local_date(sent)).await.map_err(|e| JobError::Retry(e.to_string()))?);
    cache.0.put(issue_id, body.clone());
    Ok(body)
}

/// The recipient of a message, if they still want it: someone who unsubscribed, was erased or
/// whose address was paused after the issue was queued is skipped.
async fn recipient(state: &AppState, message: &Message, list_id: i64) -> Result<Option<Recipient>, sqlx::Error> {
    let db: &Db = &state.db;
    let (who, row): (String, Option<(Option<String>, Option<String>)>) = match (message.member, message.signup) {
        (Some(id), _) => (
            format!("m{id}"),
            sqlx::query_as(
                "SELECT m.display_name, m.email FROM members m \
                 WHERE m.id = $1 AND m.status = 'active' \
                 AND (SELECT c.granted FROM consents c WHERE c.member_id = m.id AND c.purpose = \
                      (SELECT consent_purpose FROM mailing_lists WHERE id = $2) ORDER BY c.id DESC LIMIT 1) = 1 \
                 AND NOT EXISTS (SELECT 1 FROM mail_failures f WHERE f.email = m.email AND f.paused_at IS NOT NULL)",
            )
            .bind(id)
            .bind(list_id)
            .fetch_optional(&db.pool)
            .await?,
        ),
        (None, Some(id)) => (
            format!("s{id}"),
            sqlx::query_as(
                "SELECT NULL, s.email FROM list_signups s WHERE s.id = $1 AND s.status = 'active' \
                 AND NOT EXISTS (SELECT 1 FROM mail_failures f WHERE f.email = s.email AND f.paused_at IS NOT NULL)",
            )
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
        ),
        (None, None) => return Ok(None),
    };
    Ok(row.and_then(|(name, email)| {
        Some(Recipient {
            email: email?,
            name,
            unsubscribe_token: super::lists::unsubscribe_token(state, list_id, &who),
        })
    }))
}

fn send_message<'a>(state: &'a AppState, job: &'a ClaimedJob) -> JobFuture<'a> {
    Box::pin(async move {
        let message: Message =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let body = cached_body(state, message.issue).await?;
        let Some(to) = recipient(state, &message, body.list_id).await? else { return Ok(()) };
        let email = personalise(state, &body, &to).map_err(|e| JobError::Retry(e.to_string()))?;
        match state.mailer.send(email, job.id).await {
            Err(MailError::Permanent(reason)) => {
                super::lists::record_failure(state, &to.email, &reason).await?;
                Err(JobError::Permanent(reason))
            }
            other => Ok(other?),
        }
    })
}

pub fn handlers(handlers: jobs::Handlers) -> jobs::Handlers {
    handlers.add(KIND_SEND_ISSUE, send_issue).add(KIND_MESSAGE, send_message)
}

/// How an issue's sending went.
#[derive(Default)]
pub struct SendReport {
    pub sent: i64,
    pub waiting: i64,
    pub failed: i64,
    /// Messages that needed more than one attempt (sent or not).
    pub retried: i64,
    /// Failed messages: (address, the server's reply).
    pub failures: Vec<(String, String)>,
}

pub async fn report(db: &Db, issue_id: i64) -> Result<SendReport, sqlx::Error> {
    let batch = batch(issue_id);
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*), COALESCE(SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END), 0) FROM jobs \
         WHERE batch = $1 GROUP BY status",
    )
    .bind(&batch)
    .fetch_all(&db.pool)
    .await?;
    let mut report = SendReport::default();
    for (status, n, retried) in rows {
        report.retried += retried;
        match status.as_str() {
            "done" => report.sent += n,
            "failed" => report.failed += n,
            _ => report.waiting += n,
        }
    }
    let failures: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT m.email, s.email, j.last_error FROM jobs j LEFT JOIN members m ON m.id = j.member_id \
         LEFT JOIN list_signups s ON j.member_id IS NULL AND j.dedupe_key = 'bulletin:' || $2 || ':s' || s.id \
         WHERE j.batch = $1 AND j.status = 'failed' ORDER BY j.id LIMIT 500",
    )
    .bind(&batch)
    .bind(issue_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    report.failures = failures
        .into_iter()
        .map(|(m, s, e)| (m.or(s).unwrap_or_else(|| "(erased)".into()), e.unwrap_or_default()))
        .collect();
    Ok(report)
}
