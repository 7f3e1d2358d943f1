//! Putting the program together: open the database, build the router with every area's
//! routes, start the job worker, serve.
use std::{sync::Arc, time::Duration};

use axum::{extract::DefaultBodyLimit, middleware, Router};
use tokio::{net::TcpListener, sync::Notify};

use crate::{
    core::{
        access::{Routes, Rule},
        cache::{Cached, CachedMap},
        config::Config,
        context::{self, FORM_LIMIT},
        crypto::{CryptoError, LinkSigner},
        db::Db,
        housekeeping::{self, Chores},
        jobs::{self, Handlers, Worker},
        layout::set_network_name,
        mail::Mailer,
        metrics::Metrics,
        state::{AppState, Inner},
    },
    features,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] crate::core::db::DbError),
    #[error(transparent)]
    Keys(#[from] CryptoError),
    #[error(transparent)]
    KeyCheck(#[from] crate::core::key_check::KeyCheckError),
    #[error("mail settings: {0}")]
    Mail(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// Every area's routes, each with its access rule.
pub fn all_routes() -> Routes {
    features::site::routes()
        .merge(features::accounts::routes())
        .merge(features::members::routes())
        .merge(features::groups::routes())
        .merge(features::admin::routes())
        .merge(features::bulletin::routes())
        .merge(features::grants::routes())
        .merge(features::voice::routes())
        .merge(features::workspace::routes())
}

/// Every kind of background job, with the area's handler for it.
pub fn job_handlers() -> Handlers {
    features::voice::job_handlers(features::bulletin::job_handlers(jobs::core_handlers()))
}

/// Every area's housekeeping chores.
pub fn chores() -> Chores {
    features::voice::chores(features::grants::chores(features::bulletin::chores(housekeeping::core_chores())))
}

pub fn router(state: AppState) -> (Router, Vec<Rule>) {
    let (routes, rules) = all_routes().into_parts();
    let kept = crate::core::compress::Kept::default();
    let router = routes
        .fallback(features::site::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), context::middleware))
        .layer(middleware::from_fn(move |req, next| crate::core::compress::middleware(kept.clone(), req, next)))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(state);
    (router, rules)
}

pub async fn open_state(config: Config) -> Result<AppState, StartError> {
    set_network_name(&config.network_name);
    crate::core::time::set_zone(&config.time_zone);
    let db = Db::open(&config).await?;
    let keys = crate::core::key_check::open_keys(&db, &config).await?;
    let mailer = Mailer::new(&config).map_err(StartError::Mail)?;
    let links = link_signer(&db).await?;
    Ok(AppState::new(Inner {
        config,
        db,
        mailer,
        keys,
        links,
        job_handlers: job_handlers(),
        chores: chores(),
        metrics: Metrics::default(),
        jobs_waiting: Arc::new(Notify::new()),
        home_counts: Cached::new(Duration::from_secs(30)),
        word_frequencies: CachedMap::new(Duration::from_secs(300), 10_000),
        areas: features::area_state(),
    }))
}

/// The key that signs links, made by whichever instance starts first and shared through the
/// database by every other.
async fn link_signer(db: &Db) -> Result<LinkSigner, StartError> {
    sqlx::query(
        "INSERT INTO secrets (name, value, created_at) VALUES ('link_key', $1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(LinkSigner::new_key())
    .bind(crate::core::time::now())
    .execute(&db.pool)
    .await?;
    let key: String =
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'link_key'").fetch_one(&db.pool).await?;
    Ok(LinkSigner::parse_key(&key)?)
}

/// The job worker's lanes and the housekeeping loop, beside the server.
pub fn spawn_background(state: &AppState) {
    Worker { state: state.clone(), idle_poll: Duration::from_millis(state.config.job_poll_ms) }
        .spawn(state.config.job_workers);
    housekeeping::spawn(state.clone());
}

/// Serve until `shutdown` completes. The job worker and housekeeping run beside the server.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_background(&state);
    let (router, _) = router(state);
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

pub async fn bind(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.bind).await.map_err(|source| StartError::Listen { addr: config.bind.to_string(), source })
}
