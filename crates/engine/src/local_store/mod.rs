//! The agent's local SQLite database (WAL), the one part of the engine that knows SQL: it
//! owns the schema in `migrations/agent/`. The outbox (`outbox.rs`), the batches formed from
//! it (`batches.rs`), dead letters and the sync history (`history.rs`), and what the agent
//! remembers (`agent_state.rs`); the queue's figures for the status and the heartbeat.

mod agent_state;
mod batches;
mod history;
mod outbox;

use std::path::Path;
use std::str::FromStr;

use kendrix_core::UnixMillis;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::{EngineError, EngineResult};

pub use agent_state::{AgentState, Names, Witness};
pub use batches::{BatchBudget, FormedBatch};
pub use history::{DeadLetter, SyncRun};
pub use outbox::Enqueue;

/// The queue as the heartbeat reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFigures {
    /// Records waiting: in the outbox and in formed batches not yet answered.
    pub queue_depth: i64,
    /// When the oldest waiting record was queued (`None`: nothing waits).
    pub oldest_pending_at: Option<UnixMillis>,
    pub dead_letters: i64,
}

/// The agent's local database.
#[derive(Debug, Clone)]
pub struct LocalStore {
    pool: SqlitePool,
}

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/agent/sqlite");
/// Rows per multi-row statement: 7 values a row stays far below SQLite's 32766 limit.
const CHUNK: usize = 1000;

impl LocalStore {
    /// Opens (creating and migrating) the local database at `path`.
    pub async fn open(path: &Path) -> EngineResult<Self> {
        // SQLite gives the -wal and -shm files the database file's mode: 0600 for all three.
        crate::private_files::private_file(path)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            crate::private_files::restrict_if_present(Path::new(&side))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        // One connection: the agent is one process, and every write is a short transaction.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Begins a write transaction on a task of its own, so a caller cancelled meanwhile (the
    /// app quitting mid-sync) never leaves the one connection inside a transaction: sqlx 0.8
    /// does when a custom `BEGIN` is cancelled between its acknowledgement and its check,
    /// and every later write then fails. An unclaimed transaction rolls back as it drops.
    async fn begin_write(&self) -> EngineResult<Transaction<'static, Sqlite>> {
        let pool = self.pool.clone();
        let begin = tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await });
        // The task fails only if the runtime is shutting down.
        let begun = begin
            .await
            .map_err(|_| EngineError::Database(sqlx::Error::PoolClosed))?;
        Ok(begun?)
    }

    /// Rewrites the whole file without the free pages and empties the WAL, so bytes of
    /// values deleted or replaced (a configuration an older agent cached whole) are gone
    /// from the disk.
    pub async fn compact(&self) -> EngineResult<()> {
        sqlx::query("VACUUM").execute(&self.pool).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether an inbox file with this content was already taken in.
    pub async fn inbox_file_taken(&self, name: &str, content_hash: &str) -> EngineResult<bool> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM inbox_files WHERE name = $1 AND content_hash = $2")
                .bind(name)
                .bind(content_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// The queue in one read: records waiting (outbox and unanswered batches), when the
    /// oldest of them was queued, and the dead letters.
    pub async fn queue_figures(&self) -> EngineResult<QueueFigures> {
        let (queue_depth, oldest_pending_at, dead_letters) = sqlx::query_as(
            "SELECT (SELECT n FROM outbox_size) + (SELECT COALESCE(SUM(records), 0) FROM batches), \
             (SELECT MIN(at) FROM (SELECT MIN(enqueued_at) AS at FROM outbox UNION ALL \
              SELECT MIN(COALESCE(oldest_enqueued_at, formed_at)) FROM batches)), \
             (SELECT COUNT(*) FROM dead_letters)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueFigures {
            queue_depth,
            oldest_pending_at,
            dead_letters,
        })
    }

    /// Records waiting: in the outbox and in formed batches not yet answered.
    pub async fn queue_depth(&self) -> EngineResult<i64> {
        let (depth,): (i64,) = sqlx::query_as(
            "SELECT (SELECT n FROM outbox_size) + (SELECT COALESCE(SUM(records), 0) FROM batches)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(depth)
    }
}
