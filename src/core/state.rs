//! What every handler can reach: settings, database, mailer, keys, metrics.
use std::{ops::Deref, sync::Arc};

use tokio::sync::Notify;

use crate::core::{
    cache::{Cached, CachedMap},
    config::Config,
    crypto::{Keyring, LinkSigner},
    db::Db,
    housekeeping::Chores,
    jobs::Handlers,
    mail::Mailer,
    metrics::Metrics,
};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub mailer: Mailer,
    pub keys: Keyring,
    /// Signs links that must work without being stored (unsubscribe, confirm).
    pub links: LinkSigner,
    /// Which handler runs each kind of job.
    pub job_handlers: Handlers,
    /// What housekeeping does.
    pub chores: Chores,
    pub metrics: Metrics,
    /// Wakes this instance's job worker when something is queued here.
    pub jobs_waiting: Arc<Notify>,
    /// Members, groups and regions reached, for the home page.
    pub home_counts: Cached<(i64, i64, i64)>,
    /// How common each directory search word is (a hint for choosing the query plan only).
    pub word_frequencies: CachedMap<String, i64>,
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
