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

use kendrix_core::sync::Record;

use crate::group_commit::WriteQueue;
use crate::sql::UPSERT_TAIL;
use crate::sync::{stored_from_rows, RecordRow, StoredVersions};
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
        crate::begin_detached(&self.write, Some("BEGIN IMMEDIATE")).await
    }
}

impl SqliteConnections {
    /// The stored versions of a batch's records: the keys travel as one JSON array.
    async fn stored_versions(
        tx: &mut Transaction<'static, Sqlite>,
        tenant_id: i64,
        records: &[Record],
    ) -> StoreResult<StoredVersions> {
        let keys: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r.entity.as_str(), r.id.as_str()))
            .collect();
        let keys = serde_json::to_string(&keys).expect("keys serialize");
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT k.key, r.version, r.content_hash, r.batch_id \
             FROM json_each($2) AS k CROSS JOIN records AS r \
             ON r.tenant_id = $1 AND r.entity = k.value ->> 0 AND r.record_id = k.value ->> 1",
        )
        .bind(tenant_id)
        .bind(keys)
        .fetch_all(&mut **tx)
        .await?;
        Ok(stored_from_rows(rows))
    }

    /// Upserts record rows (newer versions only) in multi-row statements; returns how many
    /// were written.
    async fn upsert_records(
        tx: &mut Transaction<'static, Sqlite>,
        tenant_id: i64,
        client_pk: i64,
        batch_id: &str,
        at: i64,
        rows: &[RecordRow<'_>],
    ) -> StoreResult<u64> {
        let mut written = 0;
        // 10 bound values a row; SQLite allows 32766 in one statement.
        for chunk in rows.chunks(1000) {
            let mut upsert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO records (tenant_id, entity, record_id, version, deleted, data, \
                 content_hash, client_pk, batch_id, updated_at) ",
            );
            upsert.push_values(chunk, |mut b, row| {
                b.push_bind(tenant_id)
                    .push_bind(row.record.entity.as_str())
                    .push_bind(row.record.id.as_str())
                    .push_bind(row.version.as_str())
                    .push_bind(row.deleted)
                    .push_bind(row.data)
                    .push_bind(row.content_hash)
                    .push_bind(client_pk)
                    .push_bind(batch_id)
                    .push_bind(at);
            });
            upsert.push(UPSERT_TAIL);
            written += upsert.build().execute(&mut **tx).await?.rows_affected();
        }
        Ok(written)
    }
}

impl SqliteConnections {
    /// FTS5 over event, client id and details; the words are quoted, so the text is never
    /// read as FTS query syntax.
    fn push_text_search(select: &mut sqlx::QueryBuilder<'_, Sqlite>, text: &str) {
        let phrase: Vec<String> = text
            .split_whitespace()
            .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
            .collect();
        select
            .push(" AND id IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ")
            .push_bind(phrase.join(" "))
            .push(")");
    }
}

crate::common::impl_store!(SqliteStore, SqliteConnections, Sqlite, Backend::Sqlite);
