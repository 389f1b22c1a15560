//! What the server holds and has seen, as sites and admins read it: each client's newest
//! versions, a tenant's records, sync and authentication figures over time windows, and
//! whether the database answers; `series.rs`: the same figures per time bucket.

mod series;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kendrix_core::Clock;
use kendrix_store::{BatchFigures, Store};
use serde::Serialize;
use utoipa::ToSchema;

pub use series::{SeriesBucket, SeriesError, SeriesWindow, StatsSeries};

use super::authorizer::Caller;
use super::{Failure, Within};
use crate::context::RequestContext;

/// The time windows statistics report: label and length in milliseconds.
pub const STATS_WINDOWS: [(&str, i64); 3] = [
    ("1h", 3_600_000),
    ("24h", 86_400_000),
    ("7d", 7 * 86_400_000),
];

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityVersion {
    pub entity: String,
    /// The newest version the server holds from this client, as an HLC string (absent
    /// while every record of the entity so far was stale).
    pub newest_version: Option<String>,
    pub last_batch_id: Option<String>,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncVersions {
    pub client_id: String,
    pub entities: Vec<EntityVersion>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredRecordView {
    pub id: String,
    pub version: String,
    pub deleted: bool,
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// The client whose batch wrote this version.
    pub client_id: String,
    pub batch_id: String,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsPage {
    pub entity: String,
    pub records: Vec<StoredRecordView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Sync figures over one window.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SyncFigures {
    pub batches: i64,
    /// Batches refused as a whole (invalid records).
    pub refused_batches: i64,
    pub records: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
    /// Median time to apply a batch, in milliseconds.
    pub p50_batch_ms: f64,
    pub p95_batch_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientSyncFigures {
    pub client_id: String,
    #[serde(flatten)]
    pub figures: SyncFigures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntitySyncFigures {
    pub client_id: String,
    pub entity: String,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncWindow {
    /// `1h`, `24h` or `7d`.
    pub window: &'static str,
    pub since: i64,
    pub total: SyncFigures,
    pub per_client: Vec<ClientSyncFigures>,
    pub per_entity: Vec<EntitySyncFigures>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStats {
    pub tenant_id: i64,
    pub windows: Vec<SyncWindow>,
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

fn figures<'a>(batches: impl Iterator<Item = &'a BatchFigures>) -> SyncFigures {
    let mut f = SyncFigures::default();
    let mut durations = Vec::new();
    for b in batches {
        if b.outcome == "refused" {
            f.refused_batches += 1;
        } else {
            f.batches += 1;
            durations.push(b.duration_us);
        }
        f.records += b.records;
        f.applied += b.applied;
        f.duplicate += b.duplicate;
        f.stale += b.stale;
        f.rejected += b.rejected;
    }
    durations.sort_unstable();
    f.p50_batch_ms = percentile(&durations, 0.50);
    f.p95_batch_ms = percentile(&durations, 0.95);
    f
}

/// Authentication counts for one time window.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct AuthCounts {
    pub issued: i64,
    pub refreshed: i64,
    pub failed: i64,
    pub revoked: i64,
    pub refresh_reuse: i64,
    pub rate_limited: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientAuthCounts {
    pub client_id: Option<String>,
    #[serde(flatten)]
    pub counts: AuthCounts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthWindow {
    /// `1h`, `24h` or `7d`.
    pub window: &'static str,
    /// Start of the window, Unix milliseconds.
    pub since: i64,
    pub total: AuthCounts,
    pub per_client: Vec<ClientAuthCounts>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthStats {
    pub tenant_id: i64,
    pub windows: Vec<AuthWindow>,
}

impl AuthCounts {
    fn add(&mut self, event: &str, count: i64) {
        match event {
            "token.issued" => self.issued += count,
            "token.refreshed" => self.refreshed += count,
            "auth.client.failure" | "auth.bearer.failure" => self.failed += count,
            "token.revoked" => self.revoked += count,
            "token.refresh_reuse" => self.refresh_reuse += count,
            "rate_limit.exceeded" => self.rate_limited += count,
            _ => {}
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    pub backend: &'static str,
    pub reachable: bool,
}

/// Reads sync and authentication figures, records and versions for reports.
pub struct Reports {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Reports {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The newest version the server holds per entity from the calling client.
    pub async fn versions(&self, caller: &Caller) -> Result<SyncVersions, Failure> {
        let rows = self
            .store
            .sync_versions(caller.tenant_id, caller.client_pk)
            .await
            .within(&caller.ctx)?;
        Ok(SyncVersions {
            client_id: caller.client_id.clone(),
            entities: rows
                .into_iter()
                .map(|v| EntityVersion {
                    entity: v.entity,
                    newest_version: Some(v.newest_version).filter(|v| !v.is_empty()),
                    last_batch_id: v.last_batch_id,
                    applied: v.applied,
                    duplicate: v.duplicate,
                    stale: v.stale,
                    updated_at: v.updated_at,
                })
                .collect(),
        })
    }

    /// Up to `limit` records of one entity of a tenant after the id `after`, in id order.
    pub async fn records(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        entity: String,
        after: &str,
        limit: i64,
    ) -> Result<RecordsPage, Failure> {
        let rows = self
            .store
            .records_page(tenant_id, &entity, after, limit + 1)
            .await
            .within(ctx)?;
        let more = rows.len() as i64 > limit;
        let records: Vec<StoredRecordView> = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| StoredRecordView {
                id: r.record_id,
                version: r.version,
                deleted: r.deleted,
                data: r.data.and_then(|d| serde_json::from_str(&d).ok()),
                client_id: r.client_id,
                batch_id: r.batch_id,
                updated_at: r.updated_at,
            })
            .collect();
        let next = more.then(|| records.last().map(|r| r.id.clone())).flatten();
        Ok(RecordsPage {
            entity,
            records,
            next,
        })
    }

    /// Batches, records by outcome and batch times of a tenant, per client and entity,
    /// over each of [`STATS_WINDOWS`].
    pub async fn sync_stats(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<SyncStats, Failure> {
        let now = self.clock.now_ms();
        // One read of the widest window; the narrower ones are subsets of it.
        let widest = STATS_WINDOWS.iter().map(|(_, ms)| *ms).max().unwrap_or(0);
        let week = now - widest;
        let batches = self
            .store
            .batch_figures(tenant_id, week)
            .await
            .within(ctx)?;
        let mut windows = Vec::new();
        for (window, ms) in STATS_WINDOWS {
            let since = now - ms;
            let in_window: Vec<&BatchFigures> =
                batches.iter().filter(|b| b.received_at >= since).collect();
            let mut per_client: BTreeMap<&str, Vec<&BatchFigures>> = BTreeMap::new();
            for b in &in_window {
                per_client.entry(b.client_id.as_str()).or_default().push(b);
            }
            let entities = self
                .store
                .entity_figures(tenant_id, since)
                .await
                .within(ctx)?;
            windows.push(SyncWindow {
                window,
                since,
                total: figures(in_window.iter().copied()),
                per_client: per_client
                    .into_iter()
                    .map(|(client_id, list)| ClientSyncFigures {
                        client_id: client_id.to_owned(),
                        figures: figures(list.into_iter()),
                    })
                    .collect(),
                per_entity: entities
                    .into_iter()
                    .map(|e| EntitySyncFigures {
                        client_id: e.client_id,
                        entity: e.entity,
                        applied: e.applied,
                        duplicate: e.duplicate,
                        stale: e.stale,
                        rejected: e.rejected,
                    })
                    .collect(),
            });
        }
        Ok(SyncStats { tenant_id, windows })
    }

    /// Tokens issued, refreshed and revoked, and failed authentications, of a tenant, per
    /// client, over each of [`STATS_WINDOWS`].
    pub async fn auth_stats(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<AuthStats, Failure> {
        let now = self.clock.now_ms();
        let mut windows = Vec::new();
        for (window, ms) in STATS_WINDOWS {
            let since = now - ms;
            let rows = self
                .store
                .auth_event_counts(tenant_id, since)
                .await
                .within(ctx)?;
            let mut total = AuthCounts::default();
            let mut per_client: BTreeMap<Option<String>, AuthCounts> = BTreeMap::new();
            for row in rows {
                total.add(&row.event, row.count);
                per_client
                    .entry(row.client_id)
                    .or_default()
                    .add(&row.event, row.count);
            }
            windows.push(AuthWindow {
                window,
                since,
                total,
                per_client: per_client
                    .into_iter()
                    .map(|(client_id, counts)| ClientAuthCounts { client_id, counts })
                    .collect(),
            });
        }
        Ok(AuthStats { tenant_id, windows })
    }

    /// Whether the database answers within two seconds.
    pub async fn database(&self) -> DatabaseHealth {
        let reachable = matches!(
            tokio::time::timeout(Duration::from_secs(2), self.store.ping()).await,
            Ok(Ok(()))
        );
        DatabaseHealth {
            backend: self.store.backend().as_str(),
            reachable,
        }
    }
}
