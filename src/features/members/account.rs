//! Self-service: a member sees, changes, downloads and deletes what we hold about them.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    domain::{
        parse_communities, parse_display_name, parse_region, split_communities, EmailAddress, Purpose, Visibility,
        REGIONS,
    },
    store::{self, Member},
};
use crate::core::{
    auth::{self, Role, Status},
    context::{set_cookie, Ctx},
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    layout::{redirect_with_notice, render, Page},
    state::AppState,
    time::{human_date, rfc3339},
};

async fn me_record(state: &AppState, ctx: &Ctx) -> AppResult<Member> {
    store::get(&state.db, ctx.user()?.id).await?.ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "members/me.html")]
struct MePage {
    page: Page,
    member: Member,
    status: String,
    visibility: &'static str,
    has_access_needs: bool,
    consents: Vec<(Purpose, bool)>,
    groups: Vec<(i64, String)>,
}

pub async fn me(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let member = me_record(&state, &ctx).await?;
    let visibility = Visibility::parse(&member.visibility).unwrap_or(Visibility::Members).describe();
    Ok(render(&MePage {
        page: Page::new(&ctx, "Your account"),
        status: member.status.clone(),
        visibility,
        has_access_needs: member.access_needs_enc.is_some(),
        consents: store::current_consents(&state.db, member.id).await?,
        groups: store::contact_groups(&state.db, member.id).await?,
        member,
    }))
}

#[derive(Template)]
#[template(path = "members/edit.html")]
struct EditPage {
    page: Page,
    errors: FormErrors,
    display_name: String,
    email: String,
    region: String,
    communities: String,
    visibility: String,
    access_needs: String,
    regions: [&'static str; 12],
    visibilities: [Visibility; 3],
}

pub async fn edit_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let m = me_record(&state, &ctx).await?;
    let access_needs = match &m.access_needs_enc {
        Some(sealed) => state.keys.decrypt(sealed).map_err(AppError::internal)?,
        None => String::new(),
    };
    Ok(render(&EditPage {
        page: Page::new(&ctx, "Change your profile"),
        errors: FormErrors::default(),
        display_name: m.display_name,
        email: m.email,
        region: m.region.unwrap_or_default(),
        communities: split_communities(m.communities.as_deref()).join(", "),
        visibility: m.visibility,
        access_needs,
        regions: REGIONS,
        visibilities: [Visibility::Private, Visibility::Members, Visibility::Public],
    }))
}

pub async fn edit(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let user = ctx.user()?;
    let mut errors = FormErrors::default();
    let name = parse_display_name(&form.get("display_name")).map_err(|e| errors.add("display_name", e)).ok();
    let email = EmailAddress::parse(&form.get("email")).map_err(|e| errors.add("email", e)).ok();
    let region = parse_region(&form.get("region")).map_err(|e| errors.add("region", e)).ok();
    let communities =
        parse_communities(&[], &form.get("communities_other")).map_err(|e| errors.add("communities_other", e)).ok();
    let visibility = Visibility::parse(&form.get("visibility"));
    if visibility.is_none() {
        errors.add("visibility", "Choose who can see your profile");
    }
    let access_needs = form.get("access_needs");
    if access_needs.chars().count() > 2000 {
        errors.add("access_needs", "Access needs must be 2,000 characters or fewer");
    }
    let (Some(name), Some(email), Some(region), Some(communities), Some(visibility), true) =
        (name, email, region, communities, visibility, errors.is_empty())
    else {
        let mut response = render(&EditPage {
            page: Page::new(&ctx, "Error: Change your profile"),
            errors,
            display_name: form.get("display_name"),
            email: form.get("email"),
            region: form.get("region"),
            communities: form.get("communities_other"),
            visibility: form.get("visibility"),
            access_needs,
            regions: REGIONS,
            visibilities: [Visibility::Private, Visibility::Members, Visibility::Public],
        });
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    };
    let sealed = (!access_needs.is_empty()).then(|| state.keys.encrypt(&access_needs));
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE members SET display_name = $1, region = $2, communities = $3, visibility = $4, \
         access_needs_enc = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(name)
    .bind(region)
    .bind(super::domain::join_communities(&communities))
    .bind(visibility.as_str())
    .bind(sealed)
    .bind(crate::core::time::now())
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    store::reindex(&mut tx, user.id).await?;
    // A new address is used only once it is confirmed from that address.
    let email_changed = !email.as_str().eq_ignore_ascii_case(&user.email);
    if email_changed {
        super::email_change::request(&state, &mut tx, user.id, &email).await?;
    }
    tx.commit().await?;
    Ok(redirect_with_notice(&state, "/me", if email_changed { "email-change-sent" } else { "profile-saved" }))
}

#[derive(Template)]
#[template(path = "members/consents.html")]
struct ConsentsPage {
    page: Page,
    consents: Vec<(Purpose, bool)>,
}

pub async fn consents_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let consents = store::current_consents(&state.db, ctx.user()?.id).await?;
    Ok(render(&ConsentsPage { page: Page::new(&ctx, "Your choices"), consents }))
}

/// Record only the choices that changed, each with its time and the wording shown.
pub async fn save_consents(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let user = ctx.user()?;
    let wanted = form.all("consents");
    let current = store::current_consents(&state.db, user.id).await?;
    let now = crate::core::time::now();
    let mut tx = state.db.begin().await?;
    for (purpose, was) in current {
        let now_granted = wanted.iter().any(|w| w == purpose.key());
        if now_granted != was {
            store::record_consent(&mut tx, user.id, purpose, now_granted, now).await?;
        }
    }
    tx.commit().await?;
    Ok(redirect_with_notice(&state, "/me", "consents-saved"))
}

/// Everything held about a member, machine-readable. Used by the member and (audited) by staff.
pub async fn export_json(state: &AppState, member: &Member) -> AppResult<serde_json::Value> {
    let open = |sealed: &Option<String>| -> AppResult<Option<String>> {
        sealed.as_deref().map(|s| state.keys.decrypt(s).map_err(AppError::internal)).transpose()
    };
    let consents = store::consent_history(&state.db, member.id).await?;
    let groups = store::contact_groups(&state.db, member.id).await?;
    let audit = store::audit_entries(&state.db, Some(member.id), 10_000, 0).await?;
    let sessions: Vec<(i64, i64)> = sqlx::query_as("SELECT created_at, expires_at FROM sessions WHERE member_id = $1")
        .bind(member.id)
        .fetch_all(&state.db.pool)
        .await?;
    let pending_mail: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE member_id = $1 AND status <> 'done'")
        .bind(member.id)
        .fetch_one(&state.db.pool)
        .await?;
    let mut data = json!({
        "format": "constellate-member-export/1",
        "exported_at": rfc3339(crate::core::time::now()),
        "member": {
            "id": member.id,
            "display_name": member.display_name,
            "email": member.email,
            "region": member.region,
            "communities": split_communities(member.communities.as_deref()),
            "profile_visibility": member.visibility,
            "status": member.status,
            "role": member.role,
            "has_password": member.has_password,
            "access_needs": open(&member.access_needs_enc)?,
            "staff_notes": open(&member.staff_notes_enc)?,
            "joined_at": rfc3339(member.joined_at),
            "updated_at": rfc3339(member.updated_at),
        },
        "consents": consents.iter().map(|c| json!({
            "purpose": c.purpose,
            "granted": c.granted,
            "wording_version": c.wording_version,
            "recorded_at": rfc3339(c.recorded_at),
        })).collect::<Vec<_>>(),
        "group_contact_for": groups.iter().map(|(id, name)| json!({"group_id": id, "name": name})).collect::<Vec<_>>(),
        "sessions": sessions.iter().map(|(c, e)| json!({"started_at": rfc3339(*c), "expires_at": rfc3339(*e)})).collect::<Vec<_>>(),
        "emails_waiting_to_be_sent": pending_mail,
        "audit_entries_about_you": audit.iter().map(|a| json!({
            "at": rfc3339(a.at),
            "action": a.action,
            "by_staff_member": a.actor_name,
            "detail": a.detail,
        })).collect::<Vec<_>>(),
    });
    for (section, value) in crate::features::member_data(state, member.id).await? {
        data[section] = value;
    }
    Ok(data)
}

pub fn json_download(value: &serde_json::Value, filename: &str) -> Response {
    let body = serde_json::to_string_pretty(value).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body,
    )
        .into_response()
}

pub async fn export(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let member = me_record(&state, &ctx).await?;
    let data = export_json(&state, &member).await?;
    Ok(json_download(&data, "my-data.json"))
}

#[derive(Template)]
#[template(path = "members/delete.html")]
struct DeletePage {
    page: Page,
}

pub async fn delete_page(ctx: Ctx) -> Response {
    render(&DeletePage { page: Page::new(&ctx, "Delete your account") })
}

/// Erase the member, their outbox copies, and end the session.
pub async fn erase_member(state: &AppState, member_id: i64) -> AppResult<bool> {
    match store::erase(&state.db, member_id).await? {
        Some(email) => {
            if !email.is_empty() {
                state.mailer.forget_recipient(&email).await.map_err(AppError::internal)?;
            }
            state.db.scrub().await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub async fn delete(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let user = ctx.user()?;
    if user.role == Role::Admin && count_admins(&state).await? <= 1 {
        return Err(AppError::BadRequest(
            "You are the only admin. Make another member an admin first, so the network is not left without one."
                .into(),
        ));
    }
    erase_member(&state, user.id).await?;
    let mut response = redirect_with_notice(&state, "/", "account-deleted");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, "sid", "", Some(0)));
    Ok(response)
}

async fn count_admins(state: &AppState) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE role = 'admin' AND status <> 'erased'")
        .fetch_one(&state.db.pool)
        .await?)
}

#[derive(Template)]
#[template(path = "members/profile.html")]
struct ProfilePage {
    page: Page,
    member: Member,
    joined: String,
    groups: Vec<(i64, String)>,
}

/// Who is looking, as [`Visibility::lets_see`] needs it.
pub fn viewer(ctx: &Ctx) -> Option<(i64, bool, bool)> {
    ctx.user.as_ref().map(|u| (u.id, u.status == auth::Status::Active, u.is_staff()))
}

/// A member's profile as others see it, honouring the visibility they chose.
pub async fn profile(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let member =
        store::get(&state.db, id).await?.filter(|m| m.status == Status::Active.as_str()).ok_or(AppError::NotFound)?;
    let visibility = Visibility::parse(&member.visibility).unwrap_or(Visibility::Private);
    if !visibility.lets_see(viewer(&ctx), id) {
        // Same answer as a missing profile: a private profile's existence is private too.
        return Err(AppError::NotFound);
    }
    Ok(render(&ProfilePage {
        page: Page::new(&ctx, member.display_name.clone()),
        joined: human_date(member.joined_at),
        groups: store::contact_groups(&state.db, id).await?,
        member,
    }))
}
