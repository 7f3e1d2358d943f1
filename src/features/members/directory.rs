//! The staff directory: search, filter, sort and page through members; one member's record.
//! Every look at or change to a person's record is written to the audit log.
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use serde::Deserialize;
use sqlx::Any;

use super::{
    account::{erase_member, export_json, json_download},
    domain::{Purpose, REGIONS},
    store::{self, Member},
};
use crate::core::{
    audit::{self, Action},
    auth::Role,
    context::Ctx,
    db::Db,
    error::{AppError, AppResult},
    forms::FormData,
    jobs,
    layout::{redirect_with_notice, render, Page},
    mail::Email,
    state::AppState,
    time::human_date,
};

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(default)]
pub struct DirectoryQuery {
    pub q: String,
    pub region: String,
    pub status: String,
    pub sort: String,
    pub page: i64,
}

impl DirectoryQuery {
    /// The query string for another page of the same search.
    pub fn page_link(&self, page: i64) -> String {
        let enc = crate::core::error::urlencode;
        format!(
            "/staff/members?q={}&region={}&status={}&sort={}&page={page}",
            enc(&self.q),
            enc(&self.region),
            enc(&self.status),
            enc(&self.sort)
        )
    }
}

pub struct DirectoryRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub region: String,
    pub communities: String,
    pub status: String,
    pub joined: String,
}

/// Search by word prefixes (name, email, region, community, group), filter and sort.
/// Each query word narrows the result; words are matched through an index, so the cost
/// follows the number of matches, not the number of members.
pub async fn search(db: &Db, query: &DirectoryQuery) -> Result<(Vec<DirectoryRow>, i64), sqlx::Error> {
    let words: Vec<String> = super::domain::search_terms(&[query.q.as_str()]).into_iter().take(6).collect();
    let mut clauses = vec!["status <> 'erased'".to_string()];
    let mut binds: Vec<String> = Vec::new();
    for w in &words {
        binds.push(w.clone());
        binds.push(format!("{w}\u{10FFFF}"));
        clauses.push(format!(
            "id IN (SELECT member_id FROM member_search_terms WHERE term >= ${} AND term < ${})",
            binds.len() - 1,
            binds.len()
        ));
    }
    if let Some(region) = REGIONS.iter().find(|r| **r == query.region) {
        binds.push(region.to_string());
        clauses.push(format!("region = ${}", binds.len()));
    }
    if ["active", "pending", "unconfirmed"].contains(&query.status.as_str()) {
        binds.push(query.status.clone());
        clauses.push(format!("status = ${}", binds.len()));
    }
    let order = match query.sort.as_str() {
        "newest" => "joined_at DESC, id DESC",
        "oldest" => "joined_at, id",
        _ => "display_name, id",
    };
    let filter = clauses.join(" AND ");
    let count_sql = format!("SELECT COUNT(*) FROM members WHERE {filter}");
    let mut count = sqlx::query_scalar::<Any, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&db.pool).await?;
    let page = query.page.max(1);
    let list_sql = format!(
        "SELECT id, display_name, email, region, communities, status, joined_at FROM members WHERE {filter} \
         ORDER BY {order} LIMIT {PAGE_SIZE} OFFSET {}",
        (page - 1) * PAGE_SIZE
    );
    let mut list = sqlx::query_as::<Any, (i64, Option<String>, Option<String>, Option<String>, Option<String>, String, i64)>(&list_sql);
    for b in &binds {
        list = list.bind(b.clone());
    }
    let rows = list
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(|(id, name, email, region, communities, status, joined)| DirectoryRow {
            id,
            name: name.unwrap_or_default(),
            email: email.unwrap_or_default(),
            region: region.unwrap_or_default(),
            communities: communities.unwrap_or_default(),
            status,
            joined: human_date(joined),
        })
        .collect();
    Ok((rows, total))
}

#[derive(Template)]
#[template(path = "staff/directory.html")]
struct DirectoryPage {
    page: Page,
    query: DirectoryQuery,
    rows: Vec<DirectoryRow>,
    total: i64,
    current: i64,
    last: i64,
    regions: [&'static str; 12],
}

pub async fn directory(State(state): State<AppState>, ctx: Ctx, Query(query): Query<DirectoryQuery>) -> AppResult<Response> {
    let (rows, total) = search(&state.db, &query).await?;
    let last = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    Ok(render(&DirectoryPage {
        page: Page::new(&ctx, "Members directory"),
        current: query.page.clamp(1, last),
        query,
        rows,
        total,
        last,
        regions: REGIONS,
    }))
}

#[derive(Template)]
#[template(path = "staff/member.html")]
struct MemberPage {
    page: Page,
    member: Member,
    joined: String,
    notes: String,
    access_needs: String,
    consents: Vec<(Purpose, bool)>,
    groups: Vec<(i64, String)>,
    viewer_is_admin: bool,
}

async fn load(state: &AppState, id: i64) -> AppResult<Member> {
    store::get(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn member_detail(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let staff = ctx.user()?;
    let member = load(&state, id).await?;
    audit::record(&state.db.pool, staff.id, Action::View, Some(id), "viewed member record").await?;
    let open = |s: &Option<String>| s.as_deref().map(|s| state.keys.decrypt(s)).transpose().map_err(AppError::internal);
    Ok(render(&MemberPage {
        page: Page::new(&ctx, format!("Member: {}", member.display_name)),
        joined: human_date(member.joined_at),
        notes: open(&member.staff_notes_enc)?.unwrap_or_default(),
        access_needs: open(&member.access_needs_enc)?.unwrap_or_default(),
        consents: store::current_consents(&state.db, id).await?,
        groups: store::contact_groups(&state.db, id).await?,
        viewer_is_admin: staff.role == Role::Admin,
        member,
    }))
}

/// Staff notes about a person are free text about them: stored encrypted.
pub async fn update_member(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    let staff = ctx.user()?;
    load(&state, id).await?;
    let notes = form.get("staff_notes");
    if notes.chars().count() > 5000 {
        return Err(AppError::BadRequest("Notes must be 5,000 characters or fewer. Go back to shorten them.".into()));
    }
    let sealed = (!notes.is_empty()).then(|| state.keys.encrypt(&notes));
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("UPDATE members SET staff_notes_enc = $1, updated_at = $2 WHERE id = $3")
        .bind(sealed)
        .bind(crate::core::time::now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, staff.id, Action::Change, Some(id), "changed staff notes").await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/members/{id}"), "member-saved"))
}

pub async fn approve(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let staff = ctx.user()?;
    let member = load(&state, id).await?;
    let mut tx = state.db.pool.begin().await?;
    let changed = sqlx::query("UPDATE members SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'pending'")
        .bind(crate::core::time::now())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 1 {
        audit::record(&mut *tx, staff.id, Action::Approve, Some(id), "approved membership").await?;
        let network = &state.config.network_name;
        let email = Email {
            to: member.email.clone(),
            subject: format!("Welcome to {network}"),
            text: format!(
                "Hello {},\n\nYour membership of {network} has been approved. Sign in any time at {}/sign-in.\n",
                member.display_name, state.config.base_url
            ),
            html: None,
        };
        jobs::enqueue_mail(&mut *tx, &email, Some(id)).await?;
    }
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, &format!("/staff/members/{id}"), "member-approved"))
}

pub async fn export_member(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let staff = ctx.user()?;
    let member = load(&state, id).await?;
    audit::record(&state.db.pool, staff.id, Action::Export, Some(id), "downloaded member data").await?;
    let data = export_json(&state, &member).await?;
    Ok(json_download(&data, &format!("member-{id}.json")))
}

pub async fn erase(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let staff = ctx.user()?;
    let member = load(&state, id).await?;
    if member.role == "admin" {
        return Err(AppError::BadRequest("Admins cannot be erased from here. Change their role to member first.".into()));
    }
    audit::record(&state.db.pool, staff.id, Action::Erase, Some(id), "erased member at their request").await?;
    erase_member(&state, id).await?;
    Ok(redirect_with_notice(&state, "/staff/members", "member-erased"))
}

pub async fn change_role(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    let admin = ctx.user()?;
    load(&state, id).await?;
    let role = match form.get("role").as_str() {
        "member" => Role::Member,
        "staff" => Role::Staff,
        "admin" => Role::Admin,
        _ => return Err(AppError::BadRequest("Choose member, staff or admin.".into())),
    };
    if id == admin.id && role != Role::Admin {
        return Err(AppError::BadRequest("You cannot remove your own admin role. Ask another admin.".into()));
    }
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("UPDATE members SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(crate::core::time::now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, admin.id, Action::Change, Some(id), &format!("set role to {}", role.as_str())).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/members/{id}"), "member-saved"))
}
