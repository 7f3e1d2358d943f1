//! Instances that share a database must share the encryption key. The first instance to start
//! seals a known value under its key and stores it in the database (`secrets`, one row per key
//! id); every later start, and `config check`, opens it with its own key ring and refuses to go
//! on if it cannot. Without this, a second instance started with its own data folder made its
//! own key, and each instance sealed what the other could not read.
use sqlx::AnyConnection;

use crate::core::{
    config::Config,
    crypto::{CryptoError, Keyring},
    db::{Db, Dialect},
};

const PREFIX: &str = "key_check:";
const KNOWN: &str = "constellate key check";

#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "this instance's encryption key (id {ours}) is not the key the database's sensitive fields were sealed with \
         (id {theirs}): give every instance that shares this database the same key, by copying encryption.key from \
         the data folder of the instance that made it, or by setting encryption_key / CONSTELLATE_ENCRYPTION_KEY to the \
         line in that file"
    )]
    OtherKey { ours: String, theirs: String },
    #[error(
        "the key with id {0} in this instance's key ring is not the key of that id that sealed the database's values \
         (a damaged or edited key file?)"
    )]
    WrongKey(String),
    #[error(transparent)]
    Keys(#[from] CryptoError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The key checks stored in the database: (key id, the known value sealed under it).
async fn stored(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, value FROM secrets WHERE name LIKE $1 ORDER BY name")
            .bind(format!("{PREFIX}%"))
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|(name, value)| (name[PREFIX.len()..].to_string(), value)).collect())
}

/// Whether `ring` can open what the database holds: every stored check whose key the ring
/// has must open, and at least one must. True when the ring's newest key has no check yet.
fn verify(ring: &Keyring, checks: &[(String, String)]) -> Result<bool, KeyCheckError> {
    let mut opened = false;
    for (id, sealed) in checks.iter().filter(|(id, _)| ring.has(id)) {
        match ring.decrypt(sealed) {
            Ok(text) if text == KNOWN => opened = true,
            _ => return Err(KeyCheckError::WrongKey(id.clone())),
        }
    }
    if !opened {
        let theirs = checks.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ");
        return Err(KeyCheckError::OtherKey { ours: ring.newest_id().to_string(), theirs });
    }
    Ok(!checks.iter().any(|(id, _)| id == ring.newest_id()))
}

async fn record(conn: &mut AnyConnection, ring: &Keyring) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(format!("{PREFIX}{}", ring.newest_id()))
        .bind(ring.encrypt(KNOWN))
        .bind(crate::core::time::now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The key ring for this instance, checked against the database. On a database with no check
/// yet, this instance's key (made now if there is none) becomes the one every other must use.
/// Runs in one transaction that other instances starting at the same moment wait for.
pub async fn open_keys(db: &Db, config: &Config) -> Result<Keyring, KeyCheckError> {
    let mut tx = db.begin().await?;
    if db.dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(727275)").execute(&mut *tx).await?;
    }
    let checks = stored(&mut tx).await?;
    let ring = Keyring::load(config.encryption_key.as_deref(), &config.data_dir, checks.is_empty())?;
    if checks.is_empty() || verify(&ring, &checks)? {
        record(&mut tx, &ring).await?;
    }
    tx.commit().await?;
    Ok(ring)
}

/// For `config check`: what is wrong with this instance's key for this database, if anything.
/// Reads only; a database or key file that does not exist yet is not a problem.
pub async fn problem(db: &Db, config: &Config) -> Option<String> {
    let mut conn = db.pool.acquire().await.ok()?;
    let checks = stored(&mut conn).await.ok()?;
    if checks.is_empty() {
        return None;
    }
    let checked = Keyring::load(config.encryption_key.as_deref(), &config.data_dir, false)
        .map_err(KeyCheckError::from)
        .and_then(|ring| verify(&ring, &checks));
    checked.err().map(|e| format!("encryption key: {e}"))
}

/// After `keys rotate` re-encrypted everything under the ring's newest key and retired the rest.
pub async fn after_rotation(db: &Db, ring: &Keyring, retired: &[String]) -> Result<(), sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    record(&mut conn, ring).await?;
    for id in retired {
        sqlx::query("DELETE FROM secrets WHERE name = $1").bind(format!("{PREFIX}{id}")).execute(&mut *conn).await?;
    }
    Ok(())
}
