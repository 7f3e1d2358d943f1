//! The durable job table behind all background work.
//!
//! A job is claimed by one `UPDATE … RETURNING` that sets a lease (`locked_until`); on
//! PostgreSQL the inner select adds `FOR UPDATE SKIP LOCKED`, so two instances never claim the
//! same row. A process killed mid-job leaves a lease that expires, and the job runs again:
//! work is at-least-once, and a job in flight at a crash may run twice at most (for mail: one
//! message per worker lane that was mid-send).
//!
//! Each kind of job has a handler, registered by its area in [`Handlers`]; the worker runs
//! several lanes at once so slow mail servers do not hold everything up.
use std::{future::Future, pin::Pin, time::Duration};

use serde::Serialize;
use sqlx::{Any, Executor};

use crate::core::{
    mail::{Email, MailError},
    state::AppState,
    time::now,
};

pub const KIND_MAIL: &str = "mail";

#[derive(Debug)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Why a job did not finish.
#[derive(Debug)]
pub enum JobError {
    /// Worth trying again later (with backoff), up to the job's attempt limit.
    Retry(String),
    /// Trying again will not help: the job ends in the failed state.
    Permanent(String),
}

impl From<MailError> for JobError {
    fn from(e: MailError) -> JobError {
        match e {
            MailError::Permanent(m) => JobError::Permanent(m),
            MailError::Temporary(m) => JobError::Retry(m),
        }
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> JobError {
        JobError::Retry(format!("database: {e}"))
    }
}

pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;
/// Runs one job of a kind. Must be safe to run again for the same job after a crash.
pub type Handler = for<'a> fn(&'a AppState, &'a ClaimedJob) -> JobFuture<'a>;

/// Which handler runs which kind of job.
#[derive(Clone, Default)]
pub struct Handlers(Vec<(&'static str, Handler)>);

impl Handlers {
    pub fn add(mut self, kind: &'static str, handler: Handler) -> Handlers {
        self.0.push((kind, handler));
        self
    }

    fn get(&self, kind: &str) -> Option<Handler> {
        self.0.iter().find(|(k, _)| *k == kind).map(|(_, h)| *h)
    }
}

/// A job to queue. `dedupe_key` makes queueing idempotent: a second job with the same key is
/// not added. `batch` groups jobs for a report (all the messages of one bulletin issue).
pub struct NewJob<'a, P: Serialize> {
    pub kind: &'a str,
    pub payload: &'a P,
    /// Ties the job to a person, so erasure can remove it.
    pub member_id: Option<i64>,
    pub dedupe_key: Option<&'a str>,
    pub batch: Option<&'a str>,
    pub run_at: i64,
}

impl<'a, P: Serialize> NewJob<'a, P> {
    pub fn now(kind: &'a str, payload: &'a P) -> NewJob<'a, P> {
        NewJob { kind, payload, member_id: None, dedupe_key: None, batch: None, run_at: now() }
    }
}

/// The columns every queued job sets, in this order; for areas that queue many jobs with one
/// `INSERT INTO jobs (…) SELECT …`.
pub const INSERT_COLUMNS: &str =
    "kind, payload, member_id, status, attempts, max_attempts, run_at, created_at, updated_at, dedupe_key, batch";

/// Queue a job inside the caller's transaction, so it exists exactly when the change that
/// caused it does. Returns its id, or None when a job with the same dedupe key exists.
pub async fn enqueue<'e, E: Executor<'e, Database = Any>, P: Serialize>(
    executor: E,
    job: &NewJob<'_, P>,
) -> Result<Option<i64>, sqlx::Error> {
    let payload = serde_json::to_string(job.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_scalar(&format!(
        "INSERT INTO jobs ({INSERT_COLUMNS}) VALUES ($1, $2, $3, 'queued', 0, 6, $4, $5, $5, $6, $7) \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
    ))
    .bind(job.kind)
    .bind(payload)
    .bind(job.member_id)
    .bind(job.run_at)
    .bind(now())
    .bind(job.dedupe_key)
    .bind(job.batch)
    .fetch_optional(executor)
    .await
}

/// Queue one email to one person.
pub async fn enqueue_mail<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    email: &Email,
    member_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let job = NewJob { member_id, ..NewJob::now(KIND_MAIL, email) };
    enqueue(executor, &job).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn claim(state: &AppState) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let db = &state.db;
    let t = now();
    // Two index reads rather than one `OR`: a job whose lease ran out (its instance died) comes
    // first, then the oldest queued one. Read together, the `OR` sorted every queued row on each
    // claim. A lease can only run out on a job that is running, and few ever are.
    let lock = db.skip_locked();
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id = COALESCE(\
           (SELECT id FROM jobs WHERE status = 'running' AND locked_until < $2 ORDER BY run_at, id LIMIT 1 {lock}), \
           (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $2 ORDER BY run_at, id LIMIT 1 {lock})) \
         RETURNING id, kind, payload, attempts, max_attempts"
    );
    let row: Option<(i64, String, String, i64, i64)> =
        sqlx::query_as(&sql).bind(t + state.config.job_lease_seconds).bind(t).fetch_optional(&db.pool).await?;
    Ok(row.map(|(id, kind, payload, attempts, max_attempts)| ClaimedJob { id, kind, payload, attempts, max_attempts }))
}

/// A finished job keeps no payload: the message it carried is personal data no longer needed.
async fn mark_done(state: &AppState, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET status = 'done', payload = '{}', locked_until = NULL, last_error = NULL, updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

async fn mark_failed(state: &AppState, job: &ClaimedJob, error: &str, permanent: bool) -> Result<(), sqlx::Error> {
    let t = now();
    if permanent || job.attempts >= job.max_attempts {
        sqlx::query(
            "UPDATE jobs SET status = 'failed', locked_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(t)
        .bind(job.id)
        .execute(&state.db.pool)
        .await?;
    } else {
        sqlx::query("UPDATE jobs SET status = 'queued', locked_until = NULL, last_error = $1, run_at = $2, updated_at = $3 WHERE id = $4")
            .bind(error)
            .bind(t + backoff_seconds(job.attempts))
            .bind(t)
            .bind(job.id)
            .execute(&state.db.pool)
            .await?;
    }
    Ok(())
}

/// Remove jobs that carry a message to `email` but are not tied to a member (a sign-up's
/// confirmation, say), when that address is erased. Jobs tied to a member go with the member.
pub async fn forget_address(conn: &mut sqlx::AnyConnection, email: &str) -> Result<(), sqlx::Error> {
    let to = serde_json::to_string(email).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("DELETE FROM jobs WHERE payload LIKE $1 ESCAPE '\\'")
        .bind(format!("%\"to\":{}%", crate::core::db::like_literal(&to)))
        .execute(&mut *conn)
        .await?;
    // A mail server's refusal often quotes the address it refused.
    sqlx::query("UPDATE jobs SET last_error = 'the address was erased' WHERE LOWER(last_error) LIKE $1 ESCAPE '\\'")
        .bind(format!("%{}%", crate::core::db::like_literal(&email.to_lowercase())))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// 30 s, 1 min, 2 min … capped at an hour.
pub fn backoff_seconds(attempts: i64) -> i64 {
    (30i64 << (attempts.clamp(1, 10) - 1)).min(3600)
}

fn send_mail<'a>(state: &'a AppState, job: &'a ClaimedJob) -> JobFuture<'a> {
    Box::pin(async move {
        let email: Email =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        Ok(state.mailer.send(email, job.id).await?)
    })
}

/// The handlers every install has; areas add theirs to these.
pub fn core_handlers() -> Handlers {
    Handlers::default().add(KIND_MAIL, send_mail)
}

/// Runs jobs until the process ends, in `lanes` concurrent loops. A lane that finds work
/// wakes another, so a large batch soon has every lane busy.
#[derive(Clone)]
pub struct Worker {
    pub state: AppState,
    pub idle_poll: Duration,
}

impl Worker {
    pub fn spawn(self, lanes: usize) {
        for _ in 0..lanes.max(1) {
            tokio::spawn(self.clone().run());
        }
    }

    async fn run(self) {
        loop {
            match self.run_one().await {
                Ok(true) => {
                    self.state.jobs_waiting.notify_one();
                    continue;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "job worker could not reach the database"),
            }
            tokio::select! {
                _ = self.state.jobs_waiting.notified() => {}
                _ = tokio::time::sleep(self.idle_poll) => {}
            }
        }
    }

    /// Claim and run one job; false when none was ready.
    pub async fn run_one(&self) -> Result<bool, sqlx::Error> {
        let state = &self.state;
        let Some(job) = claim(state).await? else { return Ok(false) };
        let outcome = match state.job_handlers.get(&job.kind) {
            Some(handler) => handler(state, &job).await,
            None => Err(JobError::Permanent(format!("no handler for job kind '{}'", job.kind))),
        };
        match outcome {
            Ok(()) => mark_done(state, job.id).await?,
            Err(JobError::Retry(e)) => {
                tracing::warn!(job = job.id, kind = %job.kind, error = %e, "job failed; will retry");
                mark_failed(state, &job, &e, false).await?
            }
            Err(JobError::Permanent(e)) => {
                tracing::warn!(job = job.id, kind = %job.kind, error = %e, "job failed permanently");
                mark_failed(state, &job, &e, true).await?
            }
        }
        Ok(true)
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
