//! The editorial queue: staff read submissions beside their guidelines, decide with reasons,
//! write and edit items, and keep saved replies. Every decision is kept with who made it and
//! why: the record of the "how we work" questions that submissions raise.
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{
    domain::{Check, Decision, DecisionInput, ItemInput, ItemKind, ItemStatus},
    issue_store,
    store::{self, DecisionRecord, Item, Sender},
    submit::{input_of, ItemForm},
};
use crate::{
    core::{
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors, MAX_PAGE},
        jobs,
        layout::{redirect_with_notice, render, Page},
        mail::Email,
        markdown::to_safe_html,
        state::AppState,
        time::{local_date, now, parse_date},
    },
    features::members::domain::REGIONS,
};

const QUEUE_PAGE: i64 = 50;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct QueueQuery {
    pub kind: String,
    pub status: String,
    pub region: String,
    /// "yes": only items closing within two weeks, soonest first.
    pub closing: String,
    pub page: i64,
}

#[derive(Template)]
#[template(path = "bulletin/queue.html")]
struct QueuePage {
    page: Page,
    query: QueueQuery,
    items: Vec<(Item, Option<String>)>,
    kinds: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    regions: [&'static str; 12],
    current: i64,
    more: bool,
    waiting: i64,
}

pub async fn queue(State(state): State<AppState>, ctx: Ctx, Query(q): Query<QueueQuery>) -> AppResult<Response> {
    let mut clauses = vec!["i.status NOT IN ('draft', 'unconfirmed')".to_string()];
    let mut binds = Vec::new();
    let status = if q.status.is_empty() { "received".to_string() } else { q.status.clone() };
    if ItemStatus::queue_options().iter().any(|(k, _)| *k == status) {
        binds.push(status);
        clauses.push(format!("i.status = ${}", binds.len()));
    }
    if ItemKind::parse(&q.kind).is_some() {
        binds.push(q.kind.clone());
        clauses.push(format!("i.kind = ${}", binds.len()));
    }
    if REGIONS.contains(&q.region.as_str()) {
        binds.push(q.region.clone());
        clauses.push(format!("i.region = ${}", binds.len()));
    }
    let today = local_date(now());
    let order = if q.closing == "yes" {
        let soon =
            parse_date(&today).map(|d| d.saturating_add(jiff::Span::new().days(14)).to_string()).unwrap_or_default();
        binds.push(today.clone());
        binds.push(soon);
        clauses.push(format!("i.closes_on >= ${} AND i.closes_on <= ${}", binds.len() - 1, binds.len()));
        "i.closes_on, i.id"
    } else {
        "i.submitted_at, i.id"
    };
    let current = q.page.clamp(1, MAX_PAGE);
    let mut items = store::items_where(
        &state.db,
        &clauses.join(" AND "),
        &binds,
        order,
        QUEUE_PAGE + 1,
        (current - 1) * QUEUE_PAGE,
    )
    .await?;
    let more = items.len() as i64 > QUEUE_PAGE;
    items.truncate(QUEUE_PAGE as usize);
    let today = parse_date(&today).unwrap_or_default();
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bulletin_items WHERE status = 'received'")
        .fetch_one(&state.db.pool)
        .await?;
    Ok(render(&QueuePage {
        page: Page::new(&ctx, "Bulletin: editorial queue"),
        items: items
            .into_iter()
            .map(|i| {
                let note = super::domain::closing_note(i.closes_on.as_deref(), today);
                (i, note)
            })
            .collect(),
        query: QueueQuery { status: if q.status.is_empty() { "received".into() } else { q.status.clone() }, ..q },
        kinds: ItemKind::options(),
        statuses: ItemStatus::queue_options(),
        regions: REGIONS,
        current,
        more,
        waiting,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ItemQuery {
    /// A saved reply to start the message from.
    reply: i64,
}

#[derive(Template)]
#[template(path = "bulletin/decide.html")]
struct DecidePage {
    page: Page,
    item: Item,
    description_html: String,
    record: Vec<DecisionRecord>,
    guidelines: Vec<(i64, String)>,
    replies: Vec<(i64, String, String)>,
    draft_issues: Vec<(String, String)>,
    input: DecisionInput,
    errors: FormErrors,
    decisions: Vec<(&'static str, &'static str)>,
}

impl DecidePage {
    fn guideline_checked(&self, id: &i64) -> bool {
        self.input.guidelines.contains(id)
    }
}

async fn decide_page(
    state: &AppState,
    ctx: &Ctx,
    item: Item,
    input: DecisionInput,
    errors: FormErrors,
) -> AppResult<Response> {
    let invalid = !errors.is_empty();
    let mut draft_issues = vec![("next".to_string(), "The next issue".to_string())];
    draft_issues
        .extend(issue_store::draft_issues(&state.db).await?.into_iter().map(|(id, label)| (id.to_string(), label)));
    let mut response = render(&DecidePage {
        page: Page::new(ctx, format!("{}Decide: {}", errors.title_prefix(), item.title)),
        description_html: to_safe_html(&item.description),
        record: store::decisions_of(&state.db, item.id).await?,
        guidelines: store::guidelines(&state.db).await?,
        replies: store::reply_templates(&state.db).await?,
        draft_issues,
        item,
        input,
        errors,
        decisions: vec![
            ("accept", "Accept"),
            ("request_change", "Ask the sender for a change"),
            ("decline", "Decline, with a kind reason"),
        ],
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

async fn staff_item(state: &AppState, id: i64) -> AppResult<Item> {
    store::item(&state.db, id)
        .await?
        .filter(|i| !matches!(i.status, ItemStatus::Draft | ItemStatus::Unconfirmed))
        .ok_or(AppError::NotFound)
}

pub async fn item_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ItemQuery>,
) -> AppResult<Response> {
    let item = staff_item(&state, id).await?;
    let replies = store::reply_templates(&state.db).await?;
    let message = replies.iter().find(|(r, _, _)| *r == q.reply).map(|(_, _, body)| body.clone()).unwrap_or_default();
    let input = DecisionInput { message, issue: "next".into(), ..Default::default() };
    decide_page(&state, &ctx, item, input, FormErrors::default()).await
}

/// Record the decision and tell the sender, kindly and plainly.
pub async fn decide(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let staff = ctx.user()?;
    let item = staff_item(&state, id).await?;
    let input = DecisionInput::from_form(&form);
    let drafts: Vec<i64> = issue_store::draft_issues(&state.db).await?.into_iter().map(|(id, _)| id).collect();
    let mut decision = match input.validate(&drafts) {
        Ok(d) => d,
        Err(errors) => return decide_page(&state, &ctx, item, input, errors).await,
    };
    let mut tx = state.db.begin().await?;
    if decision.decision == Decision::Accept && decision.issue.is_none() {
        decision.issue = issue_store::next_draft_issue(&mut tx).await?;
    }
    store::record_decision(&mut tx, id, staff.id, &decision).await?;
    if let Some((to, link)) = sender_contact(&state, &item).await? {
        let issue_number: Option<i64> = match decision.issue {
            Some(issue) => {
                sqlx::query_scalar("SELECT number FROM bulletin_issues WHERE id = $1")
                    .bind(issue)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let email = decision_email(&state, &item, decision.decision, &decision.message, issue_number, &to, &link);
        jobs::enqueue_mail(&mut *tx, &email, item.member_id).await?;
    }
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, "/staff/bulletin", "decision-recorded"))
}

/// Where to write to the sender, and the page where they can see (and change) their item.
async fn sender_contact(state: &AppState, item: &Item) -> AppResult<Option<(String, String)>> {
    let base = &state.config.base_url;
    if item.written_by_staff {
        return Ok(None);
    }
    if let Some(member) = item.member_id {
        let email: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM members WHERE id = $1 AND status <> 'erased'")
                .bind(member)
                .fetch_optional(&state.db.pool)
                .await?;
        return Ok(email.flatten().map(|e| (e, format!("{base}/bulletin/mine/{}", item.id))));
    }
    Ok(item
        .submitter_email
        .clone()
        .map(|e| (e, format!("{base}/bulletin/sent/{}", state.links.sign("bulletin-item", &item.id.to_string())))))
}

fn decision_email(
    state: &AppState,
    item: &Item,
    decision: Decision,
    message: &str,
    issue_number: Option<i64>,
    to: &str,
    link: &str,
) -> Email {
    let network = &state.config.network_name;
    let greeting = item.from_name.as_deref().map_or("Hello,".to_string(), |n| format!("Hello {n},"));
    let title = &item.title;
    let said = if message.is_empty() { String::new() } else { format!("\n\n{message}") };
    let (subject, body) = match decision {
        Decision::Accept => (
            format!("Your item \"{title}\" will be in the bulletin"),
            format!(
                "Thank you for sending \"{title}\". The editors have accepted it for {}.{said}\n\nYou can see it here: {link}\n",
                issue_number.map_or("the next issue".to_string(), |n| format!("issue {n}"))
            ),
        ),
        Decision::RequestChange => (
            format!("A change to your item \"{title}\""),
            format!(
                "Thank you for sending \"{title}\". Before it can go in the bulletin, the editors have asked for a change:{said}\n\n\
                 You can change it and send it again here: {link}\n"
            ),
        ),
        Decision::Decline => (
            format!("About your item \"{title}\""),
            format!(
                "Thank you for sending \"{title}\". We are not able to include it in the bulletin this time.{said}\n\n\
                 This is not a judgement of you or your work, and you are very welcome to send other items. You can see the item here: {link}\n"
            ),
        ),
    };
    Email::text(to, subject, format!("{greeting}\n\n{body}\nWith best wishes,\nThe {network} bulletin team\n"))
}

// Staff writing and editing items.

fn staff_form(ctx: &Ctx, action: String, input: ItemInput, errors: FormErrors) -> ItemForm {
    ItemForm {
        csrf: ctx.csrf.clone(),
        errors,
        action,
        input,
        from_options: Vec::new(),
        visitor: None,
        can_save_draft: false,
        send_label: "Save item",
    }
}

const STAFF_INTRO: &str = "Items written by staff are accepted at once and go into the next issue.";

pub async fn new_item_page(ctx: Ctx) -> AppResult<Response> {
    staff_form(&ctx, "/staff/bulletin/items/new".into(), ItemInput::default(), FormErrors::default()).page(
        &ctx,
        "Write an item",
        STAFF_INTRO,
    )
}

fn today() -> jiff::civil::Date {
    parse_date(&local_date(now())).unwrap_or_default()
}

pub async fn create_item(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let staff = ctx.user()?;
    let input = ItemInput::from_form(&form);
    let item = match input.validate(Check::Send, today(), &[]) {
        Ok(i) => i,
        Err(errors) => {
            return staff_form(&ctx, "/staff/bulletin/items/new".into(), input, errors).page(
                &ctx,
                "Write an item",
                STAFF_INTRO,
            )
        }
    };
    let mut tx = state.db.begin().await?;
    let id = store::insert_item(&mut tx, &item, Sender::Staff(staff.id), ItemStatus::Accepted).await?;
    if let Some(issue) = issue_store::next_draft_issue(&mut tx).await? {
        issue_store::add_item(&mut tx, issue, id).await?;
    }
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/items/{id}"), "item-saved"))
}

const EDIT_INTRO: &str = "The sender will see your edited version, marked as edited by the editors.";

pub async fn edit_item_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let item = staff_item(&state, id).await?;
    staff_form(&ctx, format!("/staff/bulletin/items/{id}/edit"), input_of(&item), FormErrors::default()).page(
        &ctx,
        "Edit the item",
        EDIT_INTRO,
    )
}

pub async fn edit_item(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let item = staff_item(&state, id).await?;
    let input = ItemInput { from: input_of(&item).from, ..ItemInput::from_form(&form) };
    // A group the sender sends for stays as it was: staff edit the words, not who it is from.
    let groups: Vec<(i64, String)> = item.group_id.map(|g| (g, String::new())).into_iter().collect();
    let valid = match input.validate(Check::Send, today(), &groups) {
        Ok(v) => v,
        Err(errors) => {
            return staff_form(&ctx, format!("/staff/bulletin/items/{id}/edit"), input, errors).page(
                &ctx,
                "Edit the item",
                EDIT_INTRO,
            )
        }
    };
    let mut conn = state.db.pool.acquire().await?;
    store::update_item(&mut conn, id, &valid, item.status, true).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/bulletin/items/{id}"), "item-saved"))
}

// Guidelines and saved replies.

#[derive(Template)]
#[template(path = "bulletin/guidelines.html")]
struct GuidelinesPage {
    page: Page,
    guidelines: Vec<(i64, String)>,
    replies: Vec<(i64, String, String)>,
    errors: FormErrors,
    text: String,
    reply_name: String,
    reply_body: String,
}

async fn guidelines_page(state: &AppState, ctx: &Ctx, form: &FormData, errors: FormErrors) -> AppResult<Response> {
    let invalid = !errors.is_empty();
    let mut response = render(&GuidelinesPage {
        page: Page::new(ctx, format!("{}Bulletin guidelines and saved replies", errors.title_prefix())),
        guidelines: store::guidelines(&state.db).await?,
        replies: store::reply_templates(&state.db).await?,
        errors,
        text: form.get("text"),
        reply_name: form.get("reply_name"),
        reply_body: form.get("reply_body"),
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn guidelines(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    guidelines_page(&state, &ctx, &FormData::default(), FormErrors::default()).await
}

/// Add or retire a guideline point, or add or delete a saved reply (the button says which).
pub async fn change_guidelines(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    match form.get("action").as_str() {
        "add-guideline" => {
            let text = form.get("text");
            if text.is_empty() || text.chars().count() > 300 {
                errors.add("text", "Write the guideline point in up to 300 characters");
            } else {
                store::add_guideline(&state.db, &text).await?;
            }
        }
        "retire-guideline" => store::retire_guideline(&state.db, form.get("id").parse().unwrap_or(0)).await?,
        "add-reply" => {
            let (name, body) = (form.get("reply_name"), form.get("reply_body"));
            if name.is_empty() || name.chars().count() > 80 {
                errors.add("reply_name", "Give the reply a short name (up to 80 characters)");
            }
            if body.is_empty() || body.chars().count() > 4000 {
                errors.add("reply_body", "Write the reply (up to 4,000 characters)");
            }
            if errors.is_empty() {
                store::add_reply_template(&state.db, &name, &body).await?;
            }
        }
        "delete-reply" => store::delete_reply_template(&state.db, form.get("id").parse().unwrap_or(0)).await?,
        _ => return Err(AppError::BadRequest("Choose what to change.".into())),
    }
    if !errors.is_empty() {
        return guidelines_page(&state, &ctx, &form, errors).await;
    }
    Ok(redirect_with_notice(&state, "/staff/bulletin/guidelines", "guidelines-saved"))
}
