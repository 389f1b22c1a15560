//! The fleet as an admin sees it: every site of a tenant with what the server knows of it
//! (its heartbeats, tokens, batches, failed sign-ins, the configuration it runs) and the
//! plain reasons it needs attention, those sites first.

use std::collections::HashMap;

use kendrix_core::admin::SiteSummary;
use kendrix_core::UnixMillis;
use kendrix_store::{BatchFigures, Client, FleetPageQuery, SiteActivity};
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

/// Which page of the fleet an admin asks for.
#[derive(Debug, Clone, Default)]
pub struct FleetQuery {
    /// Only the sites that need attention.
    pub attention_only: bool,
    /// Words each listed site's name or client id contains.
    pub search: Option<String>,
    /// The client id of the previous page's last site.
    pub after: Option<String>,
    /// At most this many sites (1 to [`MAX_PAGE`]; [`DEFAULT_PAGE`] when absent).
    pub limit: Option<u32>,
}

pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 500;
const MAX_SEARCH_CHARS: usize = 200;

/// One page of the fleet, and how many sites the tenant has.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FleetPage {
    /// Sites that need attention first, then those that are well, then the revoked; by
    /// name. The order and the attention filter follow the last check of the fleet (each
    /// minute, and at once when a site is registered or revoked); each site's reasons are
    /// as of this answer.
    pub sites: Vec<SiteSummary>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<String>,
    /// The tenant's sites, by where they sort (whatever the filter).
    pub counts: FleetTally,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct FleetTally {
    pub sites: i64,
    pub needs_attention: i64,
    pub revoked: i64,
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
        let clients: Vec<Client> = self
            .store
            .list_clients(Some(tenant_id))
            .await
            .within(ctx)?
            .into_iter()
            .filter(|c| include_admins || !c.is_admin())
            .collect();
        let mut views = self.views(ctx, tenant_id, &clients, None).await?;
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

    /// One page of the admin's tenant's sites: read in the order kept per site
    /// (`fleet_rank`), so its cost is the page's, not the fleet's.
    pub async fn admin_fleet_page(
        &self,
        admin: &Caller,
        query: &FleetQuery,
    ) -> Result<FleetPage, SiteError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(SiteError::Invalid(format!(
                "limit must be 1 to {MAX_PAGE} (got {limit})"
            )));
        }
        let search = query.search.as_deref().unwrap_or_default();
        if search.chars().count() > MAX_SEARCH_CHARS || search.chars().any(char::is_control) {
            return Err(SiteError::Invalid(format!(
                "search is at most {MAX_SEARCH_CHARS} characters, none of them control characters"
            )));
        }
        // Only a client id can name where a page starts (and a NUL never reaches the database).
        if let Some(after) = &query.after {
            super::check_client_id(after).map_err(|_| unknown_after())?;
        }
        let page_query = FleetPageQuery {
            tenant_id: admin.tenant_id,
            attention_only: query.attention_only,
            words: search.split_whitespace().map(str::to_owned).collect(),
            after: query.after.clone(),
            // One more than asked says whether another page follows.
            limit: i64::from(limit) + 1,
        };
        let ctx = &admin.ctx;
        let mut clients = self
            .store
            .fleet_page(&page_query)
            .await
            .within(ctx)?
            .ok_or_else(unknown_after)?;
        let more = clients.len() > limit as usize;
        clients.truncate(limit as usize);
        let pks: Vec<i64> = clients.iter().map(|c| c.pk).collect();
        let sites = self
            .views(ctx, admin.tenant_id, &clients, Some(&pks))
            .await?;
        let counts = self.store.fleet_counts(admin.tenant_id).await.within(ctx)?;
        Ok(FleetPage {
            next_after: more
                .then(|| sites.last().map(|s| s.client_id.clone()))
                .flatten(),
            sites,
            counts: FleetTally {
                sites: counts.needs_attention + counts.well + counts.revoked,
                needs_attention: counts.needs_attention,
                revoked: counts.revoked,
            },
        })
    }

    /// Checks every tenant's fleet and keeps the order pages are read in
    /// ([`Self::admin_fleet_page`]): which active sites need attention now. Run after each
    /// detection pass (whose open alerts are reasons too). Returns how many sites changed.
    pub async fn rank_fleet(&self) -> Result<u64, SiteError> {
        let ctx = RequestContext::background("fleet");
        let mut changed = 0;
        for tenant in self.store.list_tenants().await.within(&ctx)? {
            let clients: Vec<Client> = self
                .store
                .list_clients(Some(tenant.id))
                .await
                .within(&ctx)?
                .into_iter()
                .filter(|c| c.revoked_at.is_none() && !c.is_admin())
                .collect();
            let views = self.views(&ctx, tenant.id, &clients, None).await?;
            let (mut attention, mut well) = (Vec::new(), Vec::new());
            for (client, site) in clients.iter().zip(&views) {
                if site.needs_attention.is_empty() {
                    well.push(client.pk);
                } else {
                    attention.push(client.pk);
                }
            }
            changed += self
                .store
                .set_fleet_ranks(&attention, &well)
                .await
                .within(&ctx)?;
        }
        Ok(changed)
    }

    /// What each site of a tenant looks like now, in the order given: a constant number of
    /// set-based reads for the tenant, or for its clients `only`.
    async fn views(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        clients: &[Client],
        only: Option<&[i64]>,
    ) -> Result<Vec<SiteSummary>, SiteError> {
        let now = self.clock.now_ms();
        let activity = self
            .store
            .site_activity(tenant_id, now - DAY_MS, only)
            .await
            .within(ctx)?;
        let current = self
            .configurations
            .current_entries(ctx, tenant_id)
            .await
            .map_err(config_failure(ctx))?;
        // Open anomaly alerts are reasons too, in their own words (one read).
        let mut alerted: HashMap<String, Vec<String>> = HashMap::new();
        let open = kendrix_store::AlertQuery {
            tenant_id: Some(tenant_id),
            open: Some(true),
            client_pks: only.map(<[i64]>::to_vec),
            limit: i64::MAX,
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
        let none = SiteActivity::default();
        Ok(clients
            .iter()
            .map(|client| {
                let expected = &expected[client.client_id.as_str()];
                let site_activity = activity.get(&client.pk).unwrap_or(&none);
                let mut site = view(client, site_activity, expected, now);
                if let Some(reasons) = alerted.remove(&client.client_id) {
                    site.needs_attention.extend(reasons);
                }
                site
            })
            .collect())
    }

    /// One site of the admin's tenant with its latest runs and batches.
    pub async fn site_detail(
        &self,
        admin: &Caller,
        client_id: &str,
    ) -> Result<SiteDetail, SiteError> {
        let client = self.site_of(admin, client_id).await?;
        let site = self
            .views(
                &admin.ctx,
                admin.tenant_id,
                std::slice::from_ref(&client),
                Some(&[client.pk]),
            )
            .await?
            .pop()
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

fn unknown_after() -> SiteError {
    SiteError::Invalid(
        "after names no site of your tenant: pass the next_after of the previous page".into(),
    )
}

fn config_failure(
    ctx: &RequestContext,
) -> impl Fn(crate::services::configurations::ConfigError) -> SiteError + '_ {
    move |err| SiteError::Failed(ctx.failure(err))
}

fn view(
    client: &Client,
    activity: &SiteActivity,
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
    let active_site = client.revoked_at.is_none() && !client.is_admin();
    let config_drift = active_site
        && activity
            .reported_config
            .as_deref()
            .is_some_and(|hash| hash != expected.hash);
    let mut view = SiteSummary {
        name: client.name.clone(),
        client_id: client.client_id.clone(),
        scopes: client.scopes.clone(),
        status: client.status().into(),
        role: client.role().into(),
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
    if active_site {
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
