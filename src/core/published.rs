//! Figures about people, kept exactly as they were published. A closed period's figures are
//! published once and then read back from here, never recounted in public: a recount after the
//! data changed, set beside the first count, would single out whoever changed it. A deliberate
//! republication (after staff correct the data) must pass
//! [`crate::core::disclosure::refused_republication`] first.
use serde::{de::DeserializeOwned, Serialize};

use crate::core::{db::Db, time::now};

/// What was published for `scope` (e.g. `grants-round-12`), if anything.
pub async fn get<T: DeserializeOwned>(db: &Db, scope: &str) -> Result<Option<T>, sqlx::Error> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM published_statistics WHERE scope = $1")
        .bind(scope)
        .fetch_optional(&db.pool)
        .await?;
    body.map(|b| serde_json::from_str(&b).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
}

/// Keep `figures` as the publication for `scope` unless one exists already (two instances
/// publishing at once keep the first), and return what is kept.
pub async fn first<T: Serialize + DeserializeOwned>(db: &Db, scope: &str, figures: T) -> Result<T, sqlx::Error> {
    let body = serde_json::to_string(&figures).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO published_statistics (scope, body, published_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (scope) DO NOTHING",
    )
    .bind(scope)
    .bind(body)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(get(db, scope).await?.unwrap_or(figures))
}

/// Replace the publication for `scope` (the caller has checked the change is safe).
pub async fn replace<T: Serialize>(db: &Db, scope: &str, figures: &T) -> Result<(), sqlx::Error> {
    let body = serde_json::to_string(figures).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("UPDATE published_statistics SET body = $1, updated_at = $2 WHERE scope = $3")
        .bind(body)
        .bind(now())
        .bind(scope)
        .execute(&db.pool)
        .await?;
    Ok(())
}
