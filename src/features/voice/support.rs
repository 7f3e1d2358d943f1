//! Campaign-support requests and policy alerts from members and groups; staff triage them with
//! the decision matrix, the requester always gets a clear answer by email, and each campaign
//! taken on keeps a narrative record for the learning log.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use sqlx::{any::AnyRow, Row};

use super::domain::{ask_label, status_label, RequestInput, ANSWERS, ASKS, QUESTIONS, SUPPORT_STATUSES};
use crate::{
    core::{
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        jobs,
        layout::{redirect_with_notice, render, Page},
        mail::Email,
        state::AppState,
        time::{human_date, local_date, now, parse_date},
    },
    features::members::store as members,
};

#[derive(Debug, Clone)]
pub struct Request {
    pub id: i64,
    pub kind: String,
    pub member_id: Option<i64>,
    pub group_name: Option<String>,
    pub title: String,
    pub description: String,
    pub asks: String,
    pub ask_other: Option<String>,
    pub deadline: Option<String>,
    pub status: String,
    pub answer: Option<String>,
    pub referral: Option<String>,
    pub created_at: i64,
}

impl Request {
    fn from_row(row: &AnyRow) -> Result<Request, sqlx::Error> {
        Ok(Request {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            member_id: row.try_get("member_id")?,
            group_name: row.try_get("group_name")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            asks: row.try_get("asks")?,
            ask_other: row.try_get("ask_other")?,
            deadline: row.try_get("deadline")?,
            status: row.try_get("status")?,
            answer: row.try_get("answer")?,
            referral: row.try_get("referral")?,
            created_at: row.try_get("created_at")?,
        })
    }

    pub fn status_label(&self) -> &'static str {
        status_label(&self.status)
    }

    pub fn kind_label(&self) -> &'static str {
        if self.kind == "alert" {
            "Policy alert"
        } else {
            "Support request"
        }
    }

    pub fn ask_labels(&self) -> Vec<&'static str> {
        self.asks.split(',').filter(|a| !a.is_empty()).map(ask_label).collect()
    }

    pub fn received(&self) -> String {
        human_date(self.created_at)
    }

    /// Still waiting for an answer after `days`.
    pub fn overdue(&self, days: i64, at: i64) -> bool {
        matches!(self.status.as_str(), "new" | "considering") && self.created_at < at - days * 86_400
    }
}

const REQUEST_SELECT: &str = "SELECT r.id, r.kind, r.member_id, g.name AS group_name, r.title, r.description, r.asks, \
     r.ask_other, r.deadline, r.status, r.answer, r.referral, r.created_at \
     FROM support_requests r LEFT JOIN groups g ON g.id = r.group_id";

async fn requests_where(state: &AppState, filter: &str, id: Option<i64>) -> AppResult<Vec<Request>> {
    let sql = format!("{REQUEST_SELECT} {filter}");
    let mut query = sqlx::query(&sql);
    if let Some(id) = id {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    Ok(rows.iter().map(Request::from_row).collect::<Result<_, _>>()?)
}

#[derive(Template)]
#[template(path = "voice/request_form.html")]
struct RequestPage {
    page: Page,
    alert: bool,
    form: RequestInput,
    errors: FormErrors,
    asks: Vec<(&'static str, &'static str)>,
    from: Vec<(String, String)>,
}

async fn request_form(
    state: &AppState,
    ctx: &Ctx,
    alert: bool,
    form: RequestInput,
    errors: FormErrors,
) -> AppResult<Response> {
    let user = ctx.user()?;
    let mut from = vec![("me".to_string(), format!("Me ({})", user.name))];
    from.extend(members::contact_groups(&state.db, user.id).await?.into_iter().map(|(id, n)| (id.to_string(), n)));
    let title = if alert { "Alert us to a policy issue" } else { "Ask for support with a campaign" };
    let invalid = !errors.is_empty();
    let mut response = render(&RequestPage {
        page: Page::new(ctx, format!("{}{title}", errors.title_prefix())),
        alert,
        form,
        errors,
        asks: ASKS.to_vec(),
        from,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

fn blank() -> RequestInput {
    RequestInput { from: "me".into(), ..Default::default() }
}

pub async fn support_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    request_form(&state, &ctx, false, blank(), FormErrors::default()).await
}

pub async fn alert_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    request_form(&state, &ctx, true, blank(), FormErrors::default()).await
}

pub async fn ask_support(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    submit(&state, &ctx, false, form).await
}

pub async fn send_alert(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    submit(&state, &ctx, true, form).await
}

async fn submit(state: &AppState, ctx: &Ctx, alert: bool, form: FormData) -> AppResult<Response> {
    let user = ctx.user()?;
    let input = RequestInput::from_form(&form);
    let groups = members::contact_groups(&state.db, user.id).await?;
    let valid = match input.validate(alert, &groups) {
        Ok(v) => v,
        Err(errors) => return request_form(state, ctx, alert, input, errors).await,
    };
    let t = now();
    sqlx::query(
        "INSERT INTO support_requests (kind, member_id, group_id, title, description, asks, ask_other, deadline, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'new', $9, $9)",
    )
    .bind(if alert { "alert" } else { "support" })
    .bind(user.id)
    .bind(valid.group_id)
    .bind(&valid.title)
    .bind(&valid.description)
    .bind(&valid.asks)
    .bind(&valid.ask_other)
    .bind(&valid.deadline)
    .bind(t)
    .execute(&state.db.pool)
    .await?;
    Ok(redirect_with_notice(state, "/support/mine", "request-sent"))
}

#[derive(Template)]
#[template(path = "voice/my_requests.html")]
struct MyRequestsPage {
    page: Page,
    requests: Vec<Request>,
}

pub async fn mine(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let user = ctx.user()?;
    let requests = requests_where(&state, "WHERE r.member_id = $1 ORDER BY r.id DESC", Some(user.id)).await?;
    Ok(render(&MyRequestsPage { page: Page::new(&ctx, "Your requests to the network"), requests }))
}

#[derive(Template)]
#[template(path = "voice/staff_requests.html")]
struct StaffRequestsPage {
    page: Page,
    requests: Vec<(Request, bool)>,
    days: i64,
}

pub async fn staff_list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let days = state.config.support_reply_days;
    let t = now();
    let requests = requests_where(
        &state,
        "ORDER BY CASE WHEN r.status IN ('new', 'considering') THEN 0 ELSE 1 END, r.created_at",
        None,
    )
    .await?
    .into_iter()
    .map(|r| {
        let overdue = r.overdue(days, t);
        (r, overdue)
    })
    .collect();
    Ok(render(&StaffRequestsPage { page: Page::new(&ctx, "Support requests and policy alerts"), requests, days }))
}

/// What staff type when triaging: the four answers and notes, status, message and referral.
#[derive(Debug, Default, Clone)]
pub struct TriageInput {
    pub answers: [String; 4],
    pub notes: [String; 4],
    pub status: String,
    pub message: String,
    pub referral: String,
}

impl TriageInput {
    fn from_form(form: &FormData) -> TriageInput {
        TriageInput {
            answers: std::array::from_fn(|i| form.get(&format!("q{}", i + 1))),
            notes: std::array::from_fn(|i| form.get(&format!("note{}", i + 1))),
            status: form.get("status"),
            message: form.get("message"),
            referral: form.get("referral"),
        }
    }

    /// A decision (taking on, or not now) needs every question answered; "another organisation
    /// is better placed" needs it named; "not now" needs its reason, which the requester reads.
    fn validate(&self) -> FormErrors {
        let mut errors = FormErrors::default();
        if !SUPPORT_STATUSES.iter().any(|(k, _)| *k == self.status) {
            errors.add("status", "Choose a status");
        }
        let deciding = matches!(self.status.as_str(), "taking_on" | "cant_now");
        for (i, (answer, note)) in self.answers.iter().zip(&self.notes).enumerate() {
            let valid = ANSWERS.iter().any(|(k, _)| k == answer);
            if !answer.is_empty() && !valid || deciding && !valid {
                errors.add(
                    &format!("q{}", i + 1),
                    format!("Answer question {} before deciding: yes, no or unsure", i + 1),
                );
            }
            if note.chars().count() > 2_000 {
                errors.add(&format!("note{}", i + 1), "Keep the note to 2,000 characters");
            }
        }
        if self.answers[3] == "yes" && self.referral.is_empty() {
            errors.add("referral", "Name the organisation better placed, so we can refer them");
        }
        if self.referral.chars().count() > 300 {
            errors.add("referral", "Keep the referral to 300 characters");
        }
        if self.status == "cant_now" && self.message.is_empty() {
            errors.add("message", "Give the reason we can't take this on now: the requester reads it");
        }
        if self.message.chars().count() > 5_000 {
            errors.add("message", "Keep the message to 5,000 characters");
        }
        errors
    }
}

#[derive(Template)]
#[template(path = "voice/triage.html")]
struct TriagePage {
    page: Page,
    request: Request,
    requester: Option<(String, String)>,
    overdue: bool,
    form: TriageInput,
    errors: FormErrors,
    questions: [&'static str; 4],
    answers: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    narrative: Vec<(String, String, String)>,
    entry: (String, String, String),
    can_record: bool,
}

async fn request(state: &AppState, id: i64) -> AppResult<Request> {
    requests_where(state, "WHERE r.id = $1", Some(id)).await?.into_iter().next().ok_or(AppError::NotFound)
}

async fn saved_triage(state: &AppState, request: &Request) -> AppResult<TriageInput> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT question, answer, note FROM support_assessments WHERE request_id = $1")
            .bind(request.id)
            .fetch_all(&state.db.pool)
            .await?;
    let mut input = TriageInput {
        status: request.status.clone(),
        message: request.answer.clone().unwrap_or_default(),
        referral: request.referral.clone().unwrap_or_default(),
        ..Default::default()
    };
    for (q, answer, note) in rows {
        if let Some(i) = usize::try_from(q - 1).ok().filter(|i| *i < 4) {
            input.answers[i] = answer;
            input.notes[i] = note;
        }
    }
    Ok(input)
}

async fn triage_page(
    state: &AppState,
    ctx: &Ctx,
    request: Request,
    form: TriageInput,
    entry: (String, String, String),
    errors: FormErrors,
) -> AppResult<Response> {
    let requester = match request.member_id {
        Some(id) => members::get(&state.db, id).await?.map(|m| (m.display_name, m.email)),
        None => None,
    };
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT entry_on, what_was_done, reflection FROM support_narrative WHERE request_id = $1 ORDER BY entry_on, id",
    )
    .bind(request.id)
    .fetch_all(&state.db.pool)
    .await?;
    let invalid = !errors.is_empty();
    let mut response = render(&TriagePage {
        page: Page::new(ctx, format!("{}{}", errors.title_prefix(), request.title)),
        overdue: request.overdue(state.config.support_reply_days, now()),
        can_record: matches!(request.status.as_str(), "taking_on" | "done"),
        request,
        requester,
        form,
        errors,
        questions: QUESTIONS,
        answers: ANSWERS.to_vec(),
        statuses: SUPPORT_STATUSES.to_vec(),
        narrative: rows,
        entry,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

fn today_entry() -> (String, String, String) {
    (local_date(now()), String::new(), String::new())
}

pub async fn triage(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let request = request(&state, id).await?;
    let form = saved_triage(&state, &request).await?;
    triage_page(&state, &ctx, request, form, today_entry(), FormErrors::default()).await
}

/// Save the assessment and status; a change of status is told to the requester by email.
pub async fn decide(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let request = request(&state, id).await?;
    let input = TriageInput::from_form(&form);
    let errors = input.validate();
    if !errors.is_empty() {
        return triage_page(&state, &ctx, request, input, today_entry(), errors).await;
    }
    let t = now();
    let mut tx = state.db.begin().await?;
    for (i, (answer, note)) in input.answers.iter().zip(&input.notes).enumerate() {
        if answer.is_empty() {
            continue;
        }
        sqlx::query(
            "INSERT INTO support_assessments (request_id, question, answer, note) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (request_id, question) DO UPDATE SET answer = $3, note = $4",
        )
        .bind(id)
        .bind(i as i64 + 1)
        .bind(answer)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    }
    let answered = matches!(input.status.as_str(), "taking_on" | "cant_now" | "done");
    sqlx::query(
        "UPDATE support_requests SET status = $1, answer = $2, referral = $3, updated_at = $4, \
         answered_at = CASE WHEN $5 = 1 THEN COALESCE(answered_at, $4) ELSE answered_at END WHERE id = $6",
    )
    .bind(&input.status)
    .bind(Some(&input.message).filter(|m| !m.is_empty()))
    .bind(Some(&input.referral).filter(|r| !r.is_empty()))
    .bind(t)
    .bind(answered as i64)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let requester = match request.member_id {
        Some(m) => members::get(&state.db, m).await?,
        None => None,
    };
    let changed = input.status != request.status && input.status != "new";
    if let (true, Some(member)) = (changed, requester) {
        let email = answer_email(&state, &request, &input, &member.display_name, &member.email);
        jobs::enqueue_mail(&mut *tx, &email, Some(member.id)).await?;
    }
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, &format!("/staff/support/{id}"), "request-triaged"))
}

/// The requester's answer: always clear about what the network will and will not do.
fn answer_email(state: &AppState, request: &Request, input: &TriageInput, name: &str, to: &str) -> Email {
    let title = &request.title;
    let mut text = format!("Hello {name},\n\n");
    text.push_str(&match input.status.as_str() {
        "considering" => {
            format!("We are considering your request \"{title}\". We will write again when we have decided.")
        }
        "taking_on" => format!("We will take on \"{title}\" with you."),
        "cant_now" => format!("We can't take on \"{title}\" now."),
        _ => format!("We have finished our work on \"{title}\". Thank you for bringing it to us."),
    });
    if !input.message.is_empty() {
        let label = if input.status == "cant_now" { "The reason" } else { "From the team" };
        text.push_str(&format!("\n\n{label}: {}", input.message));
    }
    if !input.referral.is_empty() {
        text.push_str(&format!(
            "\n\nAnother organisation may be better placed to help: {}. We suggest contacting them.",
            input.referral
        ));
    }
    text.push_str(&format!(
        "\n\nYou can see your requests at {}/support/mine.\n\n{}\n",
        state.config.base_url, state.config.network_name
    ));
    Email::text(to, format!("Your request: {title} ({})", status_label(&input.status)), text)
}

/// A dated entry in a campaign's narrative record: what was done, and reflections.
pub async fn add_narrative(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let staff = ctx.user()?;
    let request = request(&state, id).await?;
    let entry = (form.get("entry_on"), form.get("what_was_done"), form.get("reflection"));
    let mut errors = FormErrors::default();
    if !matches!(request.status.as_str(), "taking_on" | "done") {
        errors.add("what_was_done", "Narrative records are kept for campaigns the network has taken on");
    }
    let date = parse_date(&entry.0);
    if date.is_none() {
        errors.add("entry_on", "Enter a real date, like 31 12 2026");
    }
    if entry.1.is_empty() || entry.1.chars().count() > 5_000 {
        errors.add("what_was_done", "Say what was done (up to 5,000 characters)");
    }
    if entry.2.chars().count() > 5_000 {
        errors.add("reflection", "Keep the reflection to 5,000 characters");
    }
    let Some(date) = date.filter(|_| errors.is_empty()) else {
        let form = saved_triage(&state, &request).await?;
        return triage_page(&state, &ctx, request, form, entry, errors).await;
    };
    sqlx::query(
        "INSERT INTO support_narrative (request_id, entry_on, what_was_done, reflection, written_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(date.to_string())
    .bind(&entry.1)
    .bind(&entry.2)
    .bind(staff.id)
    .bind(now())
    .execute(&state.db.pool)
    .await?;
    Ok(redirect_with_notice(&state, &format!("/staff/support/{id}#narrative"), "narrative-added"))
}
