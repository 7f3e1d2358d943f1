//! The database: one pool over SQLite or PostgreSQL, one code path.
//!
//! All SQL is written once with `$1` placeholders (both drivers accept them) and portable
//! types: integer ids, integer unix-second timestamps, integer pence, text. The few places
//! where the dialects truly differ ask [`Dialect`].
use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor,
};

use crate::core::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data folder {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot open the database: {0}")]
    Connect(sqlx::Error),
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
}

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
    /// Tables the migration rewrote in bulk. PostgreSQL vacuums them once it commits (VACUUM
    /// cannot run inside its transaction): until then the rewritten pages are not marked
    /// all-visible and the directory's index-only scans fall back to reading the table.
    rewrites: &'static [&'static str],
    /// SQLite only: rebuild every table whose integer id could be reused (see
    /// [`sqlite_ids_never_reused`]). Runs with foreign-key enforcement off, as SQLite's own
    /// procedure for changing a table requires, and checks every foreign key before committing.
    rebuild_ids: bool,
}

/// Every schema change, in order. Each exists once per dialect; a test compares the results.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../../migrations/postgres/0001_foundation.sql"),
        rewrites: &[],
        rebuild_ids: false,
    },
    Migration {
        version: 2,
        sqlite: include_str!("../../migrations/sqlite/0002_jobs_and_secrets.sql"),
        postgres: include_str!("../../migrations/postgres/0002_jobs_and_secrets.sql"),
        rewrites: &[],
        rebuild_ids: false,
    },
    Migration {
        version: 3,
        sqlite: include_str!("../../migrations/sqlite/0003_bulletin.sql"),
        postgres: include_str!("../../migrations/postgres/0003_bulletin.sql"),
        rewrites: &[],
        rebuild_ids: false,
    },
    Migration {
        version: 4,
        sqlite: include_str!("../../migrations/sqlite/0004_voice.sql"),
        postgres: include_str!("../../migrations/postgres/0004_voice.sql"),
        rewrites: &[],
        rebuild_ids: false,
    },
    Migration {
        version: 5,
        sqlite: include_str!("../../migrations/sqlite/0005_grants.sql"),
        postgres: include_str!("../../migrations/postgres/0005_grants.sql"),
        rewrites: &[],
        rebuild_ids: false,
    },
    Migration {
        version: 6,
        sqlite: include_str!("../../migrations/sqlite/0006_email_search_terms.sql"),
        postgres: include_str!("../../migrations/postgres/0006_email_search_terms.sql"),
        rewrites: &["member_search_terms"],
        rebuild_ids: false,
    },
    Migration {
        version: 7,
        sqlite: include_str!("../../migrations/sqlite/0007_hardening.sql"),
        postgres: include_str!("../../migrations/postgres/0007_hardening.sql"),
        rewrites: &[],
        rebuild_ids: true,
    },
];

impl Db {
    /// Open the database the settings name (creating the SQLite file if needed) and migrate it.
    pub async fn open(config: &Config) -> Result<Db, DbError> {
        let db = Self::connect(config).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connect without migrating (`config check` reads what is there and changes nothing).
    pub async fn connect(config: &Config) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        match &config.database_url {
            Some(url) => Self::open_postgres(url, config.db_connections).await,
            None => Self::open_sqlite(&Self::sqlite_path(config), config.db_connections).await,
        }
    }

    /// Where the embedded database lives.
    pub fn sqlite_path(config: &Config) -> std::path::PathBuf {
        config.data_dir.join("constellate.db")
    }

    async fn open_postgres(url: &str, connections: u32) -> Result<Db, DbError> {
        let options = AnyConnectOptions::from_str(url).map_err(DbError::Connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Db { pool, dialect: Dialect::Postgres })
    }

    async fn open_sqlite(path: &Path, connections: u32) -> Result<Db, DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DbError::DataDir(dir.display().to_string(), e))?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options = AnyConnectOptions::from_str(&url).map_err(DbError::Connect)?;
        // Each connection holds its own page cache (2 MB); idle ones close after a minute, so
        // resident memory stays small however many the setting allows.
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .min_connections(1)
            .idle_timeout(Duration::from_secs(60))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; busy_timeout makes writers queue
                    // instead of failing; NORMAL sync is durable across application crashes.
                    // secure_delete overwrites deleted rows with zeros, so erased personal data
                    // does not linger in free space of the file (see `Db::scrub`).
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL; \
                         PRAGMA foreign_keys=ON; PRAGMA cache_size=-2000; PRAGMA secure_delete=ON;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Db { pool, dialect: Dialect::Sqlite })
    }

    async fn migrate(&self) -> Result<(), DbError> {
        self.migrate_through(i64::MAX).await
    }

    /// Apply the migrations up to and including `last` that have not been applied (the upgrade
    /// test builds a database as an earlier release left it).
    pub async fn migrate_through(&self, last: i64) -> Result<(), DbError> {
        let err = |version| move |source| DbError::Migration { version, source };
        let mut conn = self.pool.acquire().await.map_err(DbError::Connect)?;
        if self.dialect == Dialect::Postgres {
            // Two instances starting together must not both migrate.
            conn.execute("SELECT pg_advisory_lock(727274)").await.map_err(err(0))?;
        }
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(err(0))?;
        for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await
                .map_err(err(m.version))?;
            if done.is_some() {
                continue;
            }
            let sql = match self.dialect {
                Dialect::Sqlite => m.sqlite,
                Dialect::Postgres => m.postgres,
            };
            let rebuild = m.rebuild_ids && self.dialect == Dialect::Sqlite;
            if rebuild {
                // Must be set outside a transaction; set back below, on success or failure.
                conn.execute("PRAGMA foreign_keys=OFF").await.map_err(err(m.version))?;
            }
            let result = self.apply(&mut conn, m, sql, rebuild).await;
            if rebuild {
                conn.execute("PRAGMA foreign_keys=ON").await.map_err(err(m.version))?;
            }
            result.map_err(err(m.version))?;
            if self.dialect == Dialect::Postgres {
                for table in m.rewrites {
                    conn.execute(format!("VACUUM ANALYZE {table}").as_str()).await.map_err(err(m.version))?;
                }
            }
        }
        if self.dialect == Dialect::Postgres {
            conn.execute("SELECT pg_advisory_unlock(727274)").await.map_err(err(0))?;
        }
        Ok(())
    }

    /// One migration in one transaction, recorded as applied in the same transaction.
    async fn apply(
        &self,
        conn: &mut sqlx::AnyConnection,
        m: &Migration,
        sql: &str,
        rebuild: bool,
    ) -> Result<(), sqlx::Error> {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for statement in split_statements(sql) {
            tx.execute(statement).await?;
        }
        if rebuild {
            sqlite_ids_never_reused(&mut tx).await?;
            let broken: Vec<(String,)> =
                sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&mut *tx).await?;
            if let Some((table,)) = broken.first() {
                return Err(sqlx::Error::Protocol(format!("rebuilding tables left a broken foreign key in {table}")));
            }
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(m.version)
            .bind(crate::core::time::now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// After personal data is deleted. On SQLite, deleted rows are zeroed in the database file
    /// (secure_delete), but the write-ahead log still holds earlier copies of the pages they
    /// were on until it is written back and cut to nothing: this does that now. Readers can
    /// hold it up for a moment, so it is tried a few times. PostgreSQL keeps dead row versions
    /// until VACUUM reclaims them (docs/privacy.md says how long); nothing is done here.
    pub async fn scrub(&self) -> Result<(), sqlx::Error> {
        if self.dialect != Dialect::Sqlite {
            return Ok(());
        }
        for _ in 0..50 {
            let (busy, _, _): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tracing::warn!("the write-ahead log could not be emptied after a deletion; it will be at the next one");
        Ok(())
    }

    /// `FOR UPDATE SKIP LOCKED` where the database has row locks; SQLite has one writer at a
    /// time, so the surrounding `UPDATE … RETURNING` is already exclusive there.
    pub fn skip_locked(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

impl Db {
    /// A transaction that will write. On SQLite it takes the write lock at the start
    /// (`BEGIN IMMEDIATE`), so it queues behind other writers (busy_timeout) instead of failing
    /// with "database is locked" when another connection commits between its first read and its
    /// first write, which a deferred transaction cannot recover from.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    /// `SELECT` of one text value: every row of `inner` (whose columns are `columns`), in the
    /// order `inner` gives them, as a JSON array of arrays. A page of many rows then crosses
    /// from SQLite's worker thread in one message instead of one wake-up per row.
    pub fn rows_as_json(&self, columns: &str, inner: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("SELECT json_group_array(json_array({columns})) FROM ({inner}) rows_as_json"),
            Dialect::Postgres => format!(
                "SELECT COALESCE(json_agg(json_build_array({columns}))::text, '[]') FROM ({inner}) rows_as_json"
            ),
        }
    }
}

/// SQLite gives a new row the largest id in use plus one, so once the row with the largest id
/// is deleted, the next row gets its id again, and anything that still names the old row (a
/// signed link in someone's inbox, a job's key, a bookmark) then names the new one. With
/// AUTOINCREMENT an id is never given twice. A table's kind of key cannot be changed in place,
/// so each table is rebuilt the way SQLite documents: a new table, its rows copied, the old one
/// dropped, the new one renamed, its indexes made again. Ids deleted before this ran are not
/// recorded anywhere, so tables that hold rows skip ahead by 10,000 ids to stay clear of them
/// (an empty table, as on a new install, starts at 1).
/// PostgreSQL's sequences never reuse an id.
async fn sqlite_ids_never_reused(tx: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    const PLAIN: &str = "id INTEGER PRIMARY KEY";
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, m.sql FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
         AND m.sql NOT LIKE '%AUTOINCREMENT%' \
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'id' AND p.pk = 1 AND p.type = 'INTEGER')",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (table, sql) in tables {
        let at = sql.find(&format!("\n    {PLAIN}")).or_else(|| sql.find(&format!("({PLAIN}")));
        let Some(at) = at else {
            return Err(sqlx::Error::Protocol(format!("cannot find the id column of {table} to rebuild it")));
        };
        let at = at + sql[at..].find(PLAIN).unwrap_or(0) + PLAIN.len();
        let create = format!("{} AUTOINCREMENT{}", &sql[..at], &sql[at..]);
        let rebuilt = format!("{table}_rebuilt");
        let create = create.replacen(&format!("CREATE TABLE {table} "), &format!("CREATE TABLE {rebuilt} "), 1);
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
        )
        .bind(&table)
        .fetch_all(&mut *tx)
        .await?;
        tx.execute(create.as_str()).await?;
        tx.execute(format!("INSERT INTO {rebuilt} SELECT * FROM {table}").as_str()).await?;
        tx.execute(format!("DROP TABLE {table}").as_str()).await?;
        tx.execute(format!("ALTER TABLE {rebuilt} RENAME TO {table}").as_str()).await?;
        for index in indexes {
            tx.execute(index.as_str()).await?;
        }
        let skip_ahead =
            format!("UPDATE sqlite_sequence SET seq = seq + 10000 WHERE name = $1 AND EXISTS (SELECT 1 FROM {table})");
        sqlx::query(&skip_ahead).bind(&table).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Placeholders for a statement's `n` parameters, bound in the order they appear. SQLite gets
/// anonymous `?`, bound by position: it finds a named one (`$7`) by scanning every earlier
/// name, when parsing and again when sqlx binds, so long lists cost the square of their length.
/// PostgreSQL needs `$n`.
pub fn placeholders(conn: &sqlx::AnyConnection, n: usize) -> Vec<String> {
    let sqlite = conn.backend_name() == "SQLite";
    (1..=n).map(|i| if sqlite { "?".to_string() } else { format!("${i}") }).collect()
}

/// The rows read by a [`Db::rows_as_json`] statement, each as `T` (a tuple of its columns).
pub fn json_rows<T: serde::de::DeserializeOwned>(json: &str) -> Result<Vec<T>, sqlx::Error> {
    serde_json::from_str(json).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// `text` for use inside a LIKE pattern written with `ESCAPE '\'`: its own `%`, `_` and `\`
/// match only themselves.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Split a migration file into statements at semicolons that end a line.
fn split_statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(";\n").map(str::trim).filter(|s| !s.is_empty() && !s.lines().all(|l| l.trim_start().starts_with("--")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_literal_escapes_wildcards() {
        assert_eq!(like_literal("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }

    #[test]
    fn statements_split_at_line_ending_semicolons_and_skip_comment_only_parts() {
        let parts: Vec<_> =
            split_statements("-- c\nCREATE TABLE a (x TEXT);\nCREATE TABLE b (y TEXT);\n-- end\n").collect();
        assert_eq!(parts, vec!["-- c\nCREATE TABLE a (x TEXT)", "CREATE TABLE b (y TEXT)"]);
    }
}
