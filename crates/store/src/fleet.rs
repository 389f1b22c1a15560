//! What admins see of their sites (`site_status`, `site_runs`, and reads over tokens,
//! batches and the audit log), the heartbeats that feed it, and secret rotation.

use std::collections::HashMap;

use kendrix_core::{AuditDraft, UnixMillis};

use crate::dialect::{sql, Dialect};
use crate::sql_store::Connections;
use crate::tenants::CLIENT_COLUMNS;
use crate::{BatchFigures, Client, NewHeartbeat, SiteActivity, SiteRun, SiteStatus, StoreResult};

const UPSERT_STATUS: &str = "INSERT INTO site_status (client_pk, tenant_id, received_at, \
     agent_version, queue_depth, oldest_pending_at, dead_letters, config_hash, interval_secs) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (client_pk) DO UPDATE SET \
     received_at = excluded.received_at, agent_version = excluded.agent_version, \
     queue_depth = excluded.queue_depth, oldest_pending_at = excluded.oldest_pending_at, \
     dead_letters = excluded.dead_letters, config_hash = excluded.config_hash, \
     interval_secs = excluded.interval_secs";
/// An idle heartbeat repeats its last run; the key keeps one row of it.
const INSERT_RUN: &str = "INSERT INTO site_runs (client_pk, started_at, finished_at, outcome, \
     sent, applied, refused, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (client_pk, started_at) DO NOTHING";
pub(crate) const PRUNE_RUNS: &str = "DELETE FROM site_runs WHERE started_at < $1";

const STATUSES: &str = "SELECT client_pk, received_at, agent_version, queue_depth, \
     oldest_pending_at, dead_letters, config_hash, interval_secs \
     FROM site_status WHERE tenant_id = $1";
const LAST_TOKENS: &str = "SELECT client_pk, MAX(issued_at) FROM oauth_tokens \
     WHERE tenant_id = $1 GROUP BY client_pk";
/// A batch that applied moves the site's high-water marks, so their newest time is its last
/// successful batch.
const LAST_BATCHES: &str = "SELECT client_pk, MAX(updated_at) FROM sync_versions \
     WHERE tenant_id = $1 GROUP BY client_pk";
const RECENT_FIGURES: &str = "SELECT client_pk, CAST(SUM(records) AS BIGINT), \
     CAST(SUM(rejected) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM sync_batches \
     WHERE tenant_id = $1 AND received_at >= $2 GROUP BY client_pk";
const AUTH_FAILURES: &str = "SELECT client_id, CAST(COUNT(*) AS BIGINT) FROM audit_logs \
     WHERE tenant_id = $1 AND event = 'auth.client.failure' AND at >= $2 \
     AND client_id IS NOT NULL GROUP BY client_id";
const CLIENT_PKS: &str = "SELECT id, client_id FROM oauth_clients WHERE tenant_id = $1";
const RUNS: &str = "SELECT started_at, finished_at, outcome, sent, applied, refused, message \
     FROM site_runs WHERE client_pk = $1 ORDER BY started_at DESC LIMIT $2";
const CLIENT_BATCHES: &str = "SELECT c.client_id, b.received_at, b.records, b.applied, \
     b.duplicate, b.stale, b.rejected, b.duration_us, b.outcome \
     FROM sync_batches b JOIN oauth_clients c ON c.id = b.client_pk \
     WHERE b.client_pk = $1 ORDER BY b.received_at DESC LIMIT $2";

fn rotate_sql() -> String {
    format!(
        "UPDATE oauth_clients SET previous_secret_hash = CASE WHEN $1 IS NULL THEN NULL \
         ELSE secret_hash END, previous_secret_until = $1, secret_hash = $2 \
         WHERE client_id = $3 AND revoked_at IS NULL RETURNING {CLIENT_COLUMNS}"
    )
}

/// Stores a site's heartbeat: its status replaces the last one, its run joins the history,
/// and the configuration it runs is what drift compares.
pub(crate) async fn record_heartbeat<D: Dialect>(
    db: &Connections<D>,
    beat: &NewHeartbeat,
) -> StoreResult<()> {
    let mut write = db.begin_write().await?;
    sql(UPSERT_STATUS)
        .bind(beat.client_pk)
        .bind(beat.tenant_id)
        .bind(beat.received_at)
        .bind(&beat.agent_version)
        .bind(beat.queue_depth)
        .bind(beat.oldest_pending_at)
        .bind(beat.dead_letters)
        .bind(beat.config_hash.as_deref())
        .bind(beat.interval_secs)
        .execute(write.on())
        .await?;
    if let Some(run) = &beat.last_run {
        sql(INSERT_RUN)
            .bind(beat.client_pk)
            .bind(run.started_at)
            .bind(run.finished_at)
            .bind(&run.outcome)
            .bind(run.sent)
            .bind(run.applied)
            .bind(run.refused)
            .bind(run.message.as_deref())
            .execute(write.on())
            .await?;
    }
    if let Some(hash) = &beat.config_hash {
        sql(crate::config::REPORT_CONFIG)
            .bind(beat.client_pk)
            .bind(hash)
            .bind(beat.received_at)
            .execute(write.on())
            .await?;
    }
    write.commit(&[]).await
}

/// Per client of a tenant: its latest heartbeat, last token and successful batch, and the
/// figures since `since`. Five set-based reads, whatever the number of sites.
pub(crate) async fn activity<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
    since: UnixMillis,
) -> StoreResult<HashMap<i64, SiteActivity>> {
    let statuses: Vec<SiteStatus> = sql(STATUSES).bind(tenant_id).fetch_all(db.read()).await?;
    let tokens: Vec<(i64, Option<i64>)> = sql(LAST_TOKENS)
        .bind(tenant_id)
        .fetch_all(db.read())
        .await?;
    let batches: Vec<(i64, Option<i64>)> = sql(LAST_BATCHES)
        .bind(tenant_id)
        .fetch_all(db.read())
        .await?;
    let figures: Vec<(i64, Option<i64>, Option<i64>, i64)> = sql(RECENT_FIGURES)
        .bind(tenant_id)
        .bind(since)
        .fetch_all(db.read())
        .await?;
    let failures: Vec<(String, i64)> = sql(AUTH_FAILURES)
        .bind(tenant_id)
        .bind(since)
        .fetch_all(db.read())
        .await?;
    let ids: Vec<(i64, String)> = sql(CLIENT_PKS).bind(tenant_id).fetch_all(db.read()).await?;
    let clients: HashMap<String, i64> = ids.into_iter().map(|(pk, id)| (id, pk)).collect();

    let mut activity: HashMap<i64, SiteActivity> = HashMap::new();
    for status in statuses {
        let pk = status.client_pk;
        activity.entry(pk).or_default().status = Some(status);
    }
    for (pk, at) in tokens {
        activity.entry(pk).or_default().last_token_at = at;
    }
    for (pk, at) in batches {
        activity.entry(pk).or_default().last_batch_at = at;
    }
    for (pk, records, rejected, count) in figures {
        let site = activity.entry(pk).or_default();
        site.records_recent = records.unwrap_or(0);
        site.rejected_recent = rejected.unwrap_or(0);
        site.batches_recent = count;
    }
    for (client_id, count) in failures {
        if let Some(pk) = clients.get(&client_id) {
            activity.entry(*pk).or_default().auth_failures_recent = count;
        }
    }
    Ok(activity)
}

/// A site's latest reported runs, newest first.
pub(crate) async fn runs<D: Dialect>(
    db: &Connections<D>,
    client_pk: i64,
    limit: i64,
) -> StoreResult<Vec<SiteRun>> {
    sql(RUNS)
        .bind(client_pk)
        .bind(limit)
        .fetch_all(db.read())
        .await
}

/// A site's latest batches, newest first.
pub(crate) async fn client_batches<D: Dialect>(
    db: &Connections<D>,
    client_pk: i64,
    limit: i64,
) -> StoreResult<Vec<BatchFigures>> {
    sql(CLIENT_BATCHES)
        .bind(client_pk)
        .bind(limit)
        .fetch_all(db.read())
        .await
}

/// Gives an active client a new secret hash. With `previous_until`, the replaced secret
/// keeps working until then; without, it stops at once. `None` if no such active client.
pub(crate) async fn rotate_secret<D: Dialect>(
    db: &Connections<D>,
    client_id: &str,
    secret_hash: &str,
    previous_until: Option<UnixMillis>,
    audit: AuditDraft,
) -> StoreResult<Option<Client>> {
    let mut write = db.begin_write().await?;
    let client: Option<Client> = sql(&rotate_sql())
        .bind(previous_until)
        .bind(secret_hash)
        .bind(client_id)
        .fetch_optional(write.on())
        .await?;
    if client.is_some() {
        write.commit(&[audit]).await?;
    }
    Ok(client)
}
