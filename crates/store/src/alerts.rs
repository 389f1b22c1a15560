//! Anomaly detection's rows: what a pass reads — every site with its last batch and
//! heartbeat, and its counts per time bucket from the audit log and the batches, each in
//! one grouped query whatever the number of sites — the alerts it opens, keeps and resolves
//! (one transaction, with their audit entries), the alerts admins read, and the lease that
//! lets one instance at a time run a pass.

use kendrix_core::{AuditDraft, UnixMillis};
use sqlx::QueryBuilder;

use crate::dialect::{sql, Dialect, PushParam, Statement};
use crate::sql_store::Connections;
use crate::{
    Alert, AlertChanges, AlertQuery, Backend, MetricCount, SiteSignals, StoreError, StoreResult,
};

const TAKE_LEASE: &str = "UPDATE detection_lease SET holder = $1, until_ms = $2 \
     WHERE id = 1 AND (until_ms < $3 OR holder = $1 OR $4)";

/// Every site that can sync (not revoked), with what tells whether it went quiet and the
/// configuration it last said it runs.
const SITES: &str = "SELECT c.id AS client_pk, c.tenant_id, c.client_id, c.name, c.created_at, \
     v.last_at AS last_batch_at, s.received_at AS heartbeat_at, s.interval_secs, \
     s.oldest_pending_at, r.config_hash, r.reported_at AS config_reported_at \
     FROM oauth_clients c \
     LEFT JOIN (SELECT client_pk, MAX(updated_at) AS last_at FROM sync_versions \
                GROUP BY client_pk) v ON v.client_pk = c.id \
     LEFT JOIN site_status s ON s.client_pk = c.id \
     LEFT JOIN config_reports r ON r.client_pk = c.id \
     WHERE c.revoked_at IS NULL AND c.scopes LIKE '%sync:write%'";

/// Per site and bucket of `$2` ms since `$1`: failed authentications, tokens issued,
/// records refused and batches refused. Sparse: buckets with nothing do not come back.
const COUNTS: &str = "\
     SELECT c.id AS client_pk, 'auth_failures' AS metric, l.at / $2 AS bucket, \
       CAST(COUNT(*) AS BIGINT) AS n FROM audit_logs l \
       JOIN oauth_clients c ON c.client_id = l.client_id \
       WHERE l.event = 'auth.client.failure' AND l.at >= $1 GROUP BY 1, 3 \
     UNION ALL \
     SELECT c.id, 'tokens_issued', l.at / $2, CAST(COUNT(*) AS BIGINT) FROM audit_logs l \
       JOIN oauth_clients c ON c.client_id = l.client_id \
       WHERE l.event = 'token.issued' AND l.at >= $1 GROUP BY 1, 3 \
     UNION ALL \
     SELECT client_pk, 'rejected_records', received_at / $2, CAST(SUM(rejected) AS BIGINT) \
       FROM sync_batches WHERE received_at >= $1 AND rejected > 0 \
       GROUP BY 1, 3 \
     UNION ALL \
     SELECT client_pk, 'refused_batches', received_at / $2, CAST(COUNT(*) AS BIGINT) \
       FROM sync_batches WHERE received_at >= $1 AND outcome = 'refused' \
       GROUP BY 1, 3";

/// Rows (or ids) per statement, well under SQLite's 32,766 bound parameters.
const CHUNK: usize = 1000;

const ALERT_COLUMNS: &str = "a.id, a.kind, a.tenant_id, c.client_id, c.name, a.opened_at, \
     a.unusual_at, a.resolved_at, a.observed, a.baseline, a.summary";
const INSERT_ALERTS: &str = "INSERT INTO alerts (kind, tenant_id, client_pk, opened_at, \
     unusual_at, observed, baseline, summary) ";
const OPEN_COUNTS: &str =
    "SELECT kind, CAST(COUNT(*) AS BIGINT) FROM alerts WHERE resolved_at IS NULL GROUP BY kind";

/// Takes (or keeps) the detection lease for `holder` until `until`; false while another
/// instance holds it — unless `from_anyone`, which takes it whoever holds it.
pub(crate) async fn take_lease<D: Dialect>(
    db: &Connections<D>,
    holder: &str,
    now: UnixMillis,
    until: UnixMillis,
    from_anyone: bool,
) -> StoreResult<bool> {
    let taken = sql(TAKE_LEASE)
        .bind(holder)
        .bind(until)
        .bind(now)
        .bind(from_anyone)
        .execute(db.write())
        .await?;
    Ok(taken == 1)
}

pub(crate) async fn sites<D: Dialect>(db: &Connections<D>) -> StoreResult<Vec<SiteSignals>> {
    sql(SITES).fetch_all(db.read()).await
}

/// The metrics [`COUNTS`] names, as [`MetricCount::metric`] holds them (and `site_hours`
/// names its columns).
pub(crate) const METRICS: [&str; 4] = [
    "auth_failures",
    "tokens_issued",
    "rejected_records",
    "refused_batches",
];

pub(crate) async fn counts<D: Dialect>(
    db: &Connections<D>,
    since: UnixMillis,
    bucket_ms: i64,
) -> StoreResult<Vec<MetricCount>> {
    // One row per site and metric, its buckets as `bucket:count` pairs: two weeks of a
    // site's hours come back as one row rather than hundreds (rows are what reading costs).
    let pairs = match D::BACKEND {
        Backend::Sqlite => "group_concat(bucket || ':' || n, ',')",
        Backend::Postgres => "string_agg(bucket || ':' || n, ',')",
    };
    let grouped =
        format!("SELECT client_pk, metric, {pairs} FROM ({COUNTS}) c GROUP BY client_pk, metric");
    let rows: Vec<(i64, String, String)> = sql(&grouped)
        .bind(since)
        .bind(bucket_ms)
        .fetch_all(db.read())
        .await?;
    let mut counts = Vec::new();
    for (client_pk, metric, pairs) in rows {
        let metric = METRICS
            .into_iter()
            .find(|m| *m == metric)
            .ok_or_else(|| undecodable(&metric))?;
        push_pairs(&mut counts, client_pk, metric, &pairs)?;
    }
    Ok(counts)
}

/// Adds a site's counts of one metric from its `bucket:count` pairs (`,`-separated).
pub(crate) fn push_pairs(
    counts: &mut Vec<MetricCount>,
    client_pk: i64,
    metric: &'static str,
    pairs: &str,
) -> StoreResult<()> {
    for pair in pairs.split(',') {
        let parsed = pair
            .split_once(':')
            .and_then(|(b, n)| Some((b.parse().ok()?, n.parse().ok()?)));
        let (bucket, count) = parsed.ok_or_else(|| undecodable(pair))?;
        counts.push(MetricCount {
            client_pk,
            metric,
            bucket,
            count,
        });
    }
    Ok(())
}

fn undecodable(text: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("not a metric count: {text:?}").into(),
    ))
}

type AlertRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    f64,
    f64,
    String,
);

fn alert(row: AlertRow) -> Alert {
    let (
        id,
        kind,
        tenant_id,
        client_id,
        site_name,
        opened_at,
        unusual_at,
        resolved_at,
        observed,
        baseline,
        summary,
    ) = row;
    Alert {
        id,
        kind,
        tenant_id,
        client_id,
        site_name,
        opened_at,
        unusual_at,
        resolved_at,
        observed,
        baseline,
        summary,
    }
}

/// Alerts matching `query`: open ones first, then the newest.
pub(crate) async fn list<D: Dialect>(
    db: &Connections<D>,
    query: &AlertQuery,
) -> StoreResult<Vec<Alert>> {
    let mut select = QueryBuilder::<D>::new(format!(
        "SELECT {ALERT_COLUMNS} FROM alerts a LEFT JOIN oauth_clients c ON c.id = a.client_pk \
         WHERE 1 = 1"
    ));
    if let Some(tenant) = query.tenant_id {
        select.push(" AND a.tenant_id = ").push_param(tenant);
    }
    match query.open {
        Some(true) => {
            select.push(" AND a.resolved_at IS NULL");
        }
        Some(false) => {
            select.push(" AND a.resolved_at IS NOT NULL");
        }
        None => {}
    }
    if let Some(kind) = &query.kind {
        select.push(" AND a.kind = ").push_param(kind.clone());
    }
    if let Some(client) = &query.client_id {
        select
            .push(" AND c.client_id = ")
            .push_param(client.clone());
    }
    if let Some(pks) = &query.client_pks {
        if pks.is_empty() {
            return Ok(Vec::new());
        }
        select.push(" AND a.client_pk IN (");
        let mut list = select.separated(", ");
        for pk in pks {
            list.push_param(*pk);
        }
        select.push(")");
    }
    select
        .push(" ORDER BY CASE WHEN a.resolved_at IS NULL THEN 0 ELSE 1 END, a.opened_at DESC, a.id DESC LIMIT ")
        .push_param(query.limit);
    let rows: Vec<AlertRow> = Statement::from(select.build()).fetch_all(db.read()).await?;
    Ok(rows.into_iter().map(alert).collect())
}

/// Open alerts per kind (the metrics' gauges).
pub(crate) async fn open_counts<D: Dialect>(
    db: &Connections<D>,
) -> StoreResult<Vec<(String, i64)>> {
    sql(OPEN_COUNTS).fetch_all(db.read()).await
}

/// Opens, keeps and resolves alerts as one pass decided, with their audit entries, in one
/// transaction: three statements whatever the number of alerts.
pub(crate) async fn apply<D: Dialect>(
    db: &Connections<D>,
    changes: &AlertChanges,
    now: UnixMillis,
    audit: &[AuditDraft],
) -> StoreResult<()> {
    let mut write = db.begin_write().await?;
    // In chunks: a storm (every site gone quiet after an outage) opens thousands at once,
    // more than one statement may bind.
    for chunk in changes.opened.chunks(CHUNK) {
        let mut insert = QueryBuilder::<D>::new(INSERT_ALERTS);
        insert.push_values(chunk, |mut row, a| {
            row.push_param(a.kind.clone())
                .push_param(a.tenant_id)
                .push_param(a.client_pk)
                .push_param(now)
                .push_param(now)
                .push_param(a.observed)
                .push_param(a.baseline)
                .push_param(a.summary.clone());
        });
        Statement::from(insert.build()).execute(write.on()).await?;
    }
    for (ids, set) in [
        (&changes.still_unusual, "unusual_at"),
        (&changes.resolved, "resolved_at"),
    ] {
        for chunk in ids.chunks(CHUNK) {
            let mut update = QueryBuilder::<D>::new(format!("UPDATE alerts SET {set} = "));
            update.push_param(now).push(" WHERE id IN (");
            let mut list = update.separated(", ");
            for id in chunk {
                list.push_param(*id);
            }
            update.push(")");
            Statement::from(update.build()).execute(write.on()).await?;
        }
    }
    write.commit(audit).await
}
