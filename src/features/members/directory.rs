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
    cache::CachedMap,
    context::Ctx,
    db::Db,
    error::{AppError, AppResult},
    forms::FormData,
    forms::MAX_PAGE,
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

/// Counting stops here: past it the page says "more than" instead of scanning every member.
pub const COUNT_CAP: i64 = 200;
/// A search word matching at most this many terms is "rare": its matches are fetched and
/// sorted. A commoner word is checked per member while walking the name (or date) index.
const RARE_WORD: i64 = 5000;

pub struct SearchResult {
    pub rows: Vec<DirectoryRow>,
    /// Matches, counted up to [`COUNT_CAP`] + 1.
    pub counted: i64,
    pub has_next: bool,
}

/// Search by word prefixes (name, email, region, community, group), filter and sort.
///
/// The cost stays small at 100,000 members whatever is typed. A page sorted by name for one rare
/// word is read from the search-term index alone (which carries each member's name). Otherwise
/// rare words pick the candidates through the term index (intersected) and only those are
/// sorted, while common words are checked per member as the name (or date) index is walked
/// until a page is full. Counts stop at [`COUNT_CAP`].
pub async fn search(
    db: &Db,
    known: &CachedMap<String, i64>,
    query: &DirectoryQuery,
) -> Result<SearchResult, sqlx::Error> {
    let words =
        word_frequencies(db, known, super::domain::search_terms(&[query.q.as_str()]).into_iter().take(6).collect())
            .await?;
    let region = REGIONS.iter().find(|r| **r == query.region);
    let status = ["active", "pending", "unconfirmed"].into_iter().find(|s| *s == query.status);
    let page = query.page.clamp(1, MAX_PAGE);
    let by_name = !matches!(query.sort.as_str(), "newest" | "oldest");
    match words.as_slice() {
        [(word, matches)] if *matches <= RARE_WORD && by_name && region.is_none() && status.is_none() => {
            search_term_index(db, word, page).await
        }
        _ => search_members(db, &words, region.copied(), status, &query.sort, page).await,
    }
}

/// How many terms start with each word, counted up to [`RARE_WORD`] + 1. Remembered for a few
/// minutes: the figure only chooses between two plans that give the same answer.
async fn word_frequencies(
    db: &Db,
    known: &CachedMap<String, i64>,
    words: Vec<String>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let unknown: Vec<&String> = words.iter().filter(|w| known.get(w).is_none()).collect();
    if !unknown.is_empty() {
        let counts: Vec<String> = (0..unknown.len())
            .map(|i| {
                format!(
                    "(SELECT COUNT(*) FROM (SELECT 1 FROM member_search_terms WHERE term >= ${} AND term < ${} LIMIT {}) c{i})",
                    2 * i + 1,
                    2 * i + 2,
                    RARE_WORD + 1
                )
            })
            .collect();
        // One row of counts in one round trip; at most six words, read by position.
        let sql = format!("SELECT {}", counts.join(", "));
        let mut q = sqlx::query::<Any>(&sql);
        for w in &unknown {
            q = q.bind(w.to_string()).bind(upper_bound(w));
        }
        let row = q.fetch_one(&db.pool).await?;
        for (i, w) in unknown.into_iter().enumerate() {
            known.put(w.clone(), sqlx::Row::try_get::<i64, _>(&row, i)?);
        }
    }
    Ok(words
        .into_iter()
        .map(|w| {
            let n = known.get(&w).unwrap_or(RARE_WORD + 1);
            (w, n)
        })
        .collect())
}

/// The exclusive upper end of the terms that start with `word`.
fn upper_bound(word: &str) -> String {
    format!("{word}\u{10FFFF}")
}

/// One rare word, sorted by name: the matches are read and sorted from the term index (which
/// carries names), far enough to fill this page and to count up to [`COUNT_CAP`], and only this
/// page's members are fetched.
async fn search_term_index(db: &Db, word: &str, page: i64) -> Result<SearchResult, sqlx::Error> {
    let offset = (page - 1) * PAGE_SIZE;
    let sql = format!(
        "SELECT DISTINCT t.sort_name, t.member_id FROM member_search_terms t WHERE t.term >= $1 AND t.term < $2 \
         ORDER BY t.sort_name, t.member_id LIMIT {}",
        (offset + PAGE_SIZE + 1).max(COUNT_CAP + 1)
    );
    let ranked: Vec<(String, i64)> = sqlx::query_as::<Any, (String, i64)>(&sql)
        .bind(word.to_string())
        .bind(upper_bound(word))
        .fetch_all(&db.pool)
        .await?;
    let counted = (ranked.len() as i64).min(COUNT_CAP + 1);
    let ids: Vec<String> =
        ranked.iter().skip(offset as usize).take(PAGE_SIZE as usize + 1).map(|(_, id)| id.to_string()).collect();
    if ids.is_empty() {
        return Ok(SearchResult { rows: vec![], counted, has_next: false });
    }
    // The ids come from the database, never from the request: safe to inline.
    let rows_sql =
        format!("SELECT {ROW_COLUMNS} FROM members WHERE id IN ({}) ORDER BY display_name, id", ids.join(", "));
    page_of(fetch_rows(db, &rows_sql, &[]).await?, counted)
}

async fn search_members(
    db: &Db,
    words: &[(String, i64)],
    region: Option<&str>,
    status: Option<&str>,
    sort: &str,
    page: i64,
) -> Result<SearchResult, sqlx::Error> {
    let mut clauses = vec!["status <> 'erased'".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let (rare, common): (Vec<&(String, i64)>, Vec<&(String, i64)>) = words.iter().partition(|(_, n)| *n <= RARE_WORD);
    // Rare words: their members found once, here, and named in the queries below.
    let mut candidates = None;
    if !rare.is_empty() {
        let ids = shared_members(db, &rare).await?;
        if ids.is_empty() {
            return Ok(SearchResult { rows: vec![], counted: 0, has_next: false });
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        // The ids come from the database, never from the request: safe to inline.
        clauses.push(format!("id IN ({})", list.join(", ")));
        candidates = Some(ids.len() as i64);
    }
    for (w, _) in &common {
        binds.push(w.clone());
        binds.push(upper_bound(w));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM member_search_terms o WHERE o.member_id = members.id AND o.term >= ${} AND o.term < ${})",
            binds.len() - 1,
            binds.len()
        ));
    }
    if let Some(region) = region {
        binds.push(region.to_string());
        clauses.push(format!("region = ${}", binds.len()));
    }
    if let Some(status) = status {
        binds.push(status.to_string());
        clauses.push(format!("status = ${}", binds.len()));
    }
    let order = match sort {
        "newest" => "joined_at DESC, id DESC",
        "oldest" => "joined_at, id",
        _ => "display_name, id",
    };
    let filter = clauses.join(" AND ");
    let counted = match candidates {
        // Members with search terms are never erased: with nothing else to filter, the
        // candidates are the answer.
        Some(n) if common.is_empty() && region.is_none() && status.is_none() => n.min(COUNT_CAP + 1),
        _ => count(db, &format!("SELECT 1 FROM members WHERE {filter}"), &binds).await?,
    };
    let list_sql = format!(
        "SELECT {ROW_COLUMNS} FROM members WHERE {filter} ORDER BY {order} LIMIT {} OFFSET {}",
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE
    );
    page_of(fetch_rows(db, &list_sql, &binds).await?, counted)
}

/// Members that have a term starting with every one of `words` (each rare, so few).
async fn shared_members(db: &Db, words: &[&(String, i64)]) -> Result<Vec<i64>, sqlx::Error> {
    let selects: Vec<String> = (0..words.len())
        .map(|i| {
            format!("SELECT member_id FROM member_search_terms WHERE term >= ${} AND term < ${}", 2 * i + 1, 2 * i + 2)
        })
        .collect();
    let sql = selects.join(" INTERSECT ");
    let mut q = sqlx::query_scalar::<Any, i64>(&sql);
    for (w, _) in words {
        q = q.bind(w.clone()).bind(upper_bound(w));
    }
    q.fetch_all(&db.pool).await
}

/// Rows of `inner`, counted up to [`COUNT_CAP`] + 1.
async fn count(db: &Db, inner: &str, binds: &[String]) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) FROM ({inner} LIMIT {}) capped", COUNT_CAP + 1);
    let mut q = sqlx::query_scalar::<Any, i64>(&sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    q.fetch_one(&db.pool).await
}

const ROW_COLUMNS: &str = "id, display_name, email, region, communities, status, joined_at";

async fn fetch_rows(db: &Db, sql: &str, binds: &[String]) -> Result<Vec<DirectoryRow>, sqlx::Error> {
    let mut q = sqlx::query_as::<Any, Row>(sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    Ok(q.fetch_all(&db.pool).await?.into_iter().map(to_directory_row).collect())
}

type Row = (i64, Option<String>, Option<String>, Option<String>, Option<String>, String, i64);

fn to_directory_row((id, name, email, region, communities, status, joined): Row) -> DirectoryRow {
    DirectoryRow {
        id,
        name: name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        region: region.unwrap_or_default(),
        communities: communities.unwrap_or_default(),
        status,
        joined: human_date(joined),
    }
}

/// One page of rows fetched with one extra, which only says whether a next page exists.
fn page_of(mut rows: Vec<DirectoryRow>, counted: i64) -> Result<SearchResult, sqlx::Error> {
    let has_next = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok(SearchResult { rows, counted, has_next })
}

#[derive(Template)]
#[template(path = "staff/directory.html")]
struct DirectoryPage {
    page: Page,
    query: DirectoryQuery,
    result: SearchResult,
    found: String,
    current: i64,
    regions: [&'static str; 12],
}

pub async fn directory(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<DirectoryQuery>,
) -> AppResult<Response> {
    let result = search(&state.db, &state.word_frequencies, &query).await?;
    let found = match result.counted {
        1 => "1 member found".to_string(),
        n if n > COUNT_CAP => format!("More than {COUNT_CAP} members found: add a word or a filter to narrow the list"),
        n => format!("{n} members found"),
    };
    Ok(render(&DirectoryPage {
        page: Page::new(&ctx, "Members directory"),
        current: query.page.clamp(1, MAX_PAGE),
        query,
        result,
        found,
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
pub async fn update_member(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
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
    let changed =
        sqlx::query("UPDATE members SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'pending'")
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
        return Err(AppError::BadRequest(
            "Admins cannot be erased from here. Change their role to member first.".into(),
        ));
    }
    audit::record(&state.db.pool, staff.id, Action::Erase, Some(id), "erased member at their request").await?;
    erase_member(&state, id).await?;
    Ok(redirect_with_notice(&state, "/staff/members", "member-erased"))
}

pub async fn change_role(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
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
