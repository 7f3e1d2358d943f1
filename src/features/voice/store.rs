//! Queries about letters, their signatures and co-signing organisations.
use sqlx::{any::AnyRow, AnyConnection, Row};

use super::domain::{LetterStatus, ShownSigner, ValidLetter};
use crate::core::db::Db;

#[derive(Debug, Clone)]
pub struct Letter {
    pub id: i64,
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub addressee: String,
    pub goal: Option<i64>,
    pub published_with: String,
    pub status: String,
    pub closes_on: Option<String>,
    pub closed_at: Option<i64>,
}

impl Letter {
    fn from_row(row: &AnyRow) -> Result<Letter, sqlx::Error> {
        Ok(Letter {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            kind: row.try_get("kind")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            addressee: row.try_get("addressee")?,
            goal: row.try_get("goal")?,
            published_with: row.try_get("published_with")?,
            status: row.try_get("status")?,
            closes_on: row.try_get("closes_on")?,
            closed_at: row.try_get("closed_at")?,
        })
    }

    pub fn is_open(&self) -> bool {
        self.status == LetterStatus::Open.key()
    }

    pub fn is_public(&self) -> bool {
        self.status != LetterStatus::Draft.key()
    }

    pub fn status_label(&self) -> &'static str {
        LetterStatus::parse(&self.status).map(LetterStatus::label).unwrap_or("")
    }

    pub fn kind_label(&self) -> &'static str {
        if self.kind == "petition" {
            "Petition"
        } else {
            "Open letter"
        }
    }
}

const LETTER_COLUMNS: &str =
    "id, slug, kind, title, body, addressee, goal, published_with, status, closes_on, closed_at";

pub async fn letter_by_slug(db: &Db, slug: &str) -> Result<Option<Letter>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {LETTER_COLUMNS} FROM letters WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(Letter::from_row).transpose()
}

pub async fn letter(db: &Db, id: i64) -> Result<Option<Letter>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {LETTER_COLUMNS} FROM letters WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(Letter::from_row).transpose()
}

/// Letters with their confirmed counts, newest first; `public_only` leaves out drafts.
pub async fn letters(db: &Db, public_only: bool) -> Result<Vec<(Letter, i64)>, sqlx::Error> {
    let filter = if public_only { "WHERE l.status <> 'draft'" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT l.{}, (SELECT COUNT(*) FROM letter_signatures s WHERE s.letter_id = l.id AND s.confirmed_at IS NOT NULL) AS signed \
         FROM letters l {filter} ORDER BY l.status = 'open' DESC, l.id DESC",
        LETTER_COLUMNS.replace(", ", ", l.")
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| Ok((Letter::from_row(r)?, r.try_get("signed")?))).collect()
}

/// A slug from the title, made unique with a number when needed.
async fn free_slug(conn: &mut AnyConnection, title: &str) -> Result<String, sqlx::Error> {
    let base: String = title
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    let base = if base.is_empty() { "letter".to_string() } else { base };
    let mut slug = base.clone();
    for n in 2.. {
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM letters WHERE slug = $1").bind(&slug).fetch_optional(&mut *conn).await?;
        if taken.is_none() {
            break;
        }
        slug = format!("{base}-{n}");
    }
    Ok(slug)
}

pub async fn insert_letter(conn: &mut AnyConnection, letter: &ValidLetter, at: i64) -> Result<i64, sqlx::Error> {
    let slug = free_slug(conn, &letter.title).await?;
    sqlx::query_scalar(
        "INSERT INTO letters (slug, kind, title, body, addressee, goal, published_with, status, closes_on, closed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(slug)
    .bind(letter.kind)
    .bind(&letter.title)
    .bind(&letter.body)
    .bind(&letter.addressee)
    .bind(letter.goal)
    .bind(&letter.published_with)
    .bind(letter.status.key())
    .bind(&letter.closes_on)
    .bind(closed_at(letter.status, None, at))
    .bind(at)
    .fetch_one(conn)
    .await
}

/// When a letter stopped taking signatures: kept from the first close, cleared on reopening.
fn closed_at(status: LetterStatus, before: Option<i64>, at: i64) -> Option<i64> {
    match status {
        LetterStatus::Closed | LetterStatus::Delivered => Some(before.unwrap_or(at)),
        LetterStatus::Draft | LetterStatus::Open => None,
    }
}

pub async fn update_letter(db: &Db, old: &Letter, letter: &ValidLetter, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE letters SET kind = $1, title = $2, body = $3, addressee = $4, goal = $5, published_with = $6, \
         status = $7, closes_on = $8, closed_at = $9, updated_at = $10 WHERE id = $11",
    )
    .bind(letter.kind)
    .bind(&letter.title)
    .bind(&letter.body)
    .bind(&letter.addressee)
    .bind(letter.goal)
    .bind(&letter.published_with)
    .bind(letter.status.key())
    .bind(&letter.closes_on)
    .bind(closed_at(letter.status, old.closed_at, at))
    .bind(at)
    .bind(old.id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// (confirmed, awaiting confirmation) signatures of a letter.
pub async fn counts(db: &Db, letter_id: i64) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN confirmed_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN confirmed_at IS NULL THEN 1 ELSE 0 END), 0) FROM letter_signatures WHERE letter_id = $1",
    )
    .bind(letter_id)
    .fetch_one(&db.pool)
    .await
}

/// Confirmed signers who chose to be named, oldest first, one page; and how many chose not to be.
pub async fn shown_signers(
    db: &Db,
    letter_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ShownSigner>, i64), sqlx::Error> {
    let rows: Vec<SignerRow> = sqlx::query_as(
        "SELECT display, name, organisation, role, place, comment FROM letter_signatures \
         WHERE letter_id = $1 AND confirmed_at IS NOT NULL AND display <> 'hidden' ORDER BY confirmed_at, id LIMIT $2 OFFSET $3",
    )
    .bind(letter_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?;
    let hidden: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM letter_signatures WHERE letter_id = $1 AND confirmed_at IS NOT NULL AND display = 'hidden'",
    )
    .bind(letter_id)
    .fetch_one(&db.pool)
    .await?;
    Ok((rows.into_iter().filter_map(shown).collect(), hidden))
}

type SignerRow = (String, String, Option<String>, Option<String>, Option<String>, Option<String>);

fn shown((display, name, organisation, role, place, comment): SignerRow) -> Option<ShownSigner> {
    ShownSigner::of(&display, &name, organisation, role, place, comment)
}

/// Every confirmed signer for delivery, in signing order: None for one not named.
pub async fn all_signers(db: &Db, letter_id: i64) -> Result<Vec<(Option<ShownSigner>, i64)>, sqlx::Error> {
    let rows: Vec<(String, String, Option<String>, Option<String>, Option<String>, Option<String>, i64)> =
        sqlx::query_as(
            "SELECT display, name, organisation, role, place, comment, confirmed_at FROM letter_signatures \
             WHERE letter_id = $1 AND confirmed_at IS NOT NULL ORDER BY confirmed_at, id",
        )
        .bind(letter_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(d, n, o, r, p, c, at)| (shown((d, n, o, r, p, c)), at)).collect())
}

/// Co-signing organisations: (name, is a network group).
pub async fn cosigners(db: &Db, letter_id: i64) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT name, group_id FROM letter_cosigners WHERE letter_id = $1 ORDER BY created_at, id")
            .bind(letter_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(n, g)| (n, g.is_some())).collect())
}

/// Add a co-signing organisation; a group that already co-signed is left as it is.
pub async fn add_cosigner(
    db: &Db,
    letter_id: i64,
    group_id: Option<i64>,
    name: &str,
    signed_by: Option<i64>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO letter_cosigners (letter_id, group_id, name, signed_by, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (letter_id, group_id) DO NOTHING",
    )
    .bind(letter_id)
    .bind(group_id)
    .bind(name)
    .bind(signed_by)
    .bind(at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A signature as staff see it when looking for one to remove.
pub struct FoundSignature {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub organisation: Option<String>,
    pub comment: Option<String>,
    pub confirmed: bool,
}

/// Up to `limit` of a letter's signatures whose name or address contains `text` (any case),
/// newest first.
pub async fn find_signatures(
    db: &Db,
    letter_id: i64,
    text: &str,
    limit: i64,
) -> Result<Vec<FoundSignature>, sqlx::Error> {
    let pattern = format!("%{}%", crate::core::db::like_literal(&text.to_lowercase()));
    let rows: Vec<(i64, String, Option<String>, Option<String>, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT id, name, email, organisation, comment, confirmed_at FROM letter_signatures \
         WHERE letter_id = $1 AND (LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(email) LIKE $2 ESCAPE '\\') \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(letter_id)
    .bind(pattern)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, email, organisation, comment, confirmed)| FoundSignature {
            id,
            name,
            email,
            organisation,
            comment,
            confirmed: confirmed.is_some(),
        })
        .collect())
}

/// Remove one signature and the emails queued about it (unless one is being sent this moment);
/// false when the letter has no such signature.
pub async fn remove_signature(conn: &mut AnyConnection, letter_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let gone = sqlx::query("DELETE FROM letter_signatures WHERE id = $1 AND letter_id = $2")
        .bind(id)
        .bind(letter_id)
        .execute(&mut *conn)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(false);
    }
    super::writer::forget_jobs_of(conn, &[id]).await?;
    Ok(true)
}
