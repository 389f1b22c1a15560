//! Statistics over time: a tenant's batches (`sync_batches`) and authentication events
//! (`audit_logs`) counted per time bucket, each source in one set-based statement grouped by
//! the bucket expression `(t / bucket_ms) * bucket_ms`, integer division on both backends,
//! so buckets align to the Unix epoch. Buckets where nothing happened have no row; the
//! caller fills them in.

use crate::dialect::{sql, Dialect};
use crate::sql_store::Connections;
use crate::{AuthBucket, BatchBucket, SeriesQuery, StoreResult};

const BATCH_SERIES: &str = "SELECT CAST((received_at / $3) * $3 AS BIGINT) AS bucket_at, \
     CAST(SUM(CASE WHEN outcome = 'refused' THEN 0 ELSE 1 END) AS BIGINT) AS batches, \
     CAST(SUM(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END) AS BIGINT) AS refused_batches, \
     CAST(SUM(applied) AS BIGINT) AS applied, CAST(SUM(duplicate) AS BIGINT) AS duplicate, \
     CAST(SUM(stale) AS BIGINT) AS stale, CAST(SUM(rejected) AS BIGINT) AS rejected \
     FROM sync_batches \
     WHERE tenant_id = $1 AND received_at >= $2 AND received_at < $4 \
     AND ($5 IS NULL OR client_pk = $5) \
     GROUP BY 1 ORDER BY 1";
const AUTH_SERIES: &str = "SELECT CAST((at / $3) * $3 AS BIGINT) AS bucket_at, \
     CAST(SUM(CASE WHEN event = 'token.issued' THEN 1 ELSE 0 END) AS BIGINT) AS tokens_issued, \
     CAST(SUM(CASE WHEN event = 'token.issued' THEN 0 ELSE 1 END) AS BIGINT) AS auth_failed \
     FROM audit_logs \
     WHERE tenant_id = $1 AND at >= $2 AND at < $4 \
     AND event IN ('token.issued', 'auth.client.failure', 'auth.bearer.failure') \
     AND ($5 IS NULL OR client_id = $5) \
     GROUP BY 1 ORDER BY 1";

/// The batches of a series, per non-empty bucket, oldest first.
pub(crate) async fn batch_series<D: Dialect>(
    db: &Connections<D>,
    query: &SeriesQuery,
) -> StoreResult<Vec<BatchBucket>> {
    sql(BATCH_SERIES)
        .bind(query.tenant_id)
        .bind(query.since)
        .bind(query.bucket_ms)
        .bind(query.until)
        .bind(query.client.as_ref().map(|(pk, _)| *pk))
        .fetch_all(db.read())
        .await
}

/// The authentication events of a series, per non-empty bucket, oldest first.
pub(crate) async fn auth_series<D: Dialect>(
    db: &Connections<D>,
    query: &SeriesQuery,
) -> StoreResult<Vec<AuthBucket>> {
    sql(AUTH_SERIES)
        .bind(query.tenant_id)
        .bind(query.since)
        .bind(query.bucket_ms)
        .bind(query.until)
        .bind(query.client.as_ref().map(|(_, id)| id.clone()))
        .fetch_all(db.read())
        .await
}
