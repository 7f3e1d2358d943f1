//! Housekeeping: small, idempotent chores each instance runs now and then, such as deleting
//! what has passed its time (expired sessions and links, unconfirmed signatures). Each area
//! adds its chores; running them twice, or on two instances at once, does no harm.
use std::{future::Future, pin::Pin, time::Duration};

use crate::core::{state::AppState, time::now};

pub type ChoreFuture<'a> = Pin<Box<dyn Future<Output = Result<u64, sqlx::Error>> + Send + 'a>>;
/// Does one chore as of `now` (unix seconds) and says how many rows it changed.
pub type Chore = for<'a> fn(&'a AppState, i64) -> ChoreFuture<'a>;

#[derive(Clone, Default)]
pub struct Chores(Vec<(&'static str, Chore)>);

impl Chores {
    pub fn add(mut self, name: &'static str, chore: Chore) -> Chores {
        self.0.push((name, chore));
        self
    }

    /// Run every chore as of `now`; a failing chore is logged and the others still run.
    /// Returns what each changed (tests pass a `now` in the future to see time pass).
    pub async fn run_all(&self, state: &AppState, now: i64) -> Vec<(&'static str, u64)> {
        let mut done = Vec::with_capacity(self.0.len());
        for (name, chore) in &self.0 {
            match chore(state, now).await {
                Ok(n) => done.push((*name, n)),
                Err(e) => tracing::warn!(chore = name, error = %e, "housekeeping chore failed"),
            }
        }
        done
    }
}

fn expired_sessions_and_links<'a>(state: &'a AppState, now: i64) -> ChoreFuture<'a> {
    Box::pin(async move {
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&state.db.pool).await?;
        let links =
            sqlx::query("DELETE FROM login_tokens WHERE expires_at < $1").bind(now).execute(&state.db.pool).await?;
        Ok(sessions.rows_affected() + links.rows_affected())
    })
}

/// Rate-limit windows name addresses (IP and email): gone once they no longer count.
fn old_rate_limit_windows<'a>(state: &'a AppState, now: i64) -> ChoreFuture<'a> {
    Box::pin(async move {
        let gone = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(now - crate::core::ratelimit::WINDOW_SECONDS)
            .execute(&state.db.pool)
            .await?;
        Ok(gone.rows_affected())
    })
}

/// The chores every install has; areas add theirs to these.
pub fn core_chores() -> Chores {
    Chores::default()
        .add("expired sessions and sign-in links", expired_sessions_and_links)
        .add("old rate-limit windows", old_rate_limit_windows)
}

/// Run the chores now and then, for as long as the process lives.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.config.housekeeping_seconds.max(1));
        loop {
            let done = state.chores.run_all(&state, now()).await;
            let changed: u64 = done.iter().map(|(_, n)| n).sum();
            if changed > 0 {
                tracing::info!(?done, "housekeeping");
                // Chores delete what has passed its time, often personal data.
                if let Err(e) = state.db.scrub().await {
                    tracing::warn!(error = %e, "could not empty the write-ahead log after housekeeping");
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}
