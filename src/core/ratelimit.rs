//! Fixed-window rate limits kept in the database, so instances sharing PostgreSQL share limits.
use sqlx::AnyConnection;

use crate::core::{db::Db, error::AppError, time::now};

pub const WINDOW_SECONDS: i64 = 15 * 60;

/// Count one attempt against `bucket` and fail when it goes over `limit` in this window.
pub async fn hit(db: &Db, bucket: &str, limit: i64) -> Result<(), AppError> {
    let t = now();
    let window = t - t.rem_euclid(WINDOW_SECONDS);
    let hits: i64 = sqlx::query_scalar(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
    )
    .bind(bucket)
    .bind(window)
    .fetch_one(&db.pool)
    .await?;
    // Old windows hold addresses; drop them as soon as they no longer count.
    if hits == 1 {
        sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(window).execute(&db.pool).await?;
    }
    if hits > limit {
        Err(AppError::RateLimited)
    } else {
        Ok(())
    }
}

/// Buckets are keyed by address for their 15-minute window: erasing an address removes them.
pub async fn forget_address(conn: &mut AnyConnection, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM rate_limits WHERE bucket LIKE $1 ESCAPE '\\'")
        .bind(format!("%:email:{}", crate::core::db::like_literal(email)))
        .execute(conn)
        .await?;
    Ok(())
}
