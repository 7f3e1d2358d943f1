//! The two migration trees must give the same tables and columns.
use crate::harness::{spawn_app, Backend};

async fn columns(backend: Backend) -> Vec<(String, String)> {
    let app = spawn_app(backend).await;
    let sql = match backend {
        Backend::Sqlite => "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2",
        Backend::Postgres => "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
    };
    sqlx::query_as(sql).fetch_all(&app.state.db.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_give_the_same_tables_and_columns() {
    let mut sqlite = columns(Backend::Sqlite).await;
    let mut postgres = columns(Backend::Postgres).await;
    sqlite.sort();
    postgres.sort();
    assert!(sqlite.len() > 50);
    assert_eq!(sqlite, postgres);
}

/// The bundled SQLite turns STAT4 on. With its statistics present (any ANALYZE), SQLite expires
/// a prepared statement whenever a value that could change its plan is bound, so every
/// directory query was parsed and planned again on every request. `.cargo/config.toml` turns
/// it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_sqlite_is_built_without_stat4_so_prepared_statements_stay_planned() {
    let app = spawn_app(Backend::Sqlite).await;
    let stat4: i64 = sqlx::query_scalar("SELECT sqlite_compileoption_used('ENABLE_STAT4')")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stat4, 0, "SQLite was built with STAT4: is LIBSQLITE3_FLAGS from .cargo/config.toml applied?");
    let json: i64 = sqlx::query_scalar("SELECT json_valid('[1]')").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(json, 1, "the rest of the bundled build is unchanged");
}

/// An id is never given twice: SQLite tables with an integer id are AUTOINCREMENT (without it,
/// the id of the last row deleted is given to the next row), PostgreSQL ids come from sequences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_with_an_integer_id_never_gives_an_id_twice() {
    let app = spawn_app(Backend::Sqlite).await;
    let plain: Vec<String> = sqlx::query_scalar(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
         AND m.sql NOT LIKE '%AUTOINCREMENT%' \
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'id' AND p.pk = 1)",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert!(plain.is_empty(), "tables whose ids SQLite would reuse: {plain:?}");
    let app = spawn_app(Backend::Postgres).await;
    let unsequenced: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'id' \
         AND column_default IS NULL AND is_identity = 'NO' \
         AND table_name IN (SELECT tc.table_name FROM information_schema.table_constraints tc \
           JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name \
           WHERE tc.constraint_type = 'PRIMARY KEY' AND k.column_name = 'id')",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert!(unsequenced.is_empty(), "id columns without a sequence: {unsequenced:?}");
}
