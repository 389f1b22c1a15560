//! PostgreSQL backend: for production and for several server instances sharing one database.
//! Nothing shared lives in an instance's memory: rate windows, tokens, idempotency keys and
//! the audit chain head are rows, and appends to the chain lock its head row.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use kendrix_core::sync::Record;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::{Pool, Postgres, QueryBuilder};

use crate::batches::UPSERT_TAIL;
use crate::dialect::{Decoded, Dialect, On, Param};
use crate::sql_store::{Connections, SqlStore};
use crate::sync::{stored_from_rows, RecordRow, StoredVersions};
use crate::{Backend, StoreError, StoreResult};

/// The PostgreSQL implementation of [`crate::Store`].
pub type PgStore = SqlStore<Postgres>;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/server/postgres");

impl SqlStore<Postgres> {
    /// Opens `postgres://user@host/db`; reads and writes share one pool.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self::new(Connections::new(pool.clone(), pool)))
    }
}

impl Dialect for Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const BEGIN: Option<&'static str> = None;
    type Readers = Pool<Postgres>;
    /// Waits for, then holds, the head row until commit: concurrent appends from any number
    /// of instances line up behind it and each sees the head the previous one wrote.
    const LOCK_CHAIN_HEAD: &'static str =
        "SELECT seq, head_hash FROM audit_chain WHERE id = 1 FOR UPDATE";
    const ROW_LOCK: &'static str = " FOR UPDATE";

    fn bind<'q, T: Param<'q>>(
        query: Query<'q, Postgres, PgArguments>,
        value: T,
    ) -> Query<'q, Postgres, PgArguments> {
        query.bind(value)
    }

    fn push_bind<'a, T: Param<'a>>(builder: &mut QueryBuilder<'a, Postgres>, value: T) {
        builder.push_bind(value);
    }

    fn push_separated_bind<'a, T: Param<'a>>(
        list: &mut Separated<'_, 'a, Postgres, &'static str>,
        value: T,
    ) {
        list.push_bind(value);
    }

    async fn execute<'q, 'a: 'q>(
        query: Query<'q, Postgres, PgArguments>,
        on: On<'_, Postgres>,
    ) -> sqlx::Result<u64> {
        let done = match on {
            On::Tx(conn) => query.execute(conn).await?,
            On::Read(pool) | On::Pool(pool) => query.execute(pool).await?,
        };
        Ok(done.rows_affected())
    }

    fn fetch_all<'q, 'a: 'q, O: Decoded>(
        query: Query<'q, Postgres, PgArguments>,
        on: On<'_, Postgres>,
    ) -> impl Future<Output = sqlx::Result<Vec<O>>> + Send {
        let query = query.try_map(|row| O::from_row(&row));
        async move {
            match on {
                On::Tx(conn) => query.fetch_all(conn).await,
                On::Read(pool) | On::Pool(pool) => query.fetch_all(pool).await,
            }
        }
    }

    fn fetch_optional<'q, 'a: 'q, O: Decoded>(
        query: Query<'q, Postgres, PgArguments>,
        on: On<'_, Postgres>,
    ) -> impl Future<Output = sqlx::Result<Option<O>>> + Send {
        let query = query.try_map(|row| O::from_row(&row));
        async move {
            match on {
                On::Tx(conn) => query.fetch_optional(conn).await,
                On::Read(pool) | On::Pool(pool) => query.fetch_optional(pool).await,
            }
        }
    }

    async fn migrate(pool: &Pool<Postgres>) -> StoreResult<()> {
        Ok(MIGRATOR.run(pool).await?)
    }

    /// The keys travel as two arrays, and each is looked up by the primary key: the
    /// `LIMIT 1` keeps the subquery apart, so the planner cannot turn the lookups into a hash
    /// join over the whole `records` table (which it did — a full scan per batch, bench S7).
    fn stored_versions(
        conn: &mut PgConnection,
        tenant_id: i64,
        records: &[Record],
    ) -> impl Future<Output = StoreResult<StoredVersions>> + Send {
        let entities: Vec<&str> = records.iter().map(|r| r.entity.as_str()).collect();
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        async move {
            let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                "SELECT k.n - 1, r.version, r.content_hash, r.batch_id \
                 FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS k(entity, record_id, n) \
                 CROSS JOIN LATERAL (SELECT version, content_hash, batch_id FROM records \
                   WHERE tenant_id = $1 AND entity = k.entity AND record_id = k.record_id \
                   LIMIT 1) r",
            )
            .bind(tenant_id)
            .bind(entities)
            .bind(ids)
            .fetch_all(conn)
            .await?;
            Ok(stored_from_rows(rows))
        }
    }

    /// One statement over arrays, whatever the batch's size.
    fn upsert_records(
        conn: &mut PgConnection,
        tenant_id: i64,
        client_pk: i64,
        batch_id: &str,
        at: i64,
        rows: &[RecordRow<'_>],
    ) -> impl Future<Output = StoreResult<u64>> + Send {
        let entities: Vec<&str> = rows.iter().map(|r| r.record.entity.as_str()).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.record.id.as_str()).collect();
        let versions: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
        let deleted: Vec<bool> = rows.iter().map(|r| r.deleted).collect();
        let data: Vec<Option<&str>> = rows.iter().map(|r| r.data).collect();
        let hashes: Vec<&str> = rows.iter().map(|r| r.content_hash).collect();
        async move {
            if entities.is_empty() {
                return Ok(0);
            }
            let sql = format!(
                "INSERT INTO records (tenant_id, entity, record_id, version, deleted, data, \
                 content_hash, client_pk, batch_id, updated_at) \
                 SELECT $1, k.* , $8, $9, $10 FROM UNNEST($2::text[], $3::text[], $4::text[], \
                 $5::bool[], $6::text[], $7::text[]) AS k {UPSERT_TAIL}"
            );
            let written = sqlx::query(&sql)
                .bind(tenant_id)
                .bind(entities)
                .bind(ids)
                .bind(versions)
                .bind(deleted)
                .bind(data)
                .bind(hashes)
                .bind(client_pk)
                .bind(batch_id)
                .bind(at)
                .execute(conn)
                .await?
                .rows_affected();
            Ok(written)
        }
    }

    /// Full-text search with the `simple` configuration (no stemming: ids and codes match
    /// as written), using the GIN index over event, client id and details.
    fn push_text_search(select: &mut QueryBuilder<'_, Postgres>, text: &str) {
        select
            .push(
                " AND to_tsvector('simple', event || ' ' || coalesce(client_id, '') || ' ' || details) \
                 @@ plainto_tsquery('simple', ",
            )
            .push_bind(text.to_owned())
            .push(")");
    }
}
