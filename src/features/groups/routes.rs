use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{domain::GroupInput, store};
use crate::{
    core::{
        context::Ctx,
        error::{AppError, AppResult},
        forms::MAX_PAGE,
        forms::{FormData, FormErrors},
        layout::{redirect_with_notice, render, Page},
        markdown::to_safe_html,
        state::AppState,
        time::now,
    },
    features::members::{
        domain::{EmailAddress, Visibility, REGIONS},
        store as members,
    },
};

pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub region: Option<String>,
    pub lived_experience_led: bool,
    pub visibility: String,
}

pub async fn load(state: &AppState, id: i64) -> AppResult<Group> {
    let row: Option<(i64, String, String, Option<String>, i64, String)> = sqlx::query_as(
        "SELECT id, name, description, region, lived_experience_led, visibility FROM groups WHERE id = $1 AND status = 'active'",
    )
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?;
    let (id, name, description, region, led, visibility) = row.ok_or(AppError::NotFound)?;
    Ok(Group { id, name, description, region, lived_experience_led: led != 0, visibility })
}

/// The group's contacts as this viewer may see them: named (and linked to their profile) where
/// their profile's visibility lets the viewer see it, otherwise only counted.
async fn contacts(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<(Vec<(i64, String)>, usize)> {
    let all: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT m.id, m.display_name, m.visibility FROM members m JOIN group_contacts c ON c.member_id = m.id \
         WHERE c.group_id = $1 AND m.status = 'active' ORDER BY m.display_name",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let viewer = crate::features::members::account::viewer(ctx);
    let total = all.len();
    let shown: Vec<(i64, String)> = all
        .into_iter()
        .filter(|(member, _, v)| Visibility::parse(v).unwrap_or(Visibility::Private).lets_see(viewer, *member))
        .map(|(member, name, _)| (member, name))
        .collect();
    let unnamed = total - shown.len();
    Ok((shown, unnamed))
}

/// Group contacts and staff may change a group; nobody else.
async fn require_contact(state: &AppState, ctx: &Ctx, group_id: i64) -> AppResult<()> {
    let user = ctx.user()?;
    if user.is_staff() {
        return Ok(());
    }
    let found: Option<i64> =
        sqlx::query_scalar("SELECT member_id FROM group_contacts WHERE group_id = $1 AND member_id = $2")
            .bind(group_id)
            .bind(user.id)
            .fetch_optional(&state.db.pool)
            .await?;
    found.map(|_| ()).ok_or(AppError::Forbidden)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    page: i64,
}

#[derive(Template)]
#[template(path = "groups/list.html")]
struct ListPage {
    page: Page,
    groups: Vec<(i64, String, Option<String>)>,
    current: i64,
    more: bool,
}

pub async fn list(State(state): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let signed_in = ctx.user.is_some();
    let current = q.page.clamp(1, MAX_PAGE);
    let mut groups: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT id, name, region FROM groups WHERE status = 'active' AND (visibility = 'public' OR $1 = 1) ORDER BY name, id LIMIT 51 OFFSET $2",
    )
    .bind(signed_in as i64)
    .bind((current - 1) * 50)
    .fetch_all(&state.db.pool)
    .await?;
    let more = groups.len() > 50;
    groups.truncate(50);
    Ok(render(&ListPage { page: Page::new(&ctx, "Groups in the network"), groups, current, more }))
}

#[derive(Template)]
#[template(path = "groups/form.html")]
struct FormPage {
    page: Page,
    errors: FormErrors,
    input: GroupInput,
    action: String,
    regions: [&'static str; 12],
}

fn form_page(ctx: &Ctx, title: &str, action: String, input: GroupInput, errors: FormErrors) -> Response {
    let invalid = !errors.is_empty();
    let mut response = render(&FormPage {
        page: Page::new(ctx, format!("{}{title}", errors.title_prefix())),
        errors,
        input,
        action,
        regions: REGIONS,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

pub async fn new_page(ctx: Ctx) -> Response {
    let input = GroupInput { visibility: "public".into(), ..Default::default() };
    form_page(&ctx, "Register a group", "/groups/new".into(), input, FormErrors::default())
}

pub async fn create(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let user = ctx.user()?;
    let input = GroupInput::from_form(&form);
    let group = match input.validate() {
        Ok(g) => g,
        Err(errors) => return Ok(form_page(&ctx, "Register a group", "/groups/new".into(), input, errors)),
    };
    let mut tx = state.db.begin().await?;
    let id = store::insert(&mut tx, &group, user.id, now()).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/groups/{id}"), "group-saved"))
}

#[derive(Template)]
#[template(path = "groups/show.html")]
struct ShowPage {
    page: Page,
    group: Group,
    description_html: String,
    contacts: Vec<(i64, String)>,
    /// Contacts whose profile the viewer may not see: counted, not named.
    unnamed: usize,
    can_edit: bool,
    errors: FormErrors,
    contact_email: String,
}

async fn show_page(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    errors: FormErrors,
    contact_email: String,
) -> AppResult<Response> {
    let group = load(state, id).await?;
    if group.visibility != "public" && ctx.user.is_none() {
        return Err(AppError::NotFound);
    }
    let can_edit = require_contact(state, ctx, id).await.is_ok();
    let invalid = !errors.is_empty();
    let (contacts, unnamed) = contacts(state, ctx, id).await?;
    let mut response = render(&ShowPage {
        page: Page::new(ctx, format!("{}{}", errors.title_prefix(), group.name)),
        description_html: to_safe_html(&group.description),
        contacts,
        unnamed,
        group,
        can_edit,
        errors,
        contact_email,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn show(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    show_page(&state, &ctx, id, FormErrors::default(), String::new()).await
}

pub async fn edit_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    require_contact(&state, &ctx, id).await?;
    let g = load(&state, id).await?;
    let input = GroupInput {
        name: g.name,
        description: g.description,
        region: g.region.unwrap_or_default(),
        lived_experience_led: if g.lived_experience_led { "yes" } else { "no" }.into(),
        visibility: g.visibility,
    };
    Ok(form_page(&ctx, "Change the group's details", format!("/groups/{id}/edit"), input, FormErrors::default()))
}

pub async fn edit(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    require_contact(&state, &ctx, id).await?;
    load(&state, id).await?;
    let input = GroupInput::from_form(&form);
    let group = match input.validate() {
        Ok(g) => g,
        Err(errors) => {
            return Ok(form_page(&ctx, "Change the group's details", format!("/groups/{id}/edit"), input, errors))
        }
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE groups SET name = $1, description = $2, region = $3, lived_experience_led = $4, visibility = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&group.name)
    .bind(&group.description)
    .bind(&group.region)
    .bind(group.lived_experience_led as i64)
    .bind(group.visibility)
    .bind(now())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let contact_ids: Vec<(i64,)> =
        sqlx::query_as("SELECT member_id FROM group_contacts WHERE group_id = $1").bind(id).fetch_all(&mut *tx).await?;
    for (member_id,) in contact_ids {
        members::reindex(&mut tx, member_id).await?;
    }
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/groups/{id}"), "group-saved"))
}

/// A contact adds another member (by their email) as a contact too.
pub async fn add_contact(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    require_contact(&state, &ctx, id).await?;
    let typed = form.get("contact_email");
    let mut errors = FormErrors::default();
    let member = match EmailAddress::parse(&typed) {
        Ok(email) => members::find_by_email(&state.db, email.as_str()).await?.filter(|m| m.status == "active"),
        Err(e) => {
            errors.add("contact_email", e);
            None
        }
    };
    let Some(member) = member else {
        errors.add("contact_email", "No active member has that email address. Ask them to join first.");
        return show_page(&state, &ctx, id, errors, typed).await;
    };
    let mut conn = state.db.pool.acquire().await?;
    store::add_contact(&mut conn, id, member.id, now()).await?;
    Ok(redirect_with_notice(&state, &format!("/groups/{id}"), "contact-added"))
}
