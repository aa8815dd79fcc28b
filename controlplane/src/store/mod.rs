//! The control plane's SQLite store: the single writer of the database.
//!
//! One connection writes (a pool of one, so writes are serialised in the
//! process and never fight over the lock); a small pool of read-only
//! connections serves queries concurrently (WAL mode). Migrations from
//! `migrations/` are embedded and applied at open. Each submodule owns the
//! queries of one group of tables.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod audit;
pub mod breakers;
mod dataplanes;
mod pools;
mod schedules;
mod share_stats;
pub mod shares;
mod sites;
pub mod workers;

pub use breakers::BreakerRow;
pub use dataplanes::DataPlaneRow;
pub use pools::{PoolPatch, PoolRow, PoolSites};
pub use schedules::{OverrideRow, SlotEntry, SlotRow, windows};
pub use shares::{ShareFilter, ShareInsert, ShareRow, StatsRow};
pub use sites::{SiteRow, SwitchEvent};
pub use workers::{WorkerRow, WorkerWindows};

/// Embedded migrations (`migrations/*.sql`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// What can go wrong in the store, in terms the API can answer with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    InUse(String),
    /// A site's quota is used up (F9).
    #[error("{0}")]
    Quota(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    write: SqlitePool,
    read: SqlitePool,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> anyhow::Result<Store> {
        // The database holds the pools' passwords: a new one is readable by
        // its owner only. SQLite gives its -wal and -shm files the mode of
        // the database file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => anyhow::bail!("cannot create database {}: {e}", path.display()),
            }
        }
        let url = format!("sqlite://{}", path.display());
        let base = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Sorts too big for the cache (the statistics report's GROUP BY
            // over raw partial hours: about 60 bytes a row) go to temporary
            // files, not to the heap, where they stayed as a high-water mark
            // (+222 MB at 2 million rows in the soak, RELIABILITY.md).
            .pragma("temp_store", "file")
            .pragma("cache_size", "-65536");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", path.display()))?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate database {}: {e}", path.display()))?;
        // Readers keep a smaller page cache than the writer. A connection
        // keeps its cache (and its temporary sorts' cache, as much again)
        // for as long as it lives, so after the statistics report's scans
        // four readers at 64 MiB could hold about 0.5 GB; measured on the
        // soak's 3.6 million events, the report's query peaks at 137 MB
        // with 64 MiB, 37 MB with 16 MiB, in the same time (RELIABILITY.md).
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true).pragma("cache_size", "-16384"))
            .await?;
        Ok(Store {
            write,
            read,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the database takes writes now: takes the write lock and
    /// lets it go (`BEGIN IMMEDIATE`, `ROLLBACK`).
    pub async fn check_writable(&self) -> Result<()> {
        let mut conn = self.write.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        sqlx::query("ROLLBACK").execute(&mut *conn).await?;
        Ok(())
    }

    /// Bytes of the database file and its write-ahead log.
    pub fn size_bytes(&self) -> u64 {
        let wal = self.path.with_extension(match self.path.extension() {
            Some(e) => format!("{}-wal", e.to_string_lossy()),
            None => "wal".into(),
        });
        [&self.path, &wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

/// Maps a unique-constraint violation to `AlreadyExists(what)`.
fn unique(e: sqlx::Error, what: impl Into<String>) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::AlreadyExists(what.into())
        }
        _ => StoreError::Db(e),
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_workers;
