//! What admins see of their sites (`site_status`, `site_runs`, and reads over tokens,
//! batches and the audit log), the heartbeats that feed it, and secret rotation.

use std::collections::HashMap;

use kendrix_core::{AuditDraft, UnixMillis};

use sqlx::QueryBuilder;

use crate::dialect::{sql, Decoded, Dialect, PushParam, Statement};
use crate::sql_store::Connections;
use crate::tenants::CLIENT_COLUMNS;
use crate::{
    BatchFigures, Client, FleetCounts, FleetPageQuery, FleetRank, NewHeartbeat, SiteActivity,
    SiteRun, SiteStatus, StoreResult,
};

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

/// One read of what admins see, for a tenant's sites or a page of them: `head` ends at
/// `WHERE`; `tenant`, the column naming the tenant; `since`, the column counted from the
/// time asked for; `site`, the column a page restricts; `tail`, its grouping. A page is
/// read by its sites alone (their own index) unless `page_by_tenant` (the only index starts
/// with the tenant).
struct SiteRead {
    head: &'static str,
    tenant: &'static str,
    since: Option<&'static str>,
    site: &'static str,
    page_by_tenant: bool,
    tail: &'static str,
}

const STATUSES: SiteRead = SiteRead {
    head: "SELECT client_pk, received_at, agent_version, queue_depth, oldest_pending_at, \
           dead_letters, config_hash, interval_secs FROM site_status WHERE ",
    tenant: "tenant_id",
    since: None,
    site: "client_pk",
    page_by_tenant: false,
    tail: "",
};
const LAST_TOKENS: SiteRead = SiteRead {
    head: "SELECT client_pk, MAX(issued_at) FROM oauth_tokens WHERE ",
    tenant: "tenant_id",
    since: None,
    site: "client_pk",
    page_by_tenant: false,
    tail: " GROUP BY client_pk",
};
/// A batch that applied moves the site's high-water marks, so their newest time is its last
/// successful batch.
const LAST_BATCHES: SiteRead = SiteRead {
    head: "SELECT client_pk, MAX(updated_at) FROM sync_versions WHERE ",
    tenant: "tenant_id",
    since: None,
    site: "client_pk",
    page_by_tenant: true,
    tail: " GROUP BY client_pk",
};
const RECENT_FIGURES: SiteRead = SiteRead {
    head: "SELECT client_pk, CAST(SUM(records) AS BIGINT), CAST(SUM(rejected) AS BIGINT), \
           CAST(COUNT(*) AS BIGINT) FROM sync_batches WHERE ",
    tenant: "tenant_id",
    since: Some("received_at"),
    site: "client_pk",
    page_by_tenant: false,
    tail: " GROUP BY client_pk",
};
const AUTH_FAILURES: SiteRead = SiteRead {
    head: "SELECT c.id, CAST(COUNT(*) AS BIGINT) FROM audit_logs a \
           JOIN oauth_clients c ON c.client_id = a.client_id \
           WHERE a.event = 'auth.client.failure' AND ",
    tenant: "a.tenant_id",
    since: Some("a.at"),
    site: "c.id",
    page_by_tenant: true,
    tail: " GROUP BY c.id",
};
const REPORTED_CONFIGS: SiteRead = SiteRead {
    head: "SELECT r.client_pk, r.config_hash FROM config_reports r \
           JOIN oauth_clients c ON c.id = r.client_pk WHERE ",
    tenant: "c.tenant_id",
    since: None,
    site: "r.client_pk",
    page_by_tenant: false,
    tail: "",
};

impl SiteRead {
    fn statement<'a, D: Dialect>(
        &self,
        tenant_id: i64,
        since: UnixMillis,
        only: Option<&[i64]>,
    ) -> QueryBuilder<'a, D> {
        let mut select = QueryBuilder::<D>::new(self.head);
        if only.is_none() || self.page_by_tenant {
            select
                .push(format!("{} = ", self.tenant))
                .push_param(tenant_id)
                .push(" AND ");
        }
        // The tenant's `AND` is followed by the page's sites, or by nothing (`1 = 1`).
        match only {
            Some(pks) => {
                select.push(format!("{} IN (", self.site));
                let mut list = select.separated(", ");
                for pk in pks {
                    list.push_param(*pk);
                }
                select.push(")");
            }
            None => {
                select.push("1 = 1");
            }
        }
        if let Some(column) = self.since {
            select.push(format!(" AND {column} >= ")).push_param(since);
        }
        select.push(self.tail);
        select
    }

    async fn fetch<D: Dialect, O: Decoded>(
        &self,
        db: &Connections<D>,
        tenant_id: i64,
        since: UnixMillis,
        only: Option<&[i64]>,
    ) -> StoreResult<Vec<O>> {
        if only.is_some_and(<[i64]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut select = self.statement::<D>(tenant_id, since, only);
        Statement::from(select.build()).fetch_all(db.read()).await
    }
}

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

/// Per client of a tenant (or of its clients `only`): its latest heartbeat, last token and
/// successful batch, the configuration it reported, and the figures since `since`. Six
/// set-based reads, whatever the number of sites.
pub(crate) async fn activity<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
    since: UnixMillis,
    only: Option<&[i64]>,
) -> StoreResult<HashMap<i64, SiteActivity>> {
    let statuses: Vec<SiteStatus> = STATUSES.fetch(db, tenant_id, since, only).await?;
    let tokens: Vec<(i64, Option<i64>)> = LAST_TOKENS.fetch(db, tenant_id, since, only).await?;
    let batches: Vec<(i64, Option<i64>)> = LAST_BATCHES.fetch(db, tenant_id, since, only).await?;
    let figures: Vec<(i64, Option<i64>, Option<i64>, i64)> =
        RECENT_FIGURES.fetch(db, tenant_id, since, only).await?;
    let failures: Vec<(i64, i64)> = AUTH_FAILURES.fetch(db, tenant_id, since, only).await?;
    let configs: Vec<(i64, String)> = REPORTED_CONFIGS.fetch(db, tenant_id, since, only).await?;

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
    for (pk, count) in failures {
        activity.entry(pk).or_default().auth_failures_recent = count;
    }
    for (pk, hash) in configs {
        activity.entry(pk).or_default().reported_config = Some(hash);
    }
    Ok(activity)
}

/// The page's cursor: where the site it starts after sorts.
const CURSOR: &str = "SELECT CAST(fleet_rank AS BIGINT), name, client_id FROM oauth_clients \
     WHERE tenant_id = $1 AND client_id = $2 AND fleet_rank < $3";
/// Kept by triggers (migration 0012), so a page never counts the fleet.
const COUNTS: &str = "SELECT CAST(fleet_rank AS BIGINT), CAST(n AS BIGINT) \
     FROM fleet_counts WHERE tenant_id = $1 AND fleet_rank < $2";
/// How many ranks one statement sets (each binds one parameter per site).
const RANK_CHUNK: usize = 1000;

/// One page of a tenant's sites in fleet order (those needing attention, then the well,
/// then the revoked; by name): an index range of `oauth_clients_fleet`. `None` when `after`
/// names no site of the tenant.
pub(crate) async fn page<D: Dialect>(
    db: &Connections<D>,
    query: &FleetPageQuery,
) -> StoreResult<Option<Vec<Client>>> {
    let admin = FleetRank::Admin as i16;
    let mut select = QueryBuilder::<D>::new(format!(
        "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = "
    ));
    select
        .push_param(query.tenant_id)
        .push(" AND fleet_rank < ")
        .push_param(admin);
    if let Some(after) = &query.after {
        let cursor: Option<(i64, String, String)> = sql(CURSOR)
            .bind(query.tenant_id)
            .bind(after)
            .bind(admin)
            .fetch_optional(db.read())
            .await?;
        let Some((rank, name, client_id)) = cursor else {
            return Ok(None);
        };
        select
            .push(" AND (fleet_rank, name, client_id) > (")
            .push_param(rank as i16)
            .push(", ")
            .push_param(name)
            .push(", ")
            .push_param(client_id)
            .push(")");
    }
    if query.attention_only {
        select
            .push(" AND fleet_rank = ")
            .push_param(FleetRank::NeedsAttention as i16);
    }
    for word in &query.words {
        let pattern = format!("%{}%", like_escaped(&word.to_lowercase()));
        select
            .push(" AND (LOWER(name) LIKE ")
            .push_param(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(client_id) LIKE ")
            .push_param(pattern)
            .push(" ESCAPE '\\')");
    }
    select
        .push(" ORDER BY fleet_rank, name, client_id LIMIT ")
        .push_param(query.limit);
    let clients = Statement::from(select.build()).fetch_all(db.read()).await?;
    Ok(Some(clients))
}

/// `%`, `_` and the escape character itself, matched literally by `LIKE … ESCAPE '\'`.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// How many sites of a tenant sort where: a few rows, whatever the fleet's size.
pub(crate) async fn counts<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
) -> StoreResult<FleetCounts> {
    let rows: Vec<(i64, i64)> = sql(COUNTS)
        .bind(tenant_id)
        .bind(FleetRank::Admin as i16)
        .fetch_all(db.read())
        .await?;
    let mut counts = FleetCounts::default();
    for (rank, n) in rows {
        match rank {
            r if r == FleetRank::NeedsAttention as i64 => counts.needs_attention = n,
            r if r == FleetRank::Well as i64 => counts.well = n,
            _ => counts.revoked += n,
        }
    }
    Ok(counts)
}

/// Sets whether active sites need attention, as a detection pass found: only rows whose
/// rank changes are written, and never a revoked site or an admin credential (a revocation
/// since the pass read the fleet keeps its rank).
pub(crate) async fn set_ranks<D: Dialect>(
    db: &Connections<D>,
    needs_attention: &[i64],
    well: &[i64],
) -> StoreResult<u64> {
    let mut write = db.begin_write().await?;
    if !D::ROW_LOCK.is_empty() {
        // The rows this pass changes, locked first and in id order: a revocation (which locks
        // its row, then its counts in `fleet_counts`) or another pass then waits for this one,
        // instead of holding a row this pass needs while this pass holds the counts that one
        // needs — a deadlock PostgreSQL would end by failing one of them.
        let mut wanted: Vec<(i64, i16)> = (needs_attention.iter())
            .map(|pk| (*pk, FleetRank::NeedsAttention as i16))
            .chain(well.iter().map(|pk| (*pk, FleetRank::Well as i16)))
            .collect();
        wanted.sort_unstable();
        for chunk in wanted.chunks(RANK_CHUNK) {
            let mut lock = QueryBuilder::<D>::new("SELECT c.id FROM oauth_clients c JOIN (VALUES ");
            for (i, (pk, rank)) in chunk.iter().enumerate() {
                lock.push(if i == 0 { "(" } else { ", (" })
                    .push_param(*pk)
                    .push(", ")
                    .push_param(*rank)
                    .push(")");
            }
            lock.push(format!(
                ") AS t(id, fleet_rank) ON c.id = t.id WHERE c.revoked_at IS NULL \
                 AND c.fleet_rank IN ({}, {}) AND c.fleet_rank <> t.fleet_rank \
                 ORDER BY c.id{} OF c",
                FleetRank::NeedsAttention as i16,
                FleetRank::Well as i16,
                D::ROW_LOCK
            ));
            Statement::from(lock.build()).execute(write.on()).await?;
        }
    }
    let mut changed = 0;
    for (pks, rank, other) in [
        (needs_attention, FleetRank::NeedsAttention, FleetRank::Well),
        (well, FleetRank::Well, FleetRank::NeedsAttention),
    ] {
        for chunk in pks.chunks(RANK_CHUNK) {
            let mut update = QueryBuilder::<D>::new("UPDATE oauth_clients SET fleet_rank = ");
            update
                .push_param(rank as i16)
                .push(" WHERE revoked_at IS NULL AND fleet_rank = ")
                .push_param(other as i16)
                .push(" AND id IN (");
            let mut list = update.separated(", ");
            for pk in chunk {
                list.push_param(*pk);
            }
            update.push(")");
            changed += Statement::from(update.build()).execute(write.on()).await?;
        }
    }
    write.commit(&[]).await?;
    Ok(changed)
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
