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
    /// What each area keeps in memory for this instance (caches, channels), by type; filled at
    /// start-up by `features::area_state()`, read with `state.area::<T>()`.
    pub areas: axum::http::Extensions,
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }

    /// An area's in-memory state. Every area's is put in at start-up, so a missing one is a
    /// programming error caught by any test that touches the area.
    pub fn area<T: Send + Sync + 'static>(&self) -> &T {
        self.areas.get::<T>().unwrap_or_else(|| panic!("area state {} not registered", std::any::type_name::<T>()))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
