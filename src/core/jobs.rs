//! The durable job table behind all background work.
//!
//! A job is claimed by one `UPDATE … RETURNING` that sets a lease (`locked_until`); on
//! PostgreSQL the inner select adds `FOR UPDATE SKIP LOCKED`, so two instances never claim the
//! same row. A process killed mid-job leaves a lease that expires, and the job runs again:
//! work is at-least-once, and a mail job in flight at a crash may be sent twice at most.
use std::{sync::Arc, time::Duration};

use serde::Serialize;
use sqlx::{Any, Executor};
use tokio::sync::Notify;

use crate::core::{
    db::Db,
    mail::{Email, MailError, Mailer},
    time::now,
};

/// How long a claimed job is ours before another worker may take it over.
const LEASE_SECONDS: i64 = 300;

pub const KIND_MAIL: &str = "mail";

#[derive(Debug)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Queue a job inside the caller's transaction, so it exists exactly when the change that
/// caused it does. `member_id` ties it to a person, so erasure can remove it.
pub async fn enqueue<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    kind: &str,
    payload: &impl Serialize,
    member_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let payload = serde_json::to_string(payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let t = now();
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, member_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', 0, 6, $4, $4, $4) RETURNING id",
    )
    .bind(kind)
    .bind(payload)
    .bind(member_id)
    .bind(t)
    .fetch_one(executor)
    .await
}

pub async fn enqueue_mail<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    email: &Email,
    member_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    enqueue(executor, KIND_MAIL, email, member_id).await
}

pub async fn claim(db: &Db) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let t = now();
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $2) \
                       OR (status = 'running' AND locked_until < $2) ORDER BY run_at, id LIMIT 1 {}) \
         RETURNING id, kind, payload, attempts, max_attempts",
        db.skip_locked()
    );
    let row: Option<(i64, String, String, i64, i64)> =
        sqlx::query_as(&sql).bind(t + LEASE_SECONDS).bind(t).fetch_optional(&db.pool).await?;
    Ok(row.map(|(id, kind, payload, attempts, max_attempts)| ClaimedJob { id, kind, payload, attempts, max_attempts }))
}

/// A finished job keeps no payload: the message it carried is personal data no longer needed.
async fn mark_done(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET status = 'done', payload = '{}', locked_until = NULL, last_error = NULL, updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

async fn mark_failed(db: &Db, job: &ClaimedJob, error: &str, permanent: bool) -> Result<(), sqlx::Error> {
    let t = now();
    if permanent || job.attempts >= job.max_attempts {
        sqlx::query(
            "UPDATE jobs SET status = 'failed', locked_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(t)
        .bind(job.id)
        .execute(&db.pool)
        .await?;
    } else {
        sqlx::query("UPDATE jobs SET status = 'queued', locked_until = NULL, last_error = $1, run_at = $2, updated_at = $3 WHERE id = $4")
            .bind(error)
            .bind(t + backoff_seconds(job.attempts))
            .bind(t)
            .bind(job.id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// 30 s, 1 min, 2 min … capped at an hour.
pub fn backoff_seconds(attempts: i64) -> i64 {
    (30i64 << (attempts.clamp(1, 10) - 1)).min(3600)
}

#[derive(Debug)]
enum JobError {
    Retry(String),
    Permanent(String),
}

/// Runs jobs until the process ends. Woken early by `notify` when something is queued here.
pub struct Worker {
    pub db: Db,
    pub mailer: Mailer,
    pub notify: Arc<Notify>,
    pub idle_poll: Duration,
}

impl Worker {
    pub async fn run(self) {
        loop {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "job worker could not reach the database"),
            }
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(self.idle_poll) => {}
            }
        }
    }

    /// Claim and run one job; false when none was ready.
    pub async fn run_one(&self) -> Result<bool, sqlx::Error> {
        let Some(job) = claim(&self.db).await? else { return Ok(false) };
        match self.execute(&job).await {
            Ok(()) => mark_done(&self.db, job.id).await?,
            Err(JobError::Retry(e)) => {
                tracing::warn!(job = job.id, kind = %job.kind, error = %e, "job failed; will retry");
                mark_failed(&self.db, &job, &e, false).await?
            }
            Err(JobError::Permanent(e)) => {
                tracing::warn!(job = job.id, kind = %job.kind, error = %e, "job failed permanently");
                mark_failed(&self.db, &job, &e, true).await?
            }
        }
        Ok(true)
    }

    async fn execute(&self, job: &ClaimedJob) -> Result<(), JobError> {
        match job.kind.as_str() {
            KIND_MAIL => {
                let email: Email =
                    serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
                self.mailer.send(&email, job.id).await.map_err(|e| match e {
                    MailError::Permanent(m) => JobError::Permanent(m),
                    MailError::Temporary(m) => JobError::Retry(m),
                })
            }
            other => Err(JobError::Permanent(format!("no handler for job kind '{other}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn backoff_doubles_from_thirty_seconds_and_caps_at_an_hour() {
        assert_eq!(backoff_seconds(1), 30);
        assert_eq!(backoff_seconds(2), 60);
        assert_eq!(backoff_seconds(3), 120);
        assert_eq!(backoff_seconds(20), 3600);
    }
}
