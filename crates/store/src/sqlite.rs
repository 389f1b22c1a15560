//! SQLite backend: the default, a single file created and migrated on first start.
//!
//! SQLite allows one writer at a time, so writes go through a one-connection pool (they queue
//! in-process instead of spinning in SQLite's busy handler) and start with `BEGIN IMMEDIATE`
//! (the write lock is taken up front, so a read-then-write transaction never fails to
//! upgrade). Reads use their own pool and run concurrently under WAL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::group_commit::WriteQueue;
use crate::{Backend, StoreResult};

/// The SQLite implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: SqliteConnections,
    queue: WriteQueue,
}

/// The read pool and the single-connection write pool of one database file.
#[derive(Debug, Clone)]
struct SqliteConnections {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://path` (creating the file if missing) in WAL mode.
    pub async fn open(url: &str, max_readers: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| crate::StoreError::BadUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .connect_with(options)
            .await?;
        let db = SqliteConnections { read, write };
        let queue = db.start_writer();
        Ok(Self { db, queue })
    }
}

impl SqliteConnections {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/server/sqlite");
    /// `BEGIN IMMEDIATE` already holds the write lock, so the head is read as is.
    const LOCK_CHAIN_HEAD: &'static str = "SELECT seq, head_hash FROM audit_chain WHERE id = 1";

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }
}

crate::common::impl_store!(SqliteStore, SqliteConnections, Sqlite, Backend::Sqlite);
