//! Bulletin items, the editorial record, guidelines and saved replies.
use sqlx::{any::AnyRow, AnyConnection, Row};

use super::domain::{Decision, ItemKind, ItemStatus, ValidDecision, ValidItem};
use crate::core::{
    db::Db,
    time::{human_date, now},
};

/// An item with who it is from and the issue it is in.
#[derive(Clone, Debug)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub link: Option<String>,
    pub closes_on: Option<String>,
    pub region: Option<String>,
    pub member_id: Option<i64>,
    pub group_id: Option<i64>,
    /// The group's name, else the member's, else what a non-member gave.
    pub from_name: Option<String>,
    pub submitter_email: Option<String>,
    pub written_by_staff: bool,
    pub edited_by_staff: bool,
    pub status: ItemStatus,
    pub issue_id: Option<i64>,
    pub issue_number: Option<i64>,
    pub position: i64,
    pub submitted_at: Option<i64>,
    pub updated_at: i64,
}

impl Item {
    fn from_row(row: &AnyRow) -> Result<Item, sqlx::Error> {
        Ok(Item {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            link: row.try_get("link")?,
            closes_on: row.try_get("closes_on")?,
            region: row.try_get("region")?,
            member_id: row.try_get("member_id")?,
            group_id: row.try_get("group_id")?,
            from_name: row.try_get("from_name")?,
            submitter_email: row.try_get("submitter_email")?,
            written_by_staff: row.try_get::<i64, _>("written_by_staff")? != 0,
            edited_by_staff: row.try_get::<i64, _>("edited_by_staff")? != 0,
            status: ItemStatus::parse(&row.try_get::<String, _>("status")?),
            issue_id: row.try_get("issue_id")?,
            issue_number: row.try_get("issue_number")?,
            position: row.try_get("position")?,
            submitted_at: row.try_get("submitted_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    pub fn status_text(&self) -> String {
        self.status.describe(self.issue_number)
    }

    pub fn submitted_on(&self) -> String {
        self.submitted_at.map(human_date).unwrap_or_default()
    }

    pub fn kind_label(&self) -> &'static str {
        ItemKind::parse(&self.kind).map_or("Item", ItemKind::label)
    }
}

const ITEM_SELECT: &str = "SELECT i.id, i.kind, i.title, i.description, i.link, i.closes_on, i.region, i.member_id, \
     i.group_id, CASE WHEN i.written_by_staff = 1 THEN g.name ELSE COALESCE(g.name, m.display_name, i.submitter_name) END AS from_name, i.submitter_email, \
     i.written_by_staff, i.edited_by_staff, i.status, i.issue_id, bi.number AS issue_number, i.position, \
     i.submitted_at, i.updated_at \
     FROM bulletin_items i LEFT JOIN members m ON m.id = i.member_id LEFT JOIN groups g ON g.id = i.group_id \
     LEFT JOIN bulletin_issues bi ON bi.id = i.issue_id";

/// Items matching `filter` (a WHERE clause over `i`, with `$n` placeholders for `binds`, which
/// are all text: compare them with text columns only).
pub async fn items_where(
    db: &Db,
    filter: &str,
    binds: &[String],
    order: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Item>, sqlx::Error> {
    let sql = format!("{ITEM_SELECT} WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    q.fetch_all(&db.pool).await?.iter().map(Item::from_row).collect()
}

pub async fn item(db: &Db, id: i64) -> Result<Option<Item>, sqlx::Error> {
    let sql = format!("{ITEM_SELECT} WHERE i.id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?.as_ref().map(Item::from_row).transpose()
}

/// A member's own submissions, newest first.
pub async fn items_of_member(db: &Db, member_id: i64) -> Result<Vec<Item>, sqlx::Error> {
    let sql = format!("{ITEM_SELECT} WHERE i.member_id = $1 ORDER BY i.id DESC");
    sqlx::query(&sql).bind(member_id).fetch_all(&db.pool).await?.iter().map(Item::from_row).collect()
}

/// Who sent an item, as it is stored.
pub enum Sender<'a> {
    Member(i64),
    Staff(i64),
    /// Someone without an account: a name and an email (open submissions).
    Visitor {
        name: &'a str,
        email: &'a str,
    },
}

pub async fn insert_item(
    conn: &mut AnyConnection,
    item: &ValidItem,
    sender: Sender<'_>,
    status: ItemStatus,
) -> Result<i64, sqlx::Error> {
    let t = now();
    let (member, by_staff, name, email) = match sender {
        Sender::Member(id) => (Some(id), false, None, None),
        Sender::Staff(id) => (Some(id), true, None, None),
        Sender::Visitor { name, email } => (None, false, Some(name), Some(email)),
    };
    sqlx::query_scalar(
        "INSERT INTO bulletin_items (kind, title, description, link, closes_on, region, member_id, group_id, \
         submitter_name, submitter_email, written_by_staff, edited_by_staff, status, position, submitted_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, 0, $13, $14, $14) RETURNING id",
    )
    .bind(item.kind.key())
    .bind(&item.title)
    .bind(&item.description)
    .bind(&item.link)
    .bind(&item.closes_on)
    .bind(&item.region)
    .bind(member)
    .bind(item.group_id)
    .bind(name)
    .bind(email)
    .bind(by_staff as i64)
    .bind(status.key())
    .bind((status != ItemStatus::Draft).then_some(t))
    .bind(t)
    .fetch_one(conn)
    .await
}

/// Change an item's text. `by_staff` marks it as edited by the editorial team, so the sender
/// knows the version they see is not quite theirs.
pub async fn update_item(
    conn: &mut AnyConnection,
    id: i64,
    item: &ValidItem,
    status: ItemStatus,
    by_staff: bool,
) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "UPDATE bulletin_items SET kind = $1, title = $2, description = $3, link = $4, closes_on = $5, region = $6, \
         group_id = $7, status = $8, edited_by_staff = CASE WHEN $9 = 1 THEN 1 ELSE edited_by_staff END, \
         submitted_at = CASE WHEN $8 = 'draft' THEN submitted_at ELSE $10 END, updated_at = $10 WHERE id = $11",
    )
    .bind(item.kind.key())
    .bind(&item.title)
    .bind(&item.description)
    .bind(&item.link)
    .bind(&item.closes_on)
    .bind(&item.region)
    .bind(item.group_id)
    .bind(status.key())
    .bind(by_staff as i64)
    .bind(t)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(conn: &mut AnyConnection, id: i64, status: ItemStatus) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bulletin_items SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.key())
        .bind(now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// One editorial decision as the record keeps it.
#[derive(Clone, Debug)]
pub struct DecisionRecord {
    /// The staff member who decided (None once their account is erased).
    pub decided_by: Option<String>,
    pub decision: String,
    pub message: String,
    pub reasoning: String,
    pub guidelines: Vec<String>,
    pub issue_number: Option<i64>,
    pub decided_at: i64,
}

impl DecisionRecord {
    pub fn decided_on(&self) -> String {
        human_date(self.decided_at)
    }

    pub fn label(&self) -> &'static str {
        Decision::describe(&self.decision)
    }
}

/// Record a decision with the guideline points that applied, and move the item on. An
/// acceptance puts the item in `issue` (or leaves it for the next issue to gather).
pub async fn record_decision(
    conn: &mut AnyConnection,
    item_id: i64,
    decided_by: i64,
    decision: &ValidDecision,
) -> Result<i64, sqlx::Error> {
    let t = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO bulletin_decisions (item_id, decided_by, decision, message, reasoning, issue_id, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(item_id)
    .bind(decided_by)
    .bind(decision.decision.key())
    .bind(&decision.message)
    .bind(&decision.reasoning)
    .bind(decision.issue)
    .bind(t)
    .fetch_one(&mut *conn)
    .await?;
    for g in &decision.guidelines {
        sqlx::query(
            "INSERT INTO bulletin_decision_guidelines (decision_id, guideline_id) \
             SELECT $1, id FROM bulletin_guidelines WHERE id = $2 ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(g)
        .execute(&mut *conn)
        .await?;
    }
    let position = match decision.issue {
        Some(issue) => next_position(conn, issue).await?,
        None => 0,
    };
    sqlx::query("UPDATE bulletin_items SET status = $1, issue_id = $2, position = $3, updated_at = $4 WHERE id = $5")
        .bind(decision.decision.status().key())
        .bind(decision.issue)
        .bind(position)
        .bind(t)
        .bind(item_id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// The position after the last item of an issue.
pub async fn next_position(conn: &mut AnyConnection, issue_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM bulletin_items WHERE issue_id = $1")
        .bind(issue_id)
        .fetch_one(conn)
        .await
}

pub async fn decisions_of(db: &Db, item_id: i64) -> Result<Vec<DecisionRecord>, sqlx::Error> {
    let rows: Vec<(i64, Option<String>, String, String, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT d.id, m.display_name, d.decision, d.message, d.reasoning, bi.number, d.decided_at \
         FROM bulletin_decisions d LEFT JOIN members m ON m.id = d.decided_by \
         LEFT JOIN bulletin_issues bi ON bi.id = d.issue_id WHERE d.item_id = $1 ORDER BY d.id",
    )
    .bind(item_id)
    .fetch_all(&db.pool)
    .await?;
    let points: Vec<(i64, String)> = sqlx::query_as(
        "SELECT dg.decision_id, g.text FROM bulletin_decision_guidelines dg \
         JOIN bulletin_guidelines g ON g.id = dg.guideline_id \
         JOIN bulletin_decisions d ON d.id = dg.decision_id WHERE d.item_id = $1 ORDER BY g.position, g.id",
    )
    .bind(item_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, decided_by, decision, message, reasoning, issue_number, decided_at)| DecisionRecord {
            decided_by,
            decision,
            message,
            reasoning,
            guidelines: points.iter().filter(|(d, _)| *d == id).map(|(_, t)| t.clone()).collect(),
            issue_number,
            decided_at,
        })
        .collect())
}

/// Editorial guidelines in force: (id, text).
pub async fn guidelines(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, text FROM bulletin_guidelines WHERE retired_at IS NULL ORDER BY position, id")
        .fetch_all(&db.pool)
        .await
}

pub async fn add_guideline(db: &Db, text: &str) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "INSERT INTO bulletin_guidelines (text, position, created_at) \
         SELECT $1, COALESCE(MAX(position), 0) + 1, $2 FROM bulletin_guidelines",
    )
    .bind(text)
    .bind(t)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A retired guideline leaves the checklist but stays in the decisions that cited it.
pub async fn retire_guideline(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bulletin_guidelines SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL")
        .bind(now())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Saved replies: (id, name, body).
pub async fn reply_templates(db: &Db) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, body FROM bulletin_reply_templates ORDER BY name, id").fetch_all(&db.pool).await
}

pub async fn add_reply_template(db: &Db, name: &str, body: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO bulletin_reply_templates (name, body, created_at) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(body)
        .bind(now())
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete_reply_template(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM bulletin_reply_templates WHERE id = $1").bind(id).execute(&db.pool).await?;
    Ok(())
}
