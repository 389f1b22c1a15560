//! Batches and the records they write (`records`, `sync_versions`, `sync_batches`,
//! `sync_batch_entities`): applying a batch in one transaction, recording a refused one,
//! and the reads behind the records and statistics endpoints. The decisions themselves are
//! backend-neutral and live in `sync.rs`; the two statements whose SQL differs per backend
//! (reading stored versions, upserting records) are the `Dialect`'s.

use kendrix_core::UnixMillis;
use sqlx::QueryBuilder;

use crate::dialect::{sql, Decoded, Dialect, PushParam, Statement};
use crate::site_hours;
use crate::sql_store::Connections;
use crate::sync as apply;
use crate::{config, idempotency};
use crate::{AppliedBatch, BatchToApply, RefusedBatch};
use crate::{RenderResponse, StoreError, StoreResult, StoredRecord, SyncVersion};

/// Writes a record only over an older version (the tail of both backends' upserts).
pub(crate) const UPSERT_TAIL: &str = " ON CONFLICT (tenant_id, entity, record_id) DO UPDATE SET \
     version = excluded.version, deleted = excluded.deleted, data = excluded.data, \
     content_hash = excluded.content_hash, client_pk = excluded.client_pk, \
     batch_id = excluded.batch_id, updated_at = excluded.updated_at \
     WHERE excluded.version > records.version";
const UPSERT_MARKS: &str = "INSERT INTO sync_versions (tenant_id, client_pk, entity, \
     newest_version, last_batch_id, applied, duplicate, stale, updated_at) ";
const UPSERT_MARKS_TAIL: &str = " ON CONFLICT (tenant_id, client_pk, entity) DO UPDATE SET \
     newest_version = CASE WHEN excluded.newest_version > sync_versions.newest_version \
       THEN excluded.newest_version ELSE sync_versions.newest_version END, \
     last_batch_id = excluded.last_batch_id, \
     applied = sync_versions.applied + excluded.applied, \
     duplicate = sync_versions.duplicate + excluded.duplicate, \
     stale = sync_versions.stale + excluded.stale, \
     updated_at = excluded.updated_at";
const INSERT_BATCH: &str = "INSERT INTO sync_batches (batch_id, tenant_id, client_pk, \
     idempotency_key, received_at, records, applied, duplicate, stale, rejected, duration_us, \
     outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const INSERT_BATCH_ENTITIES: &str = "INSERT INTO sync_batch_entities \
     (batch_id, entity, applied, duplicate, stale, rejected) ";
const SYNC_VERSIONS: &str = "SELECT entity, newest_version, last_batch_id, applied, duplicate, \
     stale, updated_at FROM sync_versions WHERE tenant_id = $1 AND client_pk = $2 ORDER BY entity";
const RECORDS_PAGE: &str = "SELECT r.entity, r.record_id, r.version, r.deleted, r.data, \
     c.client_id, r.batch_id, r.updated_at \
     FROM records r JOIN oauth_clients c ON c.id = r.client_pk \
     WHERE r.tenant_id = $1 AND r.entity = $2 AND r.record_id > $3 \
     ORDER BY r.record_id LIMIT $4";
pub(crate) const BATCH_FIGURES: &str = "SELECT c.client_id, b.received_at, b.records, b.applied, \
     b.duplicate, b.stale, b.rejected, b.duration_us, b.outcome \
     FROM sync_batches b JOIN oauth_clients c ON c.id = b.client_pk \
     WHERE b.tenant_id = $1 AND b.received_at >= $2 ORDER BY b.received_at";
pub(crate) const ENTITY_FIGURES: &str = "SELECT c.client_id, e.entity, \
     CAST(SUM(e.applied) AS BIGINT) AS applied, CAST(SUM(e.duplicate) AS BIGINT) AS duplicate, \
     CAST(SUM(e.stale) AS BIGINT) AS stale, CAST(SUM(e.rejected) AS BIGINT) AS rejected \
     FROM sync_batch_entities e JOIN sync_batches b ON b.batch_id = e.batch_id \
     JOIN oauth_clients c ON c.id = b.client_pk \
     WHERE b.tenant_id = $1 AND b.received_at >= $2 \
     GROUP BY c.client_id, e.entity ORDER BY c.client_id, e.entity";

/// Applies a batch in one transaction; on a failure other than a lost lease, gives the key
/// back so the client's retry is applied at once rather than after the lease.
pub(crate) async fn apply<D: Dialect>(
    db: &Connections<D>,
    batch: BatchToApply,
    render: RenderResponse<'_>,
) -> StoreResult<AppliedBatch> {
    match apply_in_one_transaction(db, &batch, render).await {
        Err(err) if !matches!(err, StoreError::LeaseLost) => {
            // Failing to give it back only means waiting for the lease to run out.
            let _ = idempotency::release(db, batch.client_pk, &batch.idempotency_key, &batch.owner)
                .await;
            Err(err)
        }
        applied => applied,
    }
}

async fn apply_in_one_transaction<D: Dialect>(
    db: &Connections<D>,
    batch: &BatchToApply,
    render: RenderResponse<'_>,
) -> StoreResult<AppliedBatch> {
    let records = &batch.records;
    let (texts, hashes) = apply::texts_and_hashes(records);
    let mut write = db.begin_write().await?;
    // Written first, as if every record were new or newer than what is stored: the upsert
    // writes only those that are (`UPSERT_TAIL`), so a batch of changes the server has not
    // seen costs one statement. (Reading the stored versions first descended the primary
    // key once more per record: 14 % of PostgreSQL's time in bench S7.)
    let mut decisions = apply::decide_all(records, &hashes, &apply::StoredVersions::new());
    let mut rows = apply::rows_to_write(records, &texts, &hashes, &decisions);
    // In key order, so two instances writing overlapping batches lock the rows they share in
    // the same order and never wait on each other in a cycle (PostgreSQL's deadlock).
    rows.sort_unstable_by(|a, b| {
        (a.record.entity.as_str(), a.record.id.as_str())
            .cmp(&(b.record.entity.as_str(), b.record.id.as_str()))
    });
    let written = D::upsert_records(
        write.conn(),
        batch.tenant_id,
        batch.client_pk,
        &batch.batch_id,
        batch.received_at,
        &rows,
    )
    .await?;
    // Fewer rows written than sent: some records were not newer than the stored ones (or,
    // with several instances, another batch wrote a newer version first). Find those and
    // decide them against what is stored now: stale, duplicate or conflicting.
    if written < rows.len() as u64 {
        let now_stored = D::stored_versions(write.conn(), batch.tenant_id, records).await?;
        let lost = apply::lost_races(records, &decisions, &batch.batch_id, &now_stored);
        let again = apply::decide_all(records, &hashes, &now_stored);
        for (i, decision) in again.into_iter().enumerate() {
            if lost.contains(&i) {
                decisions[i] = decision;
            }
        }
    }
    let tally = apply::tally(records, &decisions);

    let mut marks = QueryBuilder::<D>::new(UPSERT_MARKS);
    marks.push_values(&tally.per_entity, |mut row, (entity, counts)| {
        row.push_param(batch.tenant_id)
            .push_param(batch.client_pk)
            .push_param(entity.clone())
            .push_param(tally.newest.get(entity).cloned().unwrap_or_default())
            .push_param(batch.batch_id.clone())
            .push_param(counts.applied as i64)
            .push_param(counts.duplicate as i64)
            .push_param(counts.stale as i64)
            .push_param(batch.received_at);
    });
    marks.push(UPSERT_MARKS_TAIL);
    Statement::from(marks.build()).execute(write.on()).await?;

    let duration_us = batch.started.elapsed().as_micros() as i64;
    sql(INSERT_BATCH)
        .bind(&batch.batch_id)
        .bind(batch.tenant_id)
        .bind(batch.client_pk)
        .bind(Some(batch.idempotency_key.as_str()))
        .bind(batch.received_at)
        .bind(records.len() as i64)
        .bind(tally.total.applied as i64)
        .bind(tally.total.duplicate as i64)
        .bind(tally.total.stale as i64)
        .bind(tally.total.rejected as i64)
        .bind(duration_us)
        .bind("applied")
        .execute(write.on())
        .await?;
    site_hours::count_refused::<D>(
        write.conn(),
        batch.client_pk,
        batch.received_at,
        tally.total.rejected as i64,
        false,
    )
    .await?;
    let mut entities = QueryBuilder::<D>::new(INSERT_BATCH_ENTITIES);
    entities.push_values(&tally.per_entity, |mut row, (entity, counts)| {
        row.push_param(batch.batch_id.clone())
            .push_param(entity.clone())
            .push_param(counts.applied as i64)
            .push_param(counts.duplicate as i64)
            .push_param(counts.stale as i64)
            .push_param(counts.rejected as i64);
    });
    Statement::from(entities.build())
        .execute(write.on())
        .await?;

    if let Some(hash) = &batch.config_hash {
        sql(config::REPORT_CONFIG)
            .bind(batch.client_pk)
            .bind(hash)
            .bind(batch.received_at)
            .execute(write.on())
            .await?;
    }
    let response = apply::response(&batch.batch_id, records, &decisions, tally.total);
    let body = render(&response);
    if !idempotency::complete(write.on(), batch, &body).await? {
        // Dropping the transaction rolls every write of this batch back.
        return Err(StoreError::LeaseLost);
    }
    let audit = batch
        .audit
        .clone()
        .with_detail("batch_id", batch.batch_id.clone())
        .with_detail("records", records.len())
        .with_detail("applied", tally.total.applied)
        .with_detail("duplicate", tally.total.duplicate)
        .with_detail("stale", tally.total.stale)
        .with_detail("rejected", tally.total.rejected)
        .with_detail("duration_ms", duration_us as f64 / 1000.0)
        .with_detail("idempotency_key", batch.idempotency_key.clone());
    write.commit(&[audit]).await?;
    Ok(AppliedBatch { response, body })
}

/// Records a batch refused as a whole, with its audit entry.
pub(crate) async fn record_refused<D: Dialect>(
    db: &Connections<D>,
    batch: RefusedBatch,
) -> StoreResult<()> {
    let mut write = db.begin_write().await?;
    sql(INSERT_BATCH)
        .bind(&batch.batch_id)
        .bind(batch.tenant_id)
        .bind(batch.client_pk)
        .bind(batch.idempotency_key.as_deref())
        .bind(batch.received_at)
        .bind(batch.records)
        .bind(0_i64)
        .bind(0_i64)
        .bind(0_i64)
        .bind(batch.records)
        .bind(batch.duration_us)
        .bind("refused")
        .execute(write.on())
        .await?;
    site_hours::count_refused::<D>(
        write.conn(),
        batch.client_pk,
        batch.received_at,
        batch.records,
        true,
    )
    .await?;
    write.commit(&[batch.audit]).await
}

/// The caller's high-water marks per entity.
pub(crate) async fn sync_versions<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
    client_pk: i64,
) -> StoreResult<Vec<SyncVersion>> {
    sql(SYNC_VERSIONS)
        .bind(tenant_id)
        .bind(client_pk)
        .fetch_all(db.read())
        .await
}

/// A tenant's records of one entity with ids after `after`, in id order.
pub(crate) async fn records_page<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
    entity: &str,
    after: &str,
    limit: i64,
) -> StoreResult<Vec<StoredRecord>> {
    sql(RECORDS_PAGE)
        .bind(tenant_id)
        .bind(entity)
        .bind(after)
        .bind(limit)
        .fetch_all(db.read())
        .await
}

/// A tenant's statistics rows since `since`: [`BATCH_FIGURES`] (the batches, oldest first)
/// or [`ENTITY_FIGURES`] (per client and entity, the record outcomes).
pub(crate) async fn figures<D: Dialect, O: Decoded>(
    db: &Connections<D>,
    statement: &str,
    tenant_id: i64,
    since: UnixMillis,
) -> StoreResult<Vec<O>> {
    sql(statement)
        .bind(tenant_id)
        .bind(since)
        .fetch_all(db.read())
        .await
}
