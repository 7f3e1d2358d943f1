//! Accounts: roles, sessions in the database, and single-use emailed sign-in links.
use sqlx::{Any, Executor};

use crate::core::{
    crypto::{hash_token, random_token},
    db::Db,
    time::now,
};

/// Sessions last 30 days from sign-in.
pub const SESSION_SECONDS: i64 = 30 * 24 * 3600;
/// Emailed sign-in links expire after 15 minutes.
pub const LINK_SECONDS: i64 = 15 * 60;
/// The first-admin setup link lasts a day.
pub const SETUP_SECONDS: i64 = 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Staff,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "staff" => Role::Staff,
            _ => Role::Member,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Joined, email not yet confirmed.
    Unconfirmed,
    /// Confirmed, waiting for staff review (reviewed approval mode).
    Pending,
    Active,
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s {
            "active" => Status::Active,
            "pending" => Status::Pending,
            _ => Status::Unconfirmed,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unconfirmed => "unconfirmed",
            Status::Pending => "pending",
            Status::Active => "active",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SessionUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub status: Status,
    pub csrf: String,
    pub session_hash: String,
}

impl SessionUser {
    pub fn is_staff(&self) -> bool {
        self.role >= Role::Staff
    }
}

pub async fn session_user(db: &Db, sid: &str) -> Result<Option<SessionUser>, sqlx::Error> {
    let hash = hash_token(sid);
    let row: Option<(i64, Option<String>, Option<String>, String, String, String)> = sqlx::query_as(
        "SELECT m.id, m.display_name, m.email, m.role, m.status, s.csrf_token FROM sessions s \
         JOIN members m ON m.id = s.member_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND m.status <> 'erased'",
    )
    .bind(&hash)
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id, name, email, role, status, csrf)| SessionUser {
        id,
        name: name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        role: Role::parse(&role),
        status: Status::parse(&status),
        csrf,
        session_hash: hash,
    }))
}

/// Start a session and return the cookie value (only its hash is stored).
pub async fn start_session(db: &Db, member_id: i64) -> Result<String, sqlx::Error> {
    let token = random_token();
    let t = now();
    sqlx::query(
        "INSERT INTO sessions (token_hash, member_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_token(&token))
    .bind(member_id)
    .bind(random_token())
    .bind(t)
    .bind(t + SESSION_SECONDS)
    .execute(&db.pool)
    .await?;
    Ok(token)
}

pub async fn end_session(db: &Db, session_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(session_hash).execute(&db.pool).await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    SignIn,
    Setup,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::SignIn => "sign_in",
            LinkPurpose::Setup => "setup",
        }
    }
    fn lifetime(self) -> i64 {
        match self {
            LinkPurpose::SignIn => LINK_SECONDS,
            LinkPurpose::Setup => SETUP_SECONDS,
        }
    }
}

/// Create a single-use link token; returns the token to put in the link.
pub async fn issue_link<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    member_id: Option<i64>,
    purpose: LinkPurpose,
) -> Result<String, sqlx::Error> {
    let token = random_token();
    let t = now();
    sqlx::query(
        "INSERT INTO login_tokens (token_hash, member_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_token(&token))
    .bind(member_id)
    .bind(purpose.as_str())
    .bind(t)
    .bind(t + purpose.lifetime())
    .execute(executor)
    .await?;
    Ok(token)
}

#[derive(Debug, PartialEq, Eq)]
pub enum LinkState {
    Valid,
    UsedOrExpired,
}

/// Whether a link still works, without using it (for the page that shows the button).
pub async fn check_link(db: &Db, token: &str, purpose: LinkPurpose) -> Result<LinkState, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT created_at FROM login_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(hash_token(token))
    .bind(purpose.as_str())
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    Ok(if found.is_some() { LinkState::Valid } else { LinkState::UsedOrExpired })
}

/// Use a link: succeeds once, within its lifetime. Returns the member it belongs to (None for setup).
pub async fn redeem_link(db: &Db, token: &str, purpose: LinkPurpose) -> Result<Option<Option<i64>>, sqlx::Error> {
    let t = now();
    sqlx::query_scalar(
        "UPDATE login_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING member_id",
    )
    .bind(t)
    .bind(hash_token(token))
    .bind(purpose.as_str())
    .fetch_optional(&db.pool)
    .await
}

pub async fn admin_exists(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE role = 'admin' AND status <> 'erased'")
        .fetch_one(&db.pool)
        .await?;
    Ok(n > 0)
}
