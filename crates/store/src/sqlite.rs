//! SQLite backend: the default, a single file created and migrated on first start.
//!
//! SQLite allows one writer at a time, so writes go through a one-connection pool (they queue
//! in-process instead of spinning in SQLite's busy handler) and start with `BEGIN IMMEDIATE`
//! (the write lock is taken up front, so a read-then-write transaction never fails to
//! upgrade, and the audit head needs no lock of its own). Reads run concurrently under WAL on
//! connections of their own, lent without sqlx's pool (`sqlite_readers.rs` says why).

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use kendrix_core::sync::Record;
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Pool, QueryBuilder, Sqlite};

use crate::batches::UPSERT_TAIL;
use crate::dialect::{Decoded, Dialect, On, Param};
use crate::sql_store::{Connections, SqlStore};
use crate::sqlite_readers::ReadConnections;
use crate::sync::{stored_from_rows, RecordRow, StoredVersions};
use crate::{Backend, StoreError, StoreResult};

/// The SQLite implementation of [`crate::Store`].
pub type SqliteStore = SqlStore<Sqlite>;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/server/sqlite");

impl SqlStore<Sqlite> {
    /// Opens `sqlite://path` (creating the file if missing) in WAL mode.
    pub async fn open(url: &str, max_readers: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // Not pinged before each transaction: a local file cannot go stale (see
        // `sqlite_readers.rs`); sqlx still pings it once when each transaction hands it back.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let read = ReadConnections::new(options, max_readers);
        Ok(Self::new(Connections::new(read, write)))
    }
}

impl Dialect for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    const BEGIN: Option<&'static str> = Some("BEGIN IMMEDIATE");
    type Readers = ReadConnections;
    /// `BEGIN IMMEDIATE` already holds the write lock, so the head is read as is.
    const LOCK_CHAIN_HEAD: &'static str = "SELECT seq, head_hash FROM audit_chain WHERE id = 1";
    const ROW_LOCK: &'static str = "";

    fn bind<'q, T: Param<'q>>(
        query: Query<'q, Sqlite, SqliteArguments<'q>>,
        value: T,
    ) -> Query<'q, Sqlite, SqliteArguments<'q>> {
        query.bind(value)
    }

    fn push_bind<'a, T: Param<'a>>(builder: &mut QueryBuilder<'a, Sqlite>, value: T) {
        builder.push_bind(value);
    }

    fn push_separated_bind<'a, T: Param<'a>>(
        list: &mut Separated<'_, 'a, Sqlite, &'static str>,
        value: T,
    ) {
        list.push_bind(value);
    }

    fn execute<'q, 'a: 'q>(
        query: Query<'q, Sqlite, SqliteArguments<'a>>,
        on: On<'_, Sqlite>,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send {
        let query: Query<'q, Sqlite, SqliteArguments<'q>> = query;
        async move {
            let done = match on {
                On::Tx(conn) => query.execute(conn).await?,
                On::Read(readers) => {
                    let mut conn = readers.lend().await?;
                    let done = query.execute(&mut *conn).await;
                    conn.give_back(done)?
                }
                On::Pool(pool) => query.execute(pool).await?,
            };
            Ok(done.rows_affected())
        }
    }

    fn fetch_all<'q, 'a: 'q, O: Decoded>(
        query: Query<'q, Sqlite, SqliteArguments<'a>>,
        on: On<'_, Sqlite>,
    ) -> impl Future<Output = sqlx::Result<Vec<O>>> + Send {
        let query: Query<'q, Sqlite, SqliteArguments<'q>> = query;
        let query = query.try_map(|row| O::from_row(&row));
        async move {
            match on {
                On::Tx(conn) => query.fetch_all(conn).await,
                On::Read(readers) => {
                    let mut conn = readers.lend().await?;
                    let rows = query.fetch_all(&mut *conn).await;
                    conn.give_back(rows)
                }
                On::Pool(pool) => query.fetch_all(pool).await,
            }
        }
    }

    fn fetch_optional<'q, 'a: 'q, O: Decoded>(
        query: Query<'q, Sqlite, SqliteArguments<'a>>,
        on: On<'_, Sqlite>,
    ) -> impl Future<Output = sqlx::Result<Option<O>>> + Send {
        let query: Query<'q, Sqlite, SqliteArguments<'q>> = query;
        let query = query.try_map(|row| O::from_row(&row));
        async move {
            match on {
                On::Tx(conn) => query.fetch_optional(conn).await,
                On::Read(readers) => {
                    let mut conn = readers.lend().await?;
                    let row = query.fetch_optional(&mut *conn).await;
                    conn.give_back(row)
                }
                On::Pool(pool) => query.fetch_optional(pool).await,
            }
        }
    }

    async fn migrate(pool: &Pool<Sqlite>) -> StoreResult<()> {
        Ok(MIGRATOR.run(pool).await?)
    }

    /// The keys travel as one JSON array.
    fn stored_versions(
        conn: &mut SqliteConnection,
        tenant_id: i64,
        records: &[Record],
    ) -> impl Future<Output = StoreResult<StoredVersions>> + Send {
        let keys: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r.entity.as_str(), r.id.as_str()))
            .collect();
        let keys = serde_json::to_string(&keys).expect("keys serialize");
        async move {
            let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                "SELECT k.key, r.version, r.content_hash, r.batch_id \
                 FROM json_each($2) AS k CROSS JOIN records AS r \
                 ON r.tenant_id = $1 AND r.entity = k.value ->> 0 AND r.record_id = k.value ->> 1",
            )
            .bind(tenant_id)
            .bind(keys)
            .fetch_all(conn)
            .await?;
            Ok(stored_from_rows(rows))
        }
    }

    /// Multi-row statements of 1000 rows (10 values a row; SQLite allows 32766 a statement).
    async fn upsert_records(
        conn: &mut SqliteConnection,
        tenant_id: i64,
        client_pk: i64,
        batch_id: &str,
        at: i64,
        rows: &[RecordRow<'_>],
    ) -> StoreResult<u64> {
        let mut written = 0;
        for chunk in rows.chunks(1000) {
            let mut upsert = QueryBuilder::<Sqlite>::new(
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
            written += upsert.build().execute(&mut *conn).await?.rows_affected();
        }
        Ok(written)
    }

    /// FTS5 over event, client id and details; the words are quoted, so the text is never
    /// read as FTS query syntax.
    fn push_text_search(select: &mut QueryBuilder<'_, Sqlite>, text: &str) {
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
