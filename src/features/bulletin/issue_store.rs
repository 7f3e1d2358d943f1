//! Issues: composing them from accepted items, ordering, scheduling.
use sqlx::{any::AnyRow, AnyConnection, Row};

use super::store::Item;
use crate::core::{db::Db, time::now};

#[derive(Clone, Debug)]
pub struct Issue {
    pub id: i64,
    pub list_id: i64,
    pub list_name: String,
    /// Only lists of members gather accepted submissions.
    pub list_is_members: bool,
    pub number: i64,
    pub title: String,
    pub editor_note: String,
    pub members_only: bool,
    /// draft, scheduled or sent.
    pub status: String,
    pub send_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub recipients: Option<i64>,
}

impl Issue {
    fn from_row(row: &AnyRow) -> Result<Issue, sqlx::Error> {
        Ok(Issue {
            id: row.try_get("id")?,
            list_id: row.try_get("list_id")?,
            list_name: row.try_get("list_name")?,
            list_is_members: row.try_get::<String, _>("audience")? == "members",
            number: row.try_get("number")?,
            title: row.try_get("title")?,
            editor_note: row.try_get("editor_note")?,
            members_only: row.try_get::<i64, _>("members_only")? != 0,
            status: row.try_get("status")?,
            send_at: row.try_get("send_at")?,
            sent_at: row.try_get("sent_at")?,
            recipients: row.try_get("recipients")?,
        })
    }

    pub fn is_draft(&self) -> bool {
        self.status == "draft"
    }
}

const ISSUE_SELECT: &str = "SELECT bi.id, bi.list_id, l.name AS list_name, l.audience, bi.number, bi.title, \
     bi.editor_note, bi.members_only, bi.status, bi.send_at, bi.sent_at, bi.recipients \
     FROM bulletin_issues bi JOIN mailing_lists l ON l.id = bi.list_id";

pub async fn issue(db: &Db, id: i64) -> Result<Option<Issue>, sqlx::Error> {
    let sql = format!("{ISSUE_SELECT} WHERE bi.id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?.as_ref().map(Issue::from_row).transpose()
}

/// A sent issue of a list by its number: the archive's stable address.
pub async fn sent_issue(db: &Db, list_slug: &str, number: i64) -> Result<Option<Issue>, sqlx::Error> {
    let sql = format!("{ISSUE_SELECT} WHERE l.slug = $1 AND bi.number = $2 AND bi.sent_at IS NOT NULL");
    sqlx::query(&sql)
        .bind(list_slug)
        .bind(number)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(Issue::from_row)
        .transpose()
}

/// Every issue, newest first (staff).
pub async fn issues(db: &Db) -> Result<Vec<Issue>, sqlx::Error> {
    let sql = format!("{ISSUE_SELECT} ORDER BY bi.id DESC LIMIT 200");
    sqlx::query(&sql).fetch_all(&db.pool).await?.iter().map(Issue::from_row).collect()
}

/// Sent issues of a list, newest first (the public archive).
pub async fn sent_issues(db: &Db, list_slug: &str, limit: i64, offset: i64) -> Result<Vec<Issue>, sqlx::Error> {
    let sql = format!(
        "{ISSUE_SELECT} WHERE l.slug = $1 AND bi.sent_at IS NOT NULL ORDER BY bi.number DESC LIMIT {limit} OFFSET {offset}"
    );
    sqlx::query(&sql).bind(list_slug).fetch_all(&db.pool).await?.iter().map(Issue::from_row).collect()
}

/// Draft issues of member lists, which accepted items can be put in: (id, label).
pub async fn draft_issues(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT bi.id, bi.number, bi.title FROM bulletin_issues bi JOIN mailing_lists l ON l.id = bi.list_id \
         WHERE bi.status = 'draft' AND l.audience = 'members' ORDER BY bi.number",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id, n, title)| (id, format!("Issue {n}: {title}"))).collect())
}

/// The draft issue accepted items go to when staff choose "the next issue".
pub async fn next_draft_issue(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT bi.id FROM bulletin_issues bi JOIN mailing_lists l ON l.id = bi.list_id \
         WHERE bi.status = 'draft' AND l.audience = 'members' ORDER BY bi.number LIMIT 1",
    )
    .fetch_optional(conn)
    .await
}

/// Start a new issue of a list. An issue of a members' list gathers every accepted item that
/// is not yet in an issue and has not closed.
pub async fn create_issue(conn: &mut AnyConnection, list_id: i64, today: &str) -> Result<i64, sqlx::Error> {
    let t = now();
    let (number, name, audience): (i64, String, String) = sqlx::query_as(
        "SELECT COALESCE((SELECT MAX(number) FROM bulletin_issues WHERE list_id = $1), 0) + 1, name, audience \
         FROM mailing_lists WHERE id = $1",
    )
    .bind(list_id)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO bulletin_issues (list_id, number, title, editor_note, members_only, status, created_at, updated_at) \
         VALUES ($1, $2, $3, '', 0, 'draft', $4, $4) RETURNING id",
    )
    .bind(list_id)
    .bind(number)
    .bind(format!("{name} {number}"))
    .bind(t)
    .fetch_one(&mut *conn)
    .await?;
    if audience == "members" {
        sqlx::query(
            "UPDATE bulletin_items SET issue_id = $1, position = id, updated_at = $2 \
             WHERE status = 'accepted' AND issue_id IS NULL AND (closes_on IS NULL OR closes_on >= $3)",
        )
        .bind(id)
        .bind(t)
        .bind(today)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// The items of an issue in their order (sections are made from their kinds).
pub async fn issue_items(db: &Db, issue_id: i64) -> Result<Vec<Item>, sqlx::Error> {
    // The id is a number: safe in the SQL text (the filter's binds are text).
    super::store::items_where(db, &format!("i.issue_id = {issue_id}"), &[], "i.position, i.id", 500, 0).await
}

/// Accepted items waiting for an issue.
pub async fn unassigned_items(db: &Db) -> Result<Vec<Item>, sqlx::Error> {
    super::store::items_where(db, "i.status = 'accepted' AND i.issue_id IS NULL", &[], "i.id", 500, 0).await
}

/// Move an item one place up or down within its section (items of its kind in the issue).
pub async fn move_item(conn: &mut AnyConnection, issue_id: i64, item_id: i64, up: bool) -> Result<(), sqlx::Error> {
    let (comparison, order) = if up { ("<", "DESC") } else { (">", "ASC") };
    let sql = format!(
        "SELECT o.id, o.position, i.position FROM bulletin_items i JOIN bulletin_items o \
         ON o.issue_id = i.issue_id AND o.kind = i.kind AND o.position {comparison} i.position \
         WHERE i.id = $1 AND i.issue_id = $2 ORDER BY o.position {order} LIMIT 1"
    );
    let neighbour: Option<(i64, i64, i64)> =
        sqlx::query_as(&sql).bind(item_id).bind(issue_id).fetch_optional(&mut *conn).await?;
    if let Some((other, other_position, position)) = neighbour {
        for (id, to) in [(item_id, other_position), (other, position)] {
            sqlx::query("UPDATE bulletin_items SET position = $1 WHERE id = $2")
                .bind(to)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Take an item out of an issue: it stays accepted and waits for the next one.
pub async fn remove_item(conn: &mut AnyConnection, issue_id: i64, item_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bulletin_items SET issue_id = NULL, position = 0, updated_at = $1 WHERE id = $2 AND issue_id = $3",
    )
    .bind(now())
    .bind(item_id)
    .bind(issue_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn add_item(conn: &mut AnyConnection, issue_id: i64, item_id: i64) -> Result<(), sqlx::Error> {
    let position = super::store::next_position(conn, issue_id).await?;
    sqlx::query(
        "UPDATE bulletin_items SET issue_id = $1, position = $2, updated_at = $3 \
         WHERE id = $4 AND status = 'accepted' AND issue_id IS NULL",
    )
    .bind(issue_id)
    .bind(position)
    .bind(now())
    .bind(item_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_issue(
    conn: &mut AnyConnection,
    id: i64,
    title: &str,
    editor_note: &str,
    members_only: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bulletin_issues SET title = $1, editor_note = $2, members_only = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(title)
    .bind(editor_note)
    .bind(members_only as i64)
    .bind(now())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mailing lists: (id, name, audience).
pub async fn lists(db: &Db) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, audience FROM mailing_lists ORDER BY id").fetch_all(&db.pool).await
}
