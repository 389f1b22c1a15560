//! PostgreSQL backend: for production and for several server instances sharing one database.
//! Nothing shared lives in an instance's memory: rate windows, tokens, idempotency keys and
//! the audit chain head are rows, and appends to the chain lock its head row.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use kendrix_core::sync::Record;

use crate::group_commit::WriteQueue;
use crate::sql::UPSERT_TAIL;
use crate::sync::{stored_from_rows, RecordRow, StoredVersions};
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
        crate::begin_detached(&self.pool, None).await
    }
}

impl PgConnections {
    /// The stored versions of a batch's records: the keys travel as two arrays.
    async fn stored_versions(
        tx: &mut Transaction<'static, Postgres>,
        tenant_id: i64,
        records: &[Record],
    ) -> StoreResult<StoredVersions> {
        let entities: Vec<&str> = records.iter().map(|r| r.entity.as_str()).collect();
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT k.n - 1, r.version, r.content_hash, r.batch_id \
             FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS k(entity, record_id, n) \
             JOIN records r ON r.tenant_id = $1 AND r.entity = k.entity AND r.record_id = k.record_id",
        )
        .bind(tenant_id)
        .bind(entities)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?;
        Ok(stored_from_rows(rows))
    }

    /// Upserts record rows (newer versions only) in one statement over arrays; returns how
    /// many were written.
    async fn upsert_records(
        tx: &mut Transaction<'static, Postgres>,
        tenant_id: i64,
        client_pk: i64,
        batch_id: &str,
        at: i64,
        rows: &[RecordRow<'_>],
    ) -> StoreResult<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let entities: Vec<&str> = rows.iter().map(|r| r.record.entity.as_str()).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.record.id.as_str()).collect();
        let versions: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
        let deleted: Vec<bool> = rows.iter().map(|r| r.deleted).collect();
        let data: Vec<Option<&str>> = rows.iter().map(|r| r.data).collect();
        let hashes: Vec<&str> = rows.iter().map(|r| r.content_hash).collect();
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
            .execute(&mut **tx)
            .await?
            .rows_affected();
        Ok(written)
    }
}

impl PgConnections {
    /// Full-text search with the `simple` configuration (no stemming: ids and codes match
    /// as written), using the GIN index over event, client id and details.
    fn push_text_search(select: &mut sqlx::QueryBuilder<'_, Postgres>, text: &str) {
        select
            .push(
                " AND to_tsvector('simple', event || ' ' || coalesce(client_id, '') || ' ' || details) \
                 @@ plainto_tsquery('simple', ",
            )
            .push_bind(text.to_owned())
            .push(")");
    }
}

crate::common::impl_store!(PgStore, PgConnections, Postgres, Backend::Postgres);
