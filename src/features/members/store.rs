//! Member queries. One SQL text for both databases.
use sqlx::{any::AnyRow, Any, AnyConnection, Row};

use super::domain::{join_communities, search_terms, NewMember, Purpose, CONSENT_WORDING_VERSION};
use crate::core::db::{placeholders, Db};

#[derive(Clone, Debug)]
pub struct Member {
    pub id: i64,
    pub display_name: String,
    pub email: String,
    pub region: Option<String>,
    pub communities: Option<String>,
    pub visibility: String,
    pub status: String,
    pub role: String,
    pub has_password: bool,
    pub access_needs_enc: Option<String>,
    pub staff_notes_enc: Option<String>,
    pub joined_at: i64,
    pub updated_at: i64,
}

pub const MEMBER_COLUMNS: &str = "id, display_name, email, region, communities, visibility, status, role, \
     password_hash IS NOT NULL AS has_password, access_needs_enc, staff_notes_enc, joined_at, updated_at";

impl Member {
    pub fn from_row(row: &AnyRow) -> Result<Member, sqlx::Error> {
        Ok(Member {
            id: row.try_get("id")?,
            display_name: row.try_get::<Option<String>, _>("display_name")?.unwrap_or_default(),
            email: row.try_get::<Option<String>, _>("email")?.unwrap_or_default(),
            region: row.try_get("region")?,
            communities: row.try_get("communities")?,
            visibility: row.try_get("visibility")?,
            status: row.try_get("status")?,
            role: row.try_get("role")?,
            has_password: flag(row, "has_password")?,
            access_needs_enc: row.try_get("access_needs_enc")?,
            staff_notes_enc: row.try_get("staff_notes_enc")?,
            joined_at: row.try_get("joined_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// A boolean expression reads back as an integer on SQLite and a boolean on PostgreSQL.
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Member>, sqlx::Error> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1 AND status <> 'erased'");
    let row = sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(Member::from_row).transpose()
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<Member>, sqlx::Error> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE email = $1 AND status <> 'erased'");
    let row = sqlx::query(&sql).bind(email).fetch_optional(&db.pool).await?;
    row.as_ref().map(Member::from_row).transpose()
}

/// Insert a member with their consents and search terms; returns the new id.
pub async fn insert(
    conn: &mut AnyConnection,
    m: &NewMember,
    status: &str,
    role: &str,
    joined_at: i64,
) -> Result<i64, sqlx::Error> {
    let ids = insert_many(conn, &[(m, joined_at)], status, role).await?;
    Ok(ids[0])
}

/// Insert members (each with its join time), their consents and search terms; returns the ids
/// in order. Everything goes in multi-row statements, so thousands take well under a second.
pub async fn insert_many(
    conn: &mut AnyConnection,
    members: &[(&NewMember, i64)],
    status: &str,
    role: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows = members
        .iter()
        .map(|(m, joined_at)| {
            vec![
                Value::Text(m.display_name.clone()),
                Value::Text(m.email.as_str().to_string()),
                Value::MaybeText(m.region.clone()),
                Value::MaybeText(join_communities(&m.communities)),
                Value::Text(status.to_string()),
                Value::Text(role.to_string()),
                Value::Int(*joined_at),
                Value::Int(*joined_at),
            ]
        })
        .collect();
    insert_rows(conn, "members (display_name, email, region, communities, status, role, joined_at, updated_at)", rows)
        .await?;
    // Emails are unique, so they find the new ids whatever order the database assigned them in.
    let mut ids_by_email = std::collections::HashMap::with_capacity(members.len());
    for chunk in members.chunks(500) {
        let params = placeholders(conn, chunk.len());
        let sql = format!("SELECT id, email FROM members WHERE email IN ({})", params.join(", "));
        let mut q = sqlx::query_as::<Any, (i64, String)>(&sql).persistent(false);
        for (m, _) in chunk {
            q = q.bind(m.email.as_str().to_string());
        }
        ids_by_email.extend(q.fetch_all(&mut *conn).await?.into_iter().map(|(id, email)| (email, id)));
    }
    let mut ids = Vec::with_capacity(members.len());
    let mut consents: Vec<Vec<Value>> = Vec::new();
    let mut terms: Vec<Vec<Value>> = Vec::new();
    for (m, joined_at) in members {
        let id = *ids_by_email.get(m.email.as_str()).ok_or(sqlx::Error::RowNotFound)?;
        ids.push(id);
        for (purpose, granted) in &m.consents {
            consents.push(vec![
                Value::Int(id),
                Value::Text(purpose.key().into()),
                Value::Int(*granted as i64),
                Value::Text(CONSENT_WORDING_VERSION.into()),
                Value::Int(*joined_at),
            ]);
        }
        // A new member has no groups yet, so their terms come from what they gave us.
        let mut parts = vec![m.display_name.as_str(), m.email.as_str()];
        parts.extend(m.region.as_deref());
        parts.extend(m.communities.iter().map(String::as_str));
        terms.extend(
            search_terms(&parts)
                .into_iter()
                .map(|t| vec![Value::Text(t), Value::Int(id), Value::Text(m.display_name.clone())]),
        );
    }
    insert_rows(conn, "consents (member_id, purpose, granted, wording_version, recorded_at)", consents).await?;
    insert_rows(conn, "member_search_terms (term, member_id, sort_name)", terms).await?;
    Ok(ids)
}

/// A value for a multi-row insert.
pub enum Value {
    Int(i64),
    Text(String),
    MaybeText(Option<String>),
}

/// `INSERT INTO <target> VALUES (…), (…)` in chunks that stay under every database's parameter limit.
async fn insert_rows(conn: &mut AnyConnection, target: &str, rows: Vec<Vec<Value>>) -> Result<(), sqlx::Error> {
    let Some(width) = rows.first().map(Vec::len) else { return Ok(()) };
    // Large statements: few round trips. SQLite's parameters are bound by position (see
    // `placeholders`), so binding stays linear; both databases allow more than this many.
    let per_statement = (10_000 / width).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let params = placeholders(conn, chunk.len() * width);
        let tuples: Vec<String> = params.chunks(width).map(|row| format!("({})", row.join(", "))).collect();
        let sql = format!("INSERT INTO {target} VALUES {}", tuples.join(", "));
        // Not kept in the per-connection statement cache: these are large and rarely repeated.
        let mut q = sqlx::query::<Any>(&sql).persistent(false);
        for value in chunk.into_iter().flatten() {
            q = match value {
                Value::Int(i) => q.bind(i),
                Value::Text(t) => q.bind(t),
                Value::MaybeText(t) => q.bind(t),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn record_consent(
    conn: &mut AnyConnection,
    member_id: i64,
    purpose: Purpose,
    granted: bool,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consents (member_id, purpose, granted, wording_version, recorded_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(member_id)
    .bind(purpose.key())
    .bind(granted as i64)
    .bind(CONSENT_WORDING_VERSION)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ConsentRecord {
    pub purpose: String,
    pub granted: bool,
    pub wording_version: String,
    pub recorded_at: i64,
}

/// Every consent choice ever recorded for a member, oldest first.
pub async fn consent_history(db: &Db, member_id: i64) -> Result<Vec<ConsentRecord>, sqlx::Error> {
    let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT purpose, granted, wording_version, recorded_at FROM consents WHERE member_id = $1 ORDER BY id",
    )
    .bind(member_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(purpose, granted, wording_version, recorded_at)| ConsentRecord {
            purpose,
            granted: granted != 0,
            wording_version,
            recorded_at,
        })
        .collect())
}

/// The choice in force for each purpose: the latest record, or no.
pub async fn current_consents(db: &Db, member_id: i64) -> Result<Vec<(Purpose, bool)>, sqlx::Error> {
    let history = consent_history(db, member_id).await?;
    Ok(Purpose::ALL
        .iter()
        .map(|p| (*p, history.iter().rev().find(|c| c.purpose == p.key()).is_some_and(|c| c.granted)))
        .collect())
}

/// Rebuild the words a member is found by (after any change to name, email, region,
/// communities or groups).
pub async fn reindex(conn: &mut AnyConnection, member_id: i64) -> Result<(), sqlx::Error> {
    let row: Option<(Option<String>, Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT display_name, email, region, communities FROM members WHERE id = $1")
            .bind(member_id)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query("DELETE FROM member_search_terms WHERE member_id = $1").bind(member_id).execute(&mut *conn).await?;
    let Some((name, email, region, communities)) = row else { return Ok(()) };
    let groups: Vec<(String,)> =
        sqlx::query_as("SELECT g.name FROM groups g JOIN group_contacts c ON c.group_id = g.id WHERE c.member_id = $1")
            .bind(member_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut parts: Vec<&str> = [&name, &email, &region, &communities].iter().filter_map(|s| s.as_deref()).collect();
    parts.extend(groups.iter().map(|(g,)| g.as_str()));
    let sort_name = name.clone().unwrap_or_default();
    let rows = search_terms(&parts)
        .into_iter()
        .map(|t| vec![Value::Text(t), Value::Int(member_id), Value::Text(sort_name.clone())])
        .collect();
    insert_rows(conn, "member_search_terms (term, member_id, sort_name)", rows).await
}

/// Remove a person's personal data everywhere it lives; keep an anonymous row so counts
/// (members ever joined, by join date) stay true. Audit entries keep only the numeric id.
/// Returns the address that was erased, or None when there was no such member.
pub async fn erase(db: &Db, member_id: i64) -> Result<Option<String>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let email: Option<Option<String>> =
        sqlx::query_scalar("SELECT email FROM members WHERE id = $1 AND status <> 'erased'")
            .bind(member_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(email) = email else { return Ok(None) };
    for table in ["sessions", "login_tokens", "consents", "member_search_terms", "group_contacts", "jobs"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE member_id = $1")).bind(member_id).execute(&mut *tx).await?;
    }
    crate::features::erase_member_data(&mut tx, member_id, email.as_deref()).await?;
    if let Some(email) = &email {
        crate::core::ratelimit::forget_address(&mut tx, email).await?;
        crate::core::jobs::forget_address(&mut tx, email).await?;
    }
    sqlx::query(
        "UPDATE members SET display_name = NULL, email = NULL, region = NULL, communities = NULL, password_hash = NULL, \
         access_needs_enc = NULL, staff_notes_enc = NULL, search_text = NULL, visibility = 'private', role = 'member', \
         status = 'erased', erased_at = $1, updated_at = $1 WHERE id = $2",
    )
    .bind(crate::core::time::now())
    .bind(member_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO counters (name, value) VALUES ('members_erased', 1) \
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(email.unwrap_or_default()))
}

#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub actor_name: Option<String>,
    pub action: String,
    pub subject_member_id: Option<i64>,
    pub detail: String,
    pub at: i64,
}

/// Audit entries about one member (for their download), or all (for admins), newest first.
pub async fn audit_entries(
    db: &Db,
    subject: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let filter = if subject.is_some() { "WHERE a.subject_member_id = $3" } else { "" };
    let sql = format!(
        "SELECT m.display_name, a.action, a.subject_member_id, a.detail, a.at FROM audit_log a \
         LEFT JOIN members m ON m.id = a.actor_id {filter} ORDER BY a.id DESC LIMIT $1 OFFSET $2"
    );
    let mut query =
        sqlx::query_as::<_, (Option<String>, String, Option<i64>, String, i64)>(&sql).bind(limit).bind(offset);
    if let Some(subject) = subject {
        query = query.bind(subject);
    }
    Ok(query
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(|(actor_name, action, subject_member_id, detail, at)| AuditEntry {
            actor_name,
            action,
            subject_member_id,
            detail,
            at,
        })
        .collect())
}

/// Groups a member is a contact for: (id, name).
pub async fn contact_groups(db: &Db, member_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT g.id, g.name FROM groups g JOIN group_contacts c ON c.group_id = g.id WHERE c.member_id = $1 ORDER BY g.name")
        .bind(member_id)
        .fetch_all(&db.pool)
        .await
}
