//! PostgreSQL backend: for production and for several server instances sharing one database.
//! Nothing shared lives in an instance's memory: rate windows, tokens, idempotency keys and
//! the audit chain head are rows, and appends to the chain lock its head row.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::group_commit::WriteQueue;
use crate::{Backend, StoreResult};

/// The PostgreSQL implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    db: PgConnections,
    queue: WriteQueue,
}

#[derive(Debug, Clone)]
struct PgConnections {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| crate::StoreError::BadUrl(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let db = PgConnections { pool };
        let queue = db.start_writer();
        Ok(Self { db, queue })
    }
}

impl PgConnections {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/server/postgres");
    /// Waits for, then holds, the head row until commit: concurrent appends from any number
    /// of instances line up behind it and each sees the head the previous one wrote.
    const LOCK_CHAIN_HEAD: &'static str =
        "SELECT seq, head_hash FROM audit_chain WHERE id = 1 FOR UPDATE";

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

crate::common::impl_store!(PgStore, PgConnections, Postgres, Backend::Postgres);
