//! The fleet as an admin sees it: every site of a tenant with what the server knows of it
//! (its heartbeats, tokens, batches, failed sign-ins, the configuration it runs) and the
//! plain reasons it needs attention, those sites first.

use std::collections::HashMap;

use kendrix_core::admin::SiteSummary;
use kendrix_core::UnixMillis;
use kendrix_store::{BatchFigures, Client, SiteActivity};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ReportedRun, SiteError, Sites};
use crate::context::RequestContext;
use crate::services::authorizer::Caller;
use crate::services::configurations::ExpectedRun;
use crate::services::Within;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// The schedule a site runs when neither its heartbeat nor its configuration says.
const DEFAULT_INTERVAL_SECS: i64 = 300;
/// A site is overdue after this many missed intervals, and never before this long.
const MISSED_INTERVALS: i64 = 3;
const MIN_OVERDUE_MS: i64 = 15 * 60 * 1000;
const DETAIL_ROWS: i64 = 20;

/// One batch the server received from a site.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchView {
    pub received_ms: UnixMillis,
    pub records: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
    /// `applied` or `refused`.
    pub outcome: String,
}

/// A site's page: its summary, its latest runs and batches, and its alerts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteDetail {
    pub site: SiteSummary,
    /// Its latest runs, as it reported them, newest first.
    pub runs: Vec<ReportedRun>,
    pub batches: Vec<BatchView>,
    /// Open alerts about this site (anomaly detection is not built yet: always empty).
    #[schema(value_type = Vec<Object>)]
    pub alerts: Vec<serde_json::Value>,
}

impl Sites {
    /// Every site of a tenant, active and revoked, those that need attention first.
    /// `include_admins` lists its admin credentials too (the command line does).
    pub async fn fleet(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        include_admins: bool,
    ) -> Result<Vec<SiteSummary>, SiteError> {
        let now = self.clock.now_ms();
        let clients = self.store.list_clients(Some(tenant_id)).await.within(ctx)?;
        let activity = self
            .store
            .site_activity(tenant_id, now - DAY_MS)
            .await
            .within(ctx)?;
        let reported: HashMap<String, String> = self
            .store
            .config_reports(tenant_id)
            .await
            .within(ctx)?
            .into_iter()
            .filter_map(|r| Some((r.client_id, r.config_hash?)))
            .collect();
        let current = self
            .configurations
            .current_entries(ctx, tenant_id)
            .await
            .map_err(config_failure(ctx))?;
        // Open anomaly alerts are reasons too, in their own words (one read for the tenant).
        let mut alerted: HashMap<String, Vec<String>> = HashMap::new();
        let open = kendrix_store::AlertQuery {
            tenant_id: Some(tenant_id),
            open: Some(true),
            limit: 10_000,
            ..Default::default()
        };
        for alert in self.store.alerts(&open).await.within(ctx)? {
            if let Some(client) = alert.client_id {
                alerted
                    .entry(client)
                    .or_default()
                    .push(format!("alert: {}", alert.summary));
            }
        }
        let expected = self
            .configurations
            .expected_runs(ctx, &current, clients.iter().map(|c| c.client_id.as_str()))
            .map_err(config_failure(ctx))?;
        let mut views = Vec::with_capacity(clients.len());
        for client in &clients {
            if client.is_admin() && !include_admins {
                continue;
            }
            let expected = &expected[client.client_id.as_str()];
            let none = SiteActivity::default();
            let site_activity = activity.get(&client.pk).unwrap_or(&none);
            let reported = reported.get(&client.client_id).map(String::as_str);
            let mut site = view(client, site_activity, reported, expected, now);
            if let Some(reasons) = alerted.remove(&client.client_id) {
                site.needs_attention.extend(reasons);
            }
            views.push(site);
        }
        views.sort_by(|a, b| {
            (
                a.needs_attention.is_empty(),
                a.status != "active",
                &a.name,
                &a.client_id,
            )
                .cmp(&(
                    b.needs_attention.is_empty(),
                    b.status != "active",
                    &b.name,
                    &b.client_id,
                ))
        });
        Ok(views)
    }

    /// Every site of the admin's tenant (see [`Self::fleet`]).
    pub async fn admin_fleet(&self, admin: &Caller) -> Result<Vec<SiteSummary>, SiteError> {
        self.fleet(&admin.ctx, admin.tenant_id, false).await
    }

    /// One site of the admin's tenant with its latest runs and batches.
    pub async fn site_detail(
        &self,
        admin: &Caller,
        client_id: &str,
    ) -> Result<SiteDetail, SiteError> {
        let client = self.site_of(admin, client_id).await?;
        let site = self
            .admin_fleet(admin)
            .await?
            .into_iter()
            .find(|s| s.client_id == client.client_id)
            .ok_or(SiteError::NotFound)?;
        let runs = self
            .store
            .site_runs(client.pk, DETAIL_ROWS)
            .await
            .within(&admin.ctx)?;
        let batches = self
            .store
            .client_batches(client.pk, DETAIL_ROWS)
            .await
            .within(&admin.ctx)?;
        Ok(SiteDetail {
            site,
            runs: runs.into_iter().map(ReportedRun::from).collect(),
            batches: batches.into_iter().map(batch_view).collect(),
            alerts: Vec::new(),
        })
    }
}

fn config_failure(
    ctx: &RequestContext,
) -> impl Fn(crate::services::configurations::ConfigError) -> SiteError + '_ {
    move |err| SiteError::Failed(ctx.failure(err))
}

fn view(
    client: &Client,
    activity: &SiteActivity,
    reported_hash: Option<&str>,
    expected: &ExpectedRun,
    now: UnixMillis,
) -> SiteSummary {
    let status = activity.status.as_ref();
    let last_heartbeat = status.map(|s| s.received_at);
    let last_seen = [
        last_heartbeat,
        activity.last_token_at,
        activity.last_batch_at,
    ]
    .into_iter()
    .flatten()
    .max();
    let interval_secs = status
        .and_then(|s| s.interval_secs)
        .or(expected.interval_secs)
        .unwrap_or(DEFAULT_INTERVAL_SECS);
    let config_drift = reported_hash.is_some_and(|hash| hash != expected.hash);
    let mut view = SiteSummary {
        name: client.name.clone(),
        client_id: client.client_id.clone(),
        scopes: client.scopes.clone(),
        status: if client.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        }
        .into(),
        role: if client.is_admin() { "admin" } else { "site" }.into(),
        created_ms: client.created_at,
        revoked_ms: client.revoked_at,
        last_seen_ms: last_seen,
        last_batch_ms: activity.last_batch_at,
        last_heartbeat_ms: last_heartbeat,
        records_24h: activity.records_recent,
        rejected_24h: activity.rejected_recent,
        queue_depth: status.map(|s| s.queue_depth),
        oldest_pending_ms: status.and_then(|s| s.oldest_pending_at),
        dead_letters: status.map(|s| s.dead_letters),
        agent_version: status.map(|s| s.agent_version.clone()),
        interval_secs,
        config_version: expected.version.clone(),
        config_drift,
        needs_attention: Vec::new(),
        extra: Default::default(),
    };
    if client.revoked_at.is_none() && !client.is_admin() {
        view.needs_attention = attention(&view, activity, now);
    }
    view
}

/// The plain reasons an active site needs an admin's attention.
fn attention(site: &SiteSummary, activity: &SiteActivity, now: UnixMillis) -> Vec<String> {
    let mut reasons = Vec::new();
    let overdue_after = (site.interval_secs * 1000 * MISSED_INTERVALS).max(MIN_OVERDUE_MS);
    let every = duration(site.interval_secs * 1000);
    match site.last_seen_ms {
        None => reasons.push("never synced: no token, batch or heartbeat yet".to_owned()),
        Some(seen) if now - seen > overdue_after => reasons.push(format!(
            "overdue: last seen {} ago, expected every {every}",
            duration(now - seen)
        )),
        Some(_) if site.last_batch_ms.is_none() && site.last_heartbeat_ms.is_none() => {
            reasons.push("never synced: signed in but sent nothing yet".to_owned())
        }
        Some(_) => {}
    }
    if let (Some(depth), Some(oldest)) = (site.queue_depth, site.oldest_pending_ms) {
        if depth > 0 && now - oldest > overdue_after {
            reasons.push(format!(
                "{depth} {} waiting to be sent for {}",
                plural(depth, "record", "records"),
                duration(now - oldest)
            ));
        }
    }
    match site.dead_letters {
        Some(kept) if kept > 0 => reasons.push(format!(
            "{kept} refused {} kept on the site",
            plural(kept, "record", "records")
        )),
        _ if site.rejected_24h > 0 => reasons.push(format!(
            "{} {} refused in the last 24 h",
            site.rejected_24h,
            plural(site.rejected_24h, "record", "records")
        )),
        _ => {}
    }
    if site.config_drift {
        reasons.push(format!(
            "config drift: not running the current configuration ({})",
            site.config_version
        ));
    }
    if activity.auth_failures_recent > 0 {
        reasons.push(format!(
            "credentials refused: {} failed sign-in{} in the last 24 h",
            activity.auth_failures_recent,
            if activity.auth_failures_recent == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    reasons
}

fn plural<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A span of time in the largest whole unit: "45 s", "12 min", "3 h", "2 days".
fn duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn batch_view(batch: BatchFigures) -> BatchView {
    BatchView {
        received_ms: batch.received_at,
        records: batch.records,
        applied: batch.applied,
        duplicate: batch.duplicate,
        stale: batch.stale,
        rejected: batch.rejected,
        outcome: batch.outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_largest_unit() {
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(12 * 60_000), "12 min");
        assert_eq!(duration(3 * 3_600_000), "3 h");
        assert_eq!(duration(3 * DAY_MS), "3 days");
    }
}
