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
        crypto::Keyring,
        db::Db,
        jobs::Worker,
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
    Keys(#[from] crate::core::crypto::CryptoError),
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
}

pub fn router(state: AppState) -> (Router, Vec<Rule>) {
    let (routes, rules) = all_routes().into_parts();
    let router = routes
        .fallback(features::site::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), context::middleware))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(state);
    (router, rules)
}

pub async fn open_state(config: Config) -> Result<AppState, StartError> {
    set_network_name(&config.network_name);
    let db = Db::open(&config).await?;
    let keys = Keyring::load(config.encryption_key.as_deref(), &config.data_dir)?;
    let mailer =
        Mailer::new(config.smtp_url.as_deref(), config.outbox_dir(), &config.mail_from).map_err(StartError::Mail)?;
    Ok(AppState::new(Inner {
        config,
        db,
        mailer,
        keys,
        metrics: Metrics::default(),
        jobs_waiting: Arc::new(Notify::new()),
        home_counts: Cached::new(Duration::from_secs(30)),
        word_frequencies: CachedMap::new(Duration::from_secs(300), 10_000),
    }))
}

pub fn spawn_worker(state: &AppState) {
    let worker = Worker {
        db: state.db.clone(),
        mailer: state.mailer.clone(),
        notify: state.jobs_waiting.clone(),
        idle_poll: Duration::from_millis(state.config.job_poll_ms),
    };
    tokio::spawn(worker.run());
}

/// Serve until `shutdown` completes. The job worker runs beside the server.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_worker(&state);
    let (router, _) = router(state);
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

pub async fn bind(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.bind).await.map_err(|source| StartError::Listen { addr: config.bind.to_string(), source })
}
