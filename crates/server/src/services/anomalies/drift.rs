//! Config drift that outlasts its grace: a site that reported in well after the current
//! configuration was published and still runs an earlier one (an agent picks a new
//! configuration up on its next sync, so a short drift is usual and only a long one is not).

use std::collections::BTreeMap;

use kendrix_core::UnixMillis;
use kendrix_store::SiteSignals;

use super::{three_intervals, Anomalies, Finding};
use crate::context::RequestContext;
use crate::services::configurations::ExpectedRun;

impl Anomalies {
    /// The drifting sites past their grace: the configuration is read once per tenant, and
    /// layered once for the sites without settings of their own (no query per site).
    pub(super) async fn drift(&self, sites: &[SiteSignals]) -> Vec<Finding> {
        let ctx = RequestContext::background("anomalies");
        let mut by_tenant: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, site) in sites.iter().enumerate() {
            if site.config_hash.is_some() {
                by_tenant.entry(site.tenant_id).or_default().push(i);
            }
        }
        let mut findings = Vec::new();
        for (tenant_id, members) in by_tenant {
            let current = match self.configurations.current_entries(&ctx, tenant_id).await {
                Ok(current) => current,
                Err(err) => {
                    tracing::warn!(tenant_id, error = %err, "config drift not checked: the configuration could not be read");
                    continue;
                }
            };
            let expected = match self.configurations.expected_runs(
                &ctx,
                &current,
                members.iter().map(|&i| sites[i].client_id.as_str()),
            ) {
                Ok(expected) => expected,
                Err(err) => {
                    tracing::warn!(tenant_id, error = %err, "config drift not checked: the configuration could not be read");
                    continue;
                }
            };
            for i in members {
                let site = &sites[i];
                let run = &expected[site.client_id.as_str()];
                findings.extend(past_grace(
                    run,
                    current.published_at,
                    i,
                    site,
                    self.drift_grace_ms,
                ));
            }
        }
        findings
    }
}

/// A finding when the site's last report, made more than three of its intervals (the grace
/// setting at least) after the configuration it should run (`run`) was published, names
/// another.
fn past_grace(
    run: &ExpectedRun,
    published_at: UnixMillis,
    i: usize,
    site: &SiteSignals,
    grace_floor_ms: i64,
) -> Option<Finding> {
    let (hash, reported_at) = (site.config_hash.as_deref()?, site.config_reported_at?);
    if hash == run.hash {
        return None;
    }
    let (_, grace_ms) = three_intervals(site, grace_floor_ms);
    let behind = reported_at - published_at;
    (behind > grace_ms).then(|| {
        let summary = format!(
            "{}: still ran an earlier configuration {} minutes after version {} was published (unusual after {})",
            site.name,
            behind / 60_000,
            run.version,
            grace_ms / 60_000
        );
        Finding::late("config_drift", i, site, behind, grace_ms, summary)
    })
}
