//! The signature writer: one task per instance takes signatures from a channel and writes them
//! in batches, one transaction each, so a viral day costs one commit per batch rather than one
//! per signer (SQLite has a single writer; queueing there is cheaper than lock contention).
//!
//! Each signature is `INSERT … ON CONFLICT (letter_id, email) DO NOTHING`: the unique index
//! decides what is a duplicate, so two submissions in one batch, or on two instances sharing
//! PostgreSQL, still make one row. The confirmation email is queued in the same transaction,
//! with a dedupe key naming the signature, so it exists exactly when the signature does.
//! Each waiting request is answered after the commit.
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot, Notify};

use super::{domain::NewSignature, store::Letter};
use crate::core::{
    cache::CachedMap,
    db::Db,
    error::{AppError, AppResult},
    jobs::{self, NewJob, KIND_MAIL},
    mail::Email,
    ratelimit::WINDOW_SECONDS,
    state::AppState,
    time::{local_date, now},
};

/// Most signatures written in one transaction: large enough to absorb a burst, small enough
/// that the first in a batch does not wait long for the last.
const BATCH: usize = 512;

/// One signature waiting to be written, with the message that confirms it and the one that
/// tells the address's owner it had already signed.
pub struct Submission {
    pub letter_id: i64,
    pub signature: NewSignature,
    pub token_hash: String,
    pub confirmation: Email,
    pub already_signed: Email,
}

/// What became of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new signature, waiting for its email to be confirmed.
    Added,
    /// This email had already signed this letter: nothing was added.
    AlreadySigned,
    /// The letter closed before the signature was written: nothing was added.
    Closed,
}

type Waiting = (Submission, oneshot::Sender<Result<Outcome, String>>);

/// The area's in-memory state: the channel to this instance's writer (started on first use,
/// when the database is known), the per-address signing limit, and letters by slug for the
/// signing form (read once a second rather than once a signature).
pub struct Signatures {
    sender: OnceLock<mpsc::Sender<Waiting>>,
    limiter: IpLimiter,
    pub letters: CachedMap<String, Arc<Letter>>,
}

impl Default for Signatures {
    fn default() -> Signatures {
        Signatures {
            sender: OnceLock::new(),
            limiter: IpLimiter::default(),
            letters: CachedMap::new(Duration::from_secs(1), 1_000),
        }
    }
}

impl Signatures {
    /// Write one signature (batched with whatever else is waiting) and say what became of it.
    pub async fn submit(&self, state: &AppState, submission: Submission) -> AppResult<Outcome> {
        let sender = self.sender.get_or_init(|| start(state.db.clone(), state.jobs_waiting.clone()));
        let (reply, answer) = oneshot::channel();
        sender.send((submission, reply)).await.map_err(|_| AppError::internal("signature writer stopped"))?;
        answer.await.map_err(|_| AppError::internal("signature writer stopped"))?.map_err(AppError::internal)
    }

    /// Count one signing attempt from `ip` against `limit` per window.
    pub fn allow(&self, ip: IpAddr, limit: i64) -> bool {
        self.limiter.hit(ip, limit, now())
    }
}

fn start(db: Db, jobs_waiting: Arc<Notify>) -> mpsc::Sender<Waiting> {
    let (sender, mut receiver) = mpsc::channel::<Waiting>(BATCH * 8);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while receiver.recv_many(&mut batch, BATCH).await > 0 {
            let (submissions, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
            let result = write(&db, &submissions).await;
            if result.as_ref().is_ok_and(|o| o.contains(&Outcome::Added)) {
                jobs_waiting.notify_one();
            }
            match result {
                Ok(outcomes) => replies.into_iter().zip(outcomes).for_each(|(r, o)| drop(r.send(Ok(o)))),
                Err(e) => {
                    tracing::error!(error = %e, "writing signatures failed");
                    replies.into_iter().for_each(|r| drop(r.send(Err(e.to_string()))));
                }
            }
        }
    });
    sender
}

async fn write(db: &Db, submissions: &[Submission]) -> Result<Vec<Outcome>, sqlx::Error> {
    let t = now();
    let mut tx = db.begin().await?;
    let mut outcomes = Vec::with_capacity(submissions.len());
    for s in submissions {
        let sig = &s.signature;
        // The letter's status is checked here, in the writing transaction: the form may have read
        // it up to a second ago.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO letter_signatures (letter_id, email, name, organisation, role, place, comment, display, \
             wants_updates, confirm_hash, created_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM letters WHERE id = $1 AND status = 'open') \
             ON CONFLICT (letter_id, email) DO NOTHING RETURNING id",
        )
        .bind(s.letter_id)
        .bind(sig.email.as_str())
        .bind(&sig.name)
        .bind(&sig.organisation)
        .bind(&sig.role)
        .bind(&sig.place)
        .bind(&sig.comment)
        .bind(sig.display.key())
        .bind(sig.wants_updates as i64)
        .bind(&s.token_hash)
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            let signed: Option<(i64, Option<i64>, i64)> = sqlx::query_as(
                "SELECT id, confirmed_at, created_at FROM letter_signatures WHERE letter_id = $1 AND email = $2",
            )
            .bind(s.letter_id)
            .bind(sig.email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match signed {
                Some(existing) => {
                    tell_the_owner(&mut tx, s, existing, t).await?;
                    outcomes.push(Outcome::AlreadySigned);
                }
                None => outcomes.push(Outcome::Closed),
            }
            continue;
        };
        let key = confirmation_key(id);
        jobs::enqueue(&mut *tx, &NewJob { dedupe_key: Some(&key), ..NewJob::now(KIND_MAIL, &s.confirmation) }).await?;
        outcomes.push(Outcome::Added);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Someone signed with an address that has already signed. The page they see says only "check
/// your email" (it must not tell them whether that address signed); the address's owner is
/// told instead, at most once a day however often it happens. A signature still waiting for
/// confirmation from an earlier day gets a fresh link (the first email was probably lost); one
/// made today already has its email on the way.
async fn tell_the_owner(
    tx: &mut sqlx::AnyConnection,
    s: &Submission,
    (id, confirmed_at, created_at): (i64, Option<i64>, i64),
    t: i64,
) -> Result<(), sqlx::Error> {
    let today = local_date(t);
    let key = format!("{}:{today}", notice_key(id));
    if confirmed_at.is_some() {
        jobs::enqueue(&mut *tx, &NewJob { dedupe_key: Some(&key), ..NewJob::now(KIND_MAIL, &s.already_signed) })
            .await?;
    } else if local_date(created_at) != today {
        let queued =
            jobs::enqueue(&mut *tx, &NewJob { dedupe_key: Some(&key), ..NewJob::now(KIND_MAIL, &s.confirmation) })
                .await?;
        if queued.is_some() {
            sqlx::query("UPDATE letter_signatures SET confirm_hash = $1 WHERE id = $2 AND confirmed_at IS NULL")
                .bind(&s.token_hash)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// The dedupe key of a signature's confirmation email (also how it is found to delete it).
pub fn confirmation_key(signature_id: i64) -> String {
    format!("voice-confirm:{signature_id}")
}

/// The start of the dedupe keys of the notices sent to a signature's address after it signed
/// (one a day at most).
pub fn notice_key(signature_id: i64) -> String {
    format!("voice-notice:{signature_id}")
}

/// Delete the jobs that belong to signatures being deleted, so no key outlives its signature.
pub async fn forget_jobs_of(tx: &mut sqlx::AnyConnection, signature_ids: &[i64]) -> Result<(), sqlx::Error> {
    for id in signature_ids {
        sqlx::query("DELETE FROM jobs WHERE (dedupe_key = $1 OR dedupe_key LIKE $2) AND status <> 'running'")
            .bind(confirmation_key(*id))
            .bind(format!("{}:%", notice_key(*id)))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Signing attempts per address in the current window, in memory only: no IP address is
/// written anywhere, and the counts are dropped when the window turns.
#[derive(Default)]
struct IpLimiter(Mutex<(i64, HashMap<IpAddr, i64>)>);

impl IpLimiter {
    fn hit(&self, ip: IpAddr, limit: i64, at: i64) -> bool {
        let window = at - at.rem_euclid(WINDOW_SECONDS);
        let Ok(mut guard) = self.0.lock() else { return true };
        let (current, counts) = &mut *guard;
        if *current != window {
            *current = window;
            counts.clear();
        }
        let n = counts.entry(ip).or_insert(0);
        *n += 1;
        *n <= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_per_address_and_forgets_at_the_next_window() {
        let limiter = IpLimiter::default();
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert!(limiter.hit(a, 2, 900) && limiter.hit(a, 2, 901));
        assert!(!limiter.hit(a, 2, 902));
        assert!(limiter.hit(b, 2, 903));
        assert!(limiter.hit(a, 2, 1800));
        assert_eq!(limiter.0.lock().unwrap().1.len(), 1);
    }
}
