//! Command line: `serve`, `demo`, `seed`, `config check`, `backup`, `keys rotate`.
use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    core::{
        config::{Config, SettingsArgs},
        db::{Db, Dialect},
    },
    demo, features, server,
};

#[derive(Parser)]
#[command(name = "constellate", version, about = "Constellate: a privacy-first platform for user-led networks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the web server (and its job worker)
    Serve {
        /// Fill an empty database with a synthetic network first
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// The same as `serve --demo`
    Demo {
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Add synthetic members and groups to the database, then exit (for benchmarks)
    Seed {
        #[arg(long, default_value_t = 5000)]
        members: usize,
        #[arg(long, default_value_t = 300)]
        groups: usize,
        /// Random seed: the same seed gives the same people, so benchmark runs compare
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Settings
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Write a consistent snapshot of the SQLite database while the server runs
    Backup {
        /// File to write (must not exist)
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Encryption keys
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the effective settings (secrets masked) and anything wrong with them
    Check {
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Make a new key, re-encrypt every sensitive field with it, then retire the old key
    Rotate {
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONSTELLATE_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load(settings: &SettingsArgs) -> Result<Config, String> {
    Config::load(settings).map_err(|e| e.to_string())
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { demo, settings } => serve(load(&settings)?, demo).await,
        Command::Demo { settings } => serve(load(&settings)?, true).await,
        Command::Seed { members, groups, seed, settings } => {
            let db = Db::open(&load(&settings)?).await.map_err(|e| e.to_string())?;
            let started = std::time::Instant::now();
            demo::seed(&db, members, groups, seed).await.map_err(|e| e.to_string())?;
            println!("added {members} members and {groups} groups in {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Config { action: ConfigAction::Check { settings } } => config_check(&settings).await,
        Command::Backup { to, settings } => backup(load(&settings)?, to).await,
        Command::Keys { action: KeysAction::Rotate { settings } } => rotate_keys(load(&settings)?).await,
    }
}

async fn serve(config: Config, with_demo: bool) -> Result<(), String> {
    let (_, problems) = config.check();
    if !problems.is_empty() {
        return Err(format!("fix the settings first ('constellate config check' lists them): {}", problems.join("; ")));
    }
    let listener = server::bind(&config).await.map_err(|e| e.to_string())?;
    let state = server::open_state(config).await.map_err(|e| e.to_string())?;
    if with_demo {
        let empty: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members")
            .fetch_one(&state.db.pool)
            .await
            .map_err(|e| e.to_string())?;
        if empty == 0 {
            tracing::info!(
                "filling the database with a synthetic network (5,000 members, 300 groups, a letter, a grants round)"
            );
            demo::seed(&state.db, 5000, 300, 2026).await.map_err(|e| e.to_string())?;
            demo::showcase(&state.db, &state.config.network_name).await.map_err(|e| e.to_string())?;
            release_freed_memory();
        } else {
            tracing::info!("the database already has members; not adding demo data");
        }
    }
    let url = state.config.base_url.clone();
    tracing::info!(url = %url, database = ?state.db.dialect, "Constellate is running");
    if let Some(link) = features::accounts::setup_link_if_needed(&state).await.map_err(|e| e.to_string())? {
        println!("\nNo admin account yet. Open this link within 24 hours to create the first one (it works once):\n\n    {link}\n");
    }
    server::serve(state, listener, shutdown_signal()).await.map_err(|e| e.to_string())
}

/// Seeding allocates and frees tens of megabytes; glibc keeps freed memory in its arenas unless
/// asked to hand it back, and a server that idles at its peak would need a bigger machine.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

async fn config_check(settings: &SettingsArgs) -> Result<(), String> {
    let config = load(settings)?;
    let (rows, mut problems) = config.check();
    problems.extend(key_problem(&config).await);
    for (name, value) in rows {
        println!("{name:<22} {value}");
    }
    if problems.is_empty() {
        println!("\nNo problems found.");
        Ok(())
    } else {
        println!();
        for p in &problems {
            println!("problem: {p}");
        }
        Err(format!("{} problem(s) in the settings", problems.len()))
    }
}

/// Whether this instance's key opens what the database holds (only when the database exists
/// and can be reached; nothing is created or changed).
async fn key_problem(config: &Config) -> Option<String> {
    if config.database_url.is_none() && !Db::sqlite_path(config).exists() {
        return None;
    }
    let db = Db::connect(config).await.ok()?;
    crate::core::key_check::problem(&db, config).await
}

/// SQLite's `VACUUM INTO` writes a consistent copy while other connections keep working.
async fn backup(config: Config, to: PathBuf) -> Result<(), String> {
    if to.exists() {
        return Err(format!("{} already exists; choose a new file name", to.display()));
    }
    let db = Db::open(&config).await.map_err(|e| e.to_string())?;
    if db.dialect == Dialect::Postgres {
        return Err("for PostgreSQL use pg_dump, for example: pg_dump --format=custom --file=constellate.dump \"$DATABASE_URL\" (see README, Backup)".into());
    }
    let target = to.to_str().ok_or("the backup path must be valid UTF-8")?;
    sqlx::query("VACUUM INTO $1").bind(target).execute(&db.pool).await.map_err(|e| e.to_string())?;
    println!("backup written to {}", to.display());
    Ok(())
}

/// Re-encrypt every sealed column under a fresh key, then drop the old key.
async fn rotate_keys(config: Config) -> Result<(), String> {
    let db = Db::open(&config).await.map_err(|e| e.to_string())?;
    let mut keys = crate::core::key_check::open_keys(&db, &config).await.map_err(|e| e.to_string())?;
    keys.add_new_key().map_err(|e| e.to_string())?;
    let mut changed = 0;
    for (table, column) in features::SEALED_COLUMNS {
        let rows: Vec<(i64, String)> =
            sqlx::query_as(&format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"))
                .fetch_all(&db.pool)
                .await
                .map_err(|e| e.to_string())?;
        for (id, sealed) in rows.into_iter().filter(|(_, s)| !keys.is_current(s)) {
            let plain = keys.decrypt(&sealed).map_err(|e| format!("{table} {id}: {e}"))?;
            sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"))
                .bind(keys.encrypt(&plain))
                .bind(id)
                .execute(&db.pool)
                .await
                .map_err(|e| e.to_string())?;
            changed += 1;
        }
    }
    let retired = keys.older_ids();
    keys.retire_old().map_err(|e| e.to_string())?;
    crate::core::key_check::after_rotation(&db, &keys, &retired).await.map_err(|e| e.to_string())?;
    println!("re-encrypted {changed} values with a new key; the old key has been retired");
    Ok(())
}
