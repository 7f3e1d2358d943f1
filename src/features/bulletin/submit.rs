//! Sending an item for the bulletin: members (for themselves or a group they are a contact
//! for), and, when the network allows it, anyone with an email address. Save and return later;
//! see the status of each submission and every message from the editors.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::{
    domain::{Check, ItemInput, ItemKind, ItemStatus, ValidItem, MAX_DESCRIPTION},
    store::{self, DecisionRecord, Item, Sender},
};
use crate::{
    core::{
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        jobs,
        layout::{message, redirect_with_notice, render, Page},
        mail::Email,
        state::AppState,
        time::{human_date, local_date, now, parse_date},
    },
    features::{
        accounts::limit_attempt,
        members::{
            domain::{parse_display_name, EmailAddress, REGIONS},
            store as members,
        },
    },
};

/// The fields of the form for writing or changing an item, shown on several pages.
pub struct ItemForm {
    pub csrf: String,
    pub errors: FormErrors,
    pub action: String,
    pub input: ItemInput,
    /// Whom it can be from: yourself, or a group you are a contact for. Empty: not asked.
    pub from_options: Vec<(String, String)>,
    /// Name and email of someone without an account; None for members and staff.
    pub visitor: Option<(String, String)>,
    pub can_save_draft: bool,
    pub send_label: &'static str,
}

#[derive(Template)]
#[template(path = "bulletin/item_fields.html")]
struct ItemFields<'a> {
    form: &'a ItemForm,
    kinds: Vec<(&'static str, &'static str)>,
    regions: [&'static str; 12],
    max_description: usize,
}

impl ItemForm {
    /// The `<form>` alone, to put on a page.
    pub fn html(&self) -> AppResult<String> {
        ItemFields { form: self, kinds: ItemKind::options(), regions: REGIONS, max_description: MAX_DESCRIPTION }
            .render()
            .map_err(AppError::internal)
    }

    /// A page that is just this form, with its error summary (422 when there are errors).
    pub fn page(self, ctx: &Ctx, heading: &str, intro: &str) -> AppResult<Response> {
        let fields = self.html()?;
        let invalid = !self.errors.is_empty();
        let mut response = render(&ItemFormPage {
            page: Page::new(ctx, format!("{}{heading}", self.errors.title_prefix())),
            errors: self.errors,
            heading: heading.to_string(),
            intro: intro.to_string(),
            fields,
        });
        if invalid {
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        Ok(response)
    }
}

#[derive(Template)]
#[template(path = "bulletin/item_form.html")]
struct ItemFormPage {
    page: Page,
    errors: FormErrors,
    heading: String,
    intro: String,
    fields: String,
}

const MEMBER_INTRO: &str = "Tell members about an opportunity, paid work, an event, funding, a call for participation, a resource, your project or news. The editorial team reads everything and will tell you what they decide.";
const VISITOR_INTRO: &str = "You do not need to be a member. We will email you a link to confirm your address; the same link shows what the editors decide.";

/// The groups a member may send on behalf of, and the choices that makes.
async fn from_choices(
    state: &AppState,
    member_id: i64,
    name: &str,
) -> AppResult<(Vec<(i64, String)>, Vec<(String, String)>)> {
    let groups = members::contact_groups(&state.db, member_id).await?;
    let mut options = vec![("me".to_string(), format!("Me ({name})"))];
    options
        .extend(groups.iter().map(|(id, g)| (format!("group-{id}"), format!("{g} (a group you are a contact for)"))));
    Ok((groups, options))
}

fn today() -> jiff::civil::Date {
    parse_date(&local_date(now())).unwrap_or_default()
}

fn blank_input() -> ItemInput {
    ItemInput { from: "me".into(), ..Default::default() }
}

pub fn input_of(item: &Item) -> ItemInput {
    ItemInput {
        kind: item.kind.clone(),
        title: item.title.clone(),
        description: item.description.clone(),
        link: item.link.clone().unwrap_or_default(),
        closes_on: item.closes_on.clone().unwrap_or_default(),
        region: item.region.clone().unwrap_or_default(),
        from: item.group_id.map_or("me".into(), |g| format!("group-{g}")),
    }
}

async fn member_form(
    state: &AppState,
    ctx: &Ctx,
    action: String,
    input: ItemInput,
    errors: FormErrors,
) -> AppResult<Response> {
    let user = ctx.user()?;
    let (_, from_options) = from_choices(state, user.id, &user.name).await?;
    let heading = if action == "/bulletin/submit" { "Send an item for the bulletin" } else { "Change your item" };
    member_fields(ctx, action, input, errors, from_options).page(ctx, heading, MEMBER_INTRO)
}

fn member_fields(
    ctx: &Ctx,
    action: String,
    input: ItemInput,
    errors: FormErrors,
    from_options: Vec<(String, String)>,
) -> ItemForm {
    ItemForm {
        csrf: ctx.csrf.clone(),
        errors,
        action,
        input,
        from_options,
        visitor: None,
        can_save_draft: true,
        send_label: "Send to the editors",
    }
}

pub async fn submit_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    member_form(&state, &ctx, "/bulletin/submit".into(), blank_input(), FormErrors::default()).await
}

/// Whether the form was sent with "Save and finish later" rather than "Send".
fn check_of(form: &FormData) -> Check {
    if form.get("action") == "save" {
        Check::Draft
    } else {
        Check::Send
    }
}

fn status_after(check: Check) -> ItemStatus {
    match check {
        Check::Draft => ItemStatus::Draft,
        Check::Send => ItemStatus::Received,
    }
}

pub async fn submit(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let user = ctx.user()?;
    let input = ItemInput::from_form(&form);
    let check = check_of(&form);
    let (groups, _) = from_choices(&state, user.id, &user.name).await?;
    let item = match input.validate(check, today(), &groups) {
        Ok(item) => item,
        Err(errors) => return member_form(&state, &ctx, "/bulletin/submit".into(), input, errors).await,
    };
    let mut conn = state.db.pool.acquire().await?;
    let id = store::insert_item(&mut conn, &item, Sender::Member(user.id), status_after(check)).await?;
    let notice = if check == Check::Draft { "item-saved" } else { "item-sent" };
    Ok(redirect_with_notice(&state, &format!("/bulletin/mine/{id}"), notice))
}

#[derive(Template)]
#[template(path = "bulletin/mine.html")]
struct MinePage {
    page: Page,
    items: Vec<Item>,
}

pub async fn mine(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let items = store::items_of_member(&state.db, ctx.user()?.id).await?;
    Ok(render(&MinePage { page: Page::new(&ctx, "Your bulletin items"), items }))
}

/// One submission as its sender sees it: the current text (as edited by staff, if they did),
/// its status, and the editors' messages.
#[derive(Template)]
#[template(path = "bulletin/my_item.html")]
struct MyItemPage {
    page: Page,
    item: Item,
    messages: Vec<(String, String, String)>,
    description_html: String,
    /// The form to change it, when it can still be changed.
    form: Option<String>,
}

/// What the sender may read of the editorial record: the decision, its message and date, never
/// the team's internal reasoning.
fn messages_for_sender(decisions: Vec<DecisionRecord>) -> Vec<(String, String, String)> {
    decisions
        .into_iter()
        .map(|d| (super::domain::Decision::describe(&d.decision).to_string(), d.message, human_date(d.decided_at)))
        .collect()
}

async fn own_item(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Item> {
    let user = ctx.user()?;
    store::item(&state.db, id)
        .await?
        .filter(|i| i.member_id == Some(user.id) && !i.written_by_staff)
        .ok_or(AppError::NotFound)
}

pub async fn my_item(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let item = own_item(&state, &ctx, id).await?;
    let form = if item.status.editable() {
        let user = ctx.user()?;
        let (_, from_options) = from_choices(&state, user.id, &user.name).await?;
        let fields =
            member_fields(&ctx, format!("/bulletin/mine/{id}"), input_of(&item), FormErrors::default(), from_options);
        Some(fields.html()?)
    } else {
        None
    };
    Ok(render(&MyItemPage {
        page: Page::new(&ctx, format!("Your item: {}", if item.title.is_empty() { "untitled" } else { &item.title })),
        messages: messages_for_sender(store::decisions_of(&state.db, id).await?),
        description_html: crate::core::markdown::to_safe_html(&item.description),
        item,
        form,
    }))
}

pub async fn change_my_item(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let user = ctx.user()?;
    let item = own_item(&state, &ctx, id).await?;
    if !item.status.editable() {
        return Ok(message(
            &ctx,
            "This item can no longer be changed",
            &["The editors have already decided about it. If something needs correcting, reply to their email or contact the staff team."],
            Some((&format!("/bulletin/mine/{id}"), "Back to your item")),
        ));
    }
    let input = ItemInput::from_form(&form);
    let check = check_of(&form);
    let (groups, _) = from_choices(&state, user.id, &user.name).await?;
    let valid: ValidItem = match input.validate(check, today(), &groups) {
        Ok(v) => v,
        Err(errors) => return member_form(&state, &ctx, format!("/bulletin/mine/{id}"), input, errors).await,
    };
    let mut conn = state.db.pool.acquire().await?;
    store::update_item(&mut conn, id, &valid, status_after(check), false).await?;
    let notice = if check == Check::Draft { "item-saved" } else { "item-sent" };
    Ok(redirect_with_notice(&state, &format!("/bulletin/mine/{id}"), notice))
}

// People without an account (only when the network allows open submissions).

fn visitor_fields(
    ctx: &Ctx,
    action: String,
    input: ItemInput,
    name: String,
    email: String,
    errors: FormErrors,
) -> ItemForm {
    ItemForm {
        csrf: ctx.csrf.clone(),
        errors,
        action,
        input,
        from_options: Vec::new(),
        visitor: Some((name, email)),
        can_save_draft: false,
        send_label: "Confirm and send",
    }
}

fn visitor_form(
    ctx: &Ctx,
    action: String,
    input: ItemInput,
    name: String,
    email: String,
    errors: FormErrors,
) -> AppResult<Response> {
    visitor_fields(ctx, action, input, name, email, errors).page(ctx, "Send an item for the bulletin", VISITOR_INTRO)
}

fn open_submissions(state: &AppState) -> AppResult<()> {
    if state.config.bulletin_open_submissions {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn visitor_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    open_submissions(&state)?;
    if ctx.user.is_some() {
        return Ok(Redirect::to("/bulletin/submit").into_response());
    }
    visitor_form(&ctx, "/bulletin/send".into(), blank_input(), String::new(), String::new(), FormErrors::default())
}

/// Check a visitor's name and email along with the item.
fn validate_visitor(form: &FormData, input: &ItemInput) -> Result<(ValidItem, String, EmailAddress), FormErrors> {
    let mut errors = FormErrors::default();
    let name = parse_display_name(&form.get("submitter_name")).map_err(|e| errors.add("submitter_name", e)).ok();
    let email = EmailAddress::parse(&form.get("submitter_email")).map_err(|e| errors.add("submitter_email", e)).ok();
    let item = input.validate(Check::Send, today(), &[]);
    if let Err(item_errors) = &item {
        for (field, message) in item_errors.iter() {
            errors.add(field, message.clone());
        }
    }
    match (item, name, email) {
        (Ok(item), Some(name), Some(email)) if errors.is_empty() => Ok((item, name, email)),
        _ => Err(errors),
    }
}

pub async fn visitor_submit(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    open_submissions(&state)?;
    let input = ItemInput::from_form(&form);
    let (item, name, email) = match validate_visitor(&form, &input) {
        Ok(v) => v,
        Err(errors) => {
            let (n, e) = (form.get("submitter_name"), form.get("submitter_email"));
            return visitor_form(&ctx, "/bulletin/send".into(), input, n, e, errors);
        }
    };
    limit_attempt(&state, &ctx, "bulletin", email.as_str()).await?;
    let mut tx = state.db.begin().await?;
    let id = store::insert_item(
        &mut tx,
        &ValidItem { group_id: None, ..item },
        Sender::Visitor { name: &name, email: email.as_str() },
        ItemStatus::Unconfirmed,
    )
    .await?;
    let link =
        format!("{}/bulletin/sent/{}", state.config.base_url, state.links.sign("bulletin-item", &id.to_string()));
    let network = &state.config.network_name;
    let text = format!(
        "Hello {name},\n\nThank you for sending an item for {network}'s bulletin. Please open this link and press \"Confirm and send\" so the editors receive it:\n\n{link}\n\n\
         The same link shows what the editors decide, and lets you change the item if they ask. If you did not send anything, ignore this email: unconfirmed items are deleted after a week.\n"
    );
    jobs::enqueue_mail(
        &mut *tx,
        &Email::text(email.as_str(), format!("Confirm your item for {network}'s bulletin"), text),
        None,
    )
    .await?;
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(message(
        &ctx,
        "Check your email",
        &[
            "We have sent you a link. Open it and press \"Confirm and send\", and your item will reach the editors.",
            "Unconfirmed items are deleted after a week.",
        ],
        None,
    ))
}

async fn visitor_item(state: &AppState, token: &str) -> AppResult<Item> {
    let id: i64 = state.links.verify("bulletin-item", token).and_then(|d| d.parse().ok()).ok_or(AppError::NotFound)?;
    store::item(&state.db, id)
        .await?
        .filter(|i| i.member_id.is_none() && i.submitter_email.is_some())
        .ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "bulletin/visitor_item.html")]
struct VisitorItemPage {
    page: Page,
    item: Item,
    messages: Vec<(String, String, String)>,
    description_html: String,
    form: Option<String>,
}

/// The emailed link: the item's status and the editors' messages, and the form while it can be
/// changed (pressing its button confirms an unconfirmed item).
pub async fn visitor_item_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let item = visitor_item(&state, &token).await?;
    let form = if item.status.editable() {
        let (name, email) =
            (item.from_name.clone().unwrap_or_default(), item.submitter_email.clone().unwrap_or_default());
        let fields = visitor_fields(
            &ctx,
            format!("/bulletin/sent/{token}"),
            input_of(&item),
            name,
            email,
            FormErrors::default(),
        );
        Some(fields.html()?)
    } else {
        None
    };
    Ok(render(&VisitorItemPage {
        page: Page::new(&ctx, "Your bulletin item"),
        messages: messages_for_sender(store::decisions_of(&state.db, item.id).await?),
        description_html: crate::core::markdown::to_safe_html(&item.description),
        item,
        form,
    }))
}

pub async fn visitor_item_send(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let item = visitor_item(&state, &token).await?;
    if !item.status.editable() {
        return Ok(Redirect::to(&format!("/bulletin/sent/{token}")).into_response());
    }
    let input = ItemInput::from_form(&form);
    let (valid, name, email) = match validate_visitor(&form, &input) {
        Ok(v) => v,
        Err(errors) => {
            let (n, e) = (form.get("submitter_name"), form.get("submitter_email"));
            return visitor_form(&ctx, format!("/bulletin/sent/{token}"), input, n, e, errors);
        }
    };
    let mut tx = state.db.begin().await?;
    store::update_item(&mut tx, item.id, &ValidItem { group_id: None, ..valid }, ItemStatus::Received, false).await?;
    sqlx::query("UPDATE bulletin_items SET submitter_name = $1, submitter_email = $2 WHERE id = $3")
        .bind(name)
        .bind(email.as_str())
        .bind(item.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/bulletin/sent/{token}"), "item-sent"))
}
