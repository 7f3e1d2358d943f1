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
    confirm::{self, Confirm},
    context::Ctx,
    db::{json_rows, Db},
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
/// The cost stays small at 100,000 members whatever is typed. A page sorted by name for one
/// word is merged from the lists of the few terms it starts (the term index carries each
/// member's name, so each list is already in order); a word that starts many terms but is rare
/// has its matches read and sorted from the same index. Otherwise
/// rare words pick the candidates through the term index (intersected) and only those are
/// sorted, while common words are checked per member as the name (or date) index is walked
/// until a page is full. Counts stop at [`COUNT_CAP`].
pub async fn search(
    db: &Db,
    known: &CachedMap<String, i64>,
    query: &DirectoryQuery,
) -> Result<SearchResult, sqlx::Error> {
    let words: Vec<String> = super::domain::search_terms(&[query.q.as_str()]).into_iter().take(6).collect();
    let region = REGIONS.iter().find(|r| **r == query.region);
    let status = ["active", "pending", "unconfirmed"].into_iter().find(|s| *s == query.status);
    let page = query.page.clamp(1, MAX_PAGE);
    let by_name = !matches!(query.sort.as_str(), "newest" | "oldest");
    if let [word] = words.as_slice() {
        if by_name && region.is_none() && status.is_none() {
            let variants = term_variants(db, word).await?;
            if variants.len() <= MAX_VARIANTS {
                return merge_term_lists(db, &variants, page).await;
            }
        }
    }
    let words = word_frequencies(db, known, words).await?;
    match words.as_slice() {
        [(word, matches)] if *matches <= RARE_WORD && by_name && region.is_none() && status.is_none() => {
            search_term_index(db, word, page).await
        }
        _ => search_members(db, &words, region.copied(), status, &query.sort, page).await,
    }
}

/// A typed word usually starts only a few distinct terms ("okafor" → okafor; "pat" → patel,
/// patrick). Up to this many, a page is merged from each term's list, which the term index
/// already keeps in name order.
const MAX_VARIANTS: usize = 8;

/// The distinct terms that start with `word`, up to [`MAX_VARIANTS`] + 1, found by hopping
/// from one term to the next in the index (a seek each) rather than reading every match.
async fn term_variants(db: &Db, word: &str) -> Result<Vec<String>, sqlx::Error> {
    let (first, end) = (hidden_word(1), hidden_word(2));
    let sql = format!(
        "WITH RECURSIVE v(term) AS ( \
           SELECT MIN(term) FROM member_search_terms WHERE term >= {first} AND term < {end} \
           UNION ALL SELECT (SELECT MIN(term) FROM member_search_terms WHERE term > v.term AND term < {end}) \
           FROM v WHERE v.term IS NOT NULL) \
         SELECT term FROM v WHERE term IS NOT NULL LIMIT {}",
        MAX_VARIANTS + 1
    );
    sqlx::query_scalar::<Any, String>(&sql).bind(word.to_string()).bind(upper_bound(word)).fetch_all(&db.pool).await
}

/// One word, sorted by name, read as a merge of its terms' lists: each list is read in index
/// order only as far as this page (and the count, up to [`COUNT_CAP`]) needs, the lists are
/// merged without duplicates, and the page's members are joined in the same statement.
async fn merge_term_lists(db: &Db, terms: &[String], page: i64) -> Result<SearchResult, sqlx::Error> {
    if terms.is_empty() {
        return Ok(SearchResult { rows: vec![], counted: 0, has_next: false });
    }
    let limit = (page * PAGE_SIZE + 1).max(COUNT_CAP + 1);
    let lists: Vec<String> = (1..=terms.len())
        .map(|i| {
            format!(
                "SELECT sort_name, member_id FROM (SELECT sort_name, member_id FROM member_search_terms \
                 WHERE term = {} ORDER BY sort_name, member_id LIMIT {limit}) l{i}",
                hidden_word(i)
            )
        })
        .collect();
    let ranked =
        format!("SELECT sort_name, member_id FROM ({}) h ORDER BY sort_name, member_id", lists.join(" UNION "));
    let placeholders: Vec<String> = (1..=terms.len()).map(|i| format!("${i}")).collect();
    let all = format!("SELECT DISTINCT member_id FROM member_search_terms WHERE term IN ({})", placeholders.join(", "));
    page_from_ranked(db, &ranked, &all, terms, page).await
}

/// A page of members from `ranked` (member ids with their names, in name order), joined to
/// their rows in one statement that also counts the matches up to [`COUNT_CAP`] + 1. `all`
/// selects every match, for counting when the page is past the end.
async fn page_from_ranked(
    db: &Db,
    ranked: &str,
    all: &str,
    binds: &[String],
    page: i64,
) -> Result<SearchResult, sqlx::Error> {
    let offset = (page - 1) * PAGE_SIZE;
    let limit = (offset + PAGE_SIZE + 1).max(COUNT_CAP + 1);
    let sql = format!(
        "WITH ranked AS ({ranked} LIMIT {limit}) \
         SELECT m.id, m.display_name, m.email, m.region, m.communities, m.status, m.joined_at, \
                (SELECT COUNT(*) FROM ranked) AS counted \
         FROM (SELECT sort_name, member_id FROM ranked ORDER BY sort_name, member_id LIMIT {} OFFSET {offset}) p \
         JOIN members m ON m.id = p.member_id ORDER BY p.sort_name, p.member_id",
        PAGE_SIZE + 1
    );
    let (rows, counted) = fetch_counted(db, &sql, binds).await?;
    let counted = match counted {
        Some(n) => n.min(COUNT_CAP + 1),
        None => count(db, all, binds).await?,
    };
    page_of(rows, counted)
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
                    "(SELECT COUNT(*) FROM (SELECT 1 FROM member_search_terms WHERE term >= {} AND term < {} LIMIT {}) c{i})",
                    hidden_word(2 * i + 1),
                    hidden_word(2 * i + 2),
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

/// The search word bound at `$n`, read through a subquery that hides it from the planner. The
/// statements that use it have one best plan whatever the word; but given the value, PostgreSQL
/// plans again on every search, since its estimate for the value beats the plan it would keep.
/// Hidden, the value leaves one plan, kept per connection: planning had been a fifth of the
/// work of a search.
fn hidden_word(n: usize) -> String {
    format!("(SELECT ${n})")
}

/// The exclusive upper end of the terms that start with `word`.
fn upper_bound(word: &str) -> String {
    format!("{word}\u{10FFFF}")
}

/// One rare word that starts many terms, sorted by name: its matches are read and sorted from
/// the term index (which carries names), and only this page's members are joined.
async fn search_term_index(db: &Db, word: &str, page: i64) -> Result<SearchResult, sqlx::Error> {
    let matches = format!("FROM member_search_terms WHERE term >= {} AND term < {}", hidden_word(1), hidden_word(2));
    let ranked = format!("SELECT DISTINCT sort_name, member_id {matches} ORDER BY sort_name, member_id");
    let all = format!("SELECT DISTINCT member_id {matches}");
    page_from_ranked(db, &ranked, &all, &[word.to_string(), upper_bound(word)], page).await
}

async fn search_members(
    db: &Db,
    words: &[(String, i64)],
    region: Option<&str>,
    status: Option<&'static str>,
    sort: &str,
    page: i64,
) -> Result<SearchResult, sqlx::Error> {
    let mut clauses = vec!["status <> 'erased'".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let (rare, common): (Vec<&(String, i64)>, Vec<&(String, i64)>) = words.iter().partition(|(_, n)| *n <= RARE_WORD);
    // Rare words pick the candidates: the members with a term starting each of them, few
    // enough to filter, sort and count whole. Materialised, the candidates are a set the
    // planner cannot estimate, so PostgreSQL looks each one up by id rather than trusting
    // its guess at how many a range of terms holds and walking a whole index.
    let mut with = String::new();
    if !rare.is_empty() {
        let lists: Vec<String> = rare
            .iter()
            .map(|(w, _)| {
                binds.push(w.clone());
                binds.push(upper_bound(w));
                format!(
                    "SELECT member_id FROM member_search_terms WHERE term >= {} AND term < {}",
                    hidden_word(binds.len() - 1),
                    hidden_word(binds.len())
                )
            })
            .collect();
        with = format!("WITH candidates AS MATERIALIZED ({}) ", lists.join(" INTERSECT "));
        clauses.push("id IN (SELECT member_id FROM candidates)".to_string());
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
        // Written into the statement, not bound: most members are active, so PostgreSQL's
        // generic plan for `status = $n` walks the whole name index looking for the few pending
        // ones (40 ms at 100,000 members), where the value in the text lets it use the status
        // index. `status` is one of three fixed words, never what was typed.
        clauses.push(format!("status = '{status}'"));
    }
    let order = match sort {
        "newest" => "joined_at DESC, id DESC",
        "oldest" => "joined_at, id",
        _ => "display_name, id",
    };
    let filter = clauses.join(" AND ");
    let count_sql = format!("{with}SELECT 1 FROM members WHERE {filter}");
    // One statement gives the page and how many matched: over few candidates, as a window;
    // otherwise the page is found by walking an index, and the count is a subquery that stops
    // at the cap.
    let counted = if rare.is_empty() { format!("({})", capped_count(&count_sql)) } else { "COUNT(*) OVER ()".into() };
    let page_sql = format!(
        "{with}SELECT {ROW_COLUMNS}, {counted} AS counted FROM members WHERE {filter} ORDER BY {order} LIMIT {} OFFSET {}",
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE
    );
    let (rows, counted) = fetch_counted(db, &page_sql, &binds).await?;
    let counted = match counted {
        Some(n) => n.min(COUNT_CAP + 1),
        None => count(db, &count_sql, &binds).await?,
    };
    page_of(rows, counted)
}

/// A statement counting the rows of `inner` up to [`COUNT_CAP`] + 1.
fn capped_count(inner: &str) -> String {
    format!("SELECT COUNT(*) FROM ({inner} LIMIT {}) capped", COUNT_CAP + 1)
}

/// Rows of `inner`, counted up to [`COUNT_CAP`] + 1.
async fn count(db: &Db, inner: &str, binds: &[String]) -> Result<i64, sqlx::Error> {
    let sql = capped_count(inner);
    let mut q = sqlx::query_scalar::<Any, i64>(&sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    q.fetch_one(&db.pool).await
}

const ROW_COLUMNS: &str = "id, display_name, email, region, communities, status, joined_at";

/// A directory row followed by a count of every match (the same on each row).
type CountedRow = (i64, Option<String>, Option<String>, Option<String>, Option<String>, String, i64, i64);

/// The rows of a page whose statement ends each row with a count of all matches; the count is
/// None when the page is empty (past the end). The page comes back as one JSON value: with
/// SQLite, fifty rows read one at a time cost more than the search that found them.
async fn fetch_counted(db: &Db, sql: &str, binds: &[String]) -> Result<(Vec<DirectoryRow>, Option<i64>), sqlx::Error> {
    let columns = "id, display_name, email, region, communities, status, joined_at, counted";
    let sql = db.rows_as_json(columns, sql);
    let mut q = sqlx::query_scalar::<Any, String>(&sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    let json = q.fetch_one(&db.pool).await?;
    let found: Vec<CountedRow> = json_rows(&json)?;
    let counted = found.first().map(|row| row.7);
    let rows = found
        .into_iter()
        .map(|(id, name, email, region, communities, status, joined, _)| DirectoryRow {
            id,
            name: name.unwrap_or_default(),
            email: email.unwrap_or_default(),
            region: region.unwrap_or_default(),
            communities: communities.unwrap_or_default(),
            status,
            joined: human_date(joined),
        })
        .collect();
    Ok((rows, counted))
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
    let mut tx = state.db.begin().await?;
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
    let mut tx = state.db.begin().await?;
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
        let email = Email::text(
            &member.email,
            format!("Welcome to {network}"),
            format!(
                "Hello {},\n\nYour membership of {network} has been approved. Sign in any time at {}/sign-in.\n",
                member.display_name, state.config.base_url
            ),
        );
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

pub async fn erase(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let staff = ctx.user()?;
    let member = load(&state, id).await?;
    if member.role == "admin" {
        return Err(AppError::BadRequest(
            "Admins cannot be erased from here. Change their role to member first.".into(),
        ));
    }
    if !confirm::confirmed(&form) {
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Erase {}'s personal data?", member.display_name),
                consequences: vec![
                    "Everything we hold about them is deleted: their profile, choices, items, signatures, requests and applications' answers. Counts and money records stay, without them.".into(),
                    "This cannot be undone.".into(),
                ],
                button: "Erase their personal data".into(),
                action: format!("/staff/members/{id}/erase"),
                form: &form,
                back: format!("/staff/members/{id}"),
            },
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
    let mut tx = state.db.begin().await?;
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
