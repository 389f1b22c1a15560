//! Anomaly detection: every minute, on one instance at a time (a lease row), a pass reads
//! each source once for all sites (and sums them per tenant, for an attack spread thin) — failed authentications and tokens issued (the audit
//! log), refused records and batches (the batches), the last sign of life and the oldest
//! waiting record (batches and heartbeats), the configuration it runs ([`drift`]) — compares each site with a baseline learned from
//! its own history ([`baseline`]), and opens, keeps or resolves alerts in one transaction
//! with their `anomaly.detected` / `anomaly.resolved` audit entries. An alert resolves by
//! itself once its value has been back within the baseline for [`RESOLVE_AFTER_MS`].
//! The audit chain's own verification is checked on the passes asked to.

pub mod baseline;
mod drift;

use std::collections::HashMap;
use std::sync::Arc;

use kendrix_core::{AuditEvent, AuditOutcome, Clock, UnixMillis};
use kendrix_store::{
    Alert, AlertChanges, AlertQuery, MetricCount, NewAlert, SiteSignals, Store, StoreError,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use self::baseline::{learn, Baseline};
use super::authorizer::Caller;
use super::configurations::Configurations;
use super::{AuditLog, Failure, Within};
use crate::context::RequestContext;

/// How long a pass's lease lasts: long enough for a slow pass, short enough that another
/// instance takes over soon after this one stops.
const LEASE_MS: i64 = 90_000;
/// An alert resolves once its value has been usual again for this long.
pub const RESOLVE_AFTER_MS: i64 = 10 * 60_000;
const HOUR_MS: i64 = 3_600_000;
const FIVE_MINUTES_MS: i64 = 300_000;
/// History a baseline learns from.
const HISTORY_MS: i64 = 14 * 24 * HOUR_MS;
/// A tenant's floors are this many sites' worth: its sites' ordinary noise together is no
/// alert, a spread-thin attack is.
const TENANT_FLOOR_FACTOR: f64 = 2.5;

/// The kinds of alert, in the order admins read them.
pub const KINDS: [&str; 8] = [
    "auth_failures",
    "token_rate",
    "refused_records",
    "refused_batches",
    "stale",
    "backlog",
    "config_drift",
    "audit_chain",
];

/// A count a site is watched for: its metric in the store, the alert it raises, the window
/// it is observed over, and the floor under its threshold.
struct Watched {
    metric: &'static str,
    kind: &'static str,
    window_ms: i64,
    floor: f64,
    words: &'static str,
}

const WATCHED: [Watched; 4] = [
    Watched {
        metric: "auth_failures",
        kind: "auth_failures",
        window_ms: FIVE_MINUTES_MS,
        floor: 20.0,
        words: "failed sign-ins in 5 minutes",
    },
    Watched {
        metric: "tokens_issued",
        kind: "token_rate",
        window_ms: FIVE_MINUTES_MS,
        floor: 30.0,
        words: "tokens issued in 5 minutes",
    },
    Watched {
        metric: "rejected_records",
        kind: "refused_records",
        window_ms: HOUR_MS,
        floor: 50.0,
        words: "records refused in an hour",
    },
    Watched {
        metric: "refused_batches",
        kind: "refused_batches",
        window_ms: HOUR_MS,
        floor: 5.0,
        words: "batches refused in an hour",
    },
];

/// An alert as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    /// `auth_failures`, `token_rate`, `refused_records`, `refused_batches`, `stale`,
    /// `backlog`, `config_drift`, `audit_chain`.
    pub kind: String,
    pub state: &'static str,
    /// The site it is about (`null`: the whole server).
    pub client_id: Option<String>,
    pub site_name: Option<String>,
    pub opened_at: UnixMillis,
    pub resolved_at: Option<UnixMillis>,
    /// The value observed, and the baseline (the threshold it crossed).
    pub observed: f64,
    pub baseline: f64,
    pub summary: String,
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        Self {
            id: a.id,
            kind: a.kind,
            state: if a.resolved_at.is_some() {
                "resolved"
            } else {
                "open"
            },
            client_id: a.client_id,
            site_name: a.site_name,
            opened_at: a.opened_at,
            resolved_at: a.resolved_at,
            observed: a.observed,
            baseline: a.baseline,
            summary: a.summary,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PassReport {
    pub sites: usize,
    pub opened: usize,
    pub resolved: usize,
    pub open: usize,
}

/// Finds anomalies and keeps the alerts.
pub struct Anomalies {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit_log: Arc<AuditLog>,
    /// What each site should run, for drift.
    configurations: Arc<Configurations>,
    /// The shortest grace a drifting site has (`config_drift_grace_minutes`).
    drift_grace_ms: i64,
}

/// One unusual value found by a pass: about a site, a whole tenant (`site: None`), or the
/// server (neither).
struct Finding {
    kind: &'static str,
    site: Option<usize>,
    tenant: Option<i64>,
    observed: f64,
    baseline: f64,
    summary: String,
}

impl Finding {
    /// A site's time past its limit, both counted in whole minutes.
    fn late(
        kind: &'static str,
        i: usize,
        site: &SiteSignals,
        late_ms: i64,
        limit_ms: i64,
        summary: String,
    ) -> Self {
        Self {
            kind,
            site: Some(i),
            tenant: Some(site.tenant_id),
            observed: (late_ms / 60_000) as f64,
            baseline: (limit_ms / 60_000) as f64,
            summary,
        }
    }
}

impl Anomalies {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit_log: Arc<AuditLog>,
        configurations: Arc<Configurations>,
        drift_grace_minutes: u32,
    ) -> Self {
        Self {
            store,
            clock,
            audit_log,
            configurations,
            drift_grace_ms: i64::from(drift_grace_minutes) * 60_000,
        }
    }

    /// Runs a pass if this instance (`holder`) has or can take the lease; `None` when another
    /// instance holds it.
    pub async fn pass_if_leader(
        &self,
        holder: &str,
        verify_chain: bool,
    ) -> Result<Option<PassReport>, StoreError> {
        let now = self.clock.now_ms();
        if !self
            .store
            .take_detection_lease(holder, now, now + LEASE_MS, false)
            .await?
        {
            return Ok(None);
        }
        self.pass(verify_chain).await.map(Some)
    }

    /// An operator's pass now (`kendrix-server alerts scan`): it takes the lease from
    /// whichever instance holds it, so the instances skip their passes while it runs (one
    /// takes the lease back after it).
    pub async fn scan(&self) -> Result<PassReport, StoreError> {
        let now = self.clock.now_ms();
        let holder = format!("scan-{}", uuid::Uuid::now_v7());
        self.store
            .take_detection_lease(&holder, now, now + LEASE_MS, true)
            .await?;
        self.pass(true).await
    }

    /// One detection pass over every site (and the audit chain when `verify_chain`).
    pub async fn pass(&self, verify_chain: bool) -> Result<PassReport, StoreError> {
        let now = self.clock.now_ms();
        let sites = self.store.site_signals().await?;
        let history = self.store.hourly_counts(now - HISTORY_MS).await?;
        let recent = self
            .store
            .metric_counts(now - FIVE_MINUTES_MS, FIVE_MINUTES_MS)
            .await?;
        let index: HashMap<i64, usize> = sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.client_pk, i))
            .collect();
        let mut findings = Vec::new();
        findings.extend(watched_counts(&sites, &index, &history, &recent, now));
        findings.extend(
            sites
                .iter()
                .enumerate()
                .filter_map(|(i, s)| stale(i, s, now)),
        );
        findings.extend(sites.iter().enumerate().filter_map(|(i, s)| backlog(i, s)));
        findings.extend(self.drift(&sites).await);
        if verify_chain {
            let verification = self.audit_log.verify().await?;
            if let Some(broken) = verification.first_broken {
                findings.push(Finding {
                    kind: "audit_chain",
                    site: None,
                    tenant: None,
                    observed: broken.seq as f64,
                    baseline: verification.head_seq as f64,
                    summary: format!(
                        "the audit chain does not verify at entry {}: {}",
                        broken.seq, broken.reason
                    ),
                });
            }
        }
        let open = self
            .store
            .alerts(&AlertQuery {
                open: Some(true),
                limit: i64::MAX,
                ..Default::default()
            })
            .await?;
        self.apply(&sites, findings, open, now, verify_chain).await
    }

    /// Opens what is new, keeps what is still unusual, resolves what has been usual long
    /// enough; audits the openings and resolutions with the change.
    async fn apply(
        &self,
        sites: &[SiteSignals],
        findings: Vec<Finding>,
        open: Vec<Alert>,
        now: UnixMillis,
        verified_chain: bool,
    ) -> Result<PassReport, StoreError> {
        let key = |kind: &str, tenant: Option<i64>, client: Option<&str>| {
            format!("{kind}|{}|{}", tenant.unwrap_or(0), client.unwrap_or(""))
        };
        let open_by_key: HashMap<String, &Alert> = open
            .iter()
            .map(|a| (key(&a.kind, a.tenant_id, a.client_id.as_deref()), a))
            .collect();
        let mut changes = AlertChanges::default();
        let mut audit = Vec::new();
        let ctx = RequestContext::background("anomalies");
        let mut found = std::collections::HashSet::new();
        for f in findings {
            let site = f.site.map(|i| &sites[i]);
            let k = key(f.kind, f.tenant, site.map(|s| s.client_id.as_str()));
            found.insert(k.clone());
            if let Some(alert) = open_by_key.get(&k) {
                changes.still_unusual.push(alert.id);
                continue;
            }
            let mut draft = ctx.audit().draft(
                now,
                AuditEvent::AnomalyDetected,
                AuditOutcome::Failure,
                json!({"kind": f.kind, "observed": f.observed, "baseline": f.baseline,
                       "summary": f.summary}),
            );
            if let Some(tenant) = f.tenant {
                draft = draft.tenant(tenant);
            }
            if let Some(site) = site {
                draft = draft.client(site.client_id.clone());
            }
            audit.push(draft);
            changes.opened.push(NewAlert {
                kind: f.kind.to_owned(),
                tenant_id: f.tenant,
                client_pk: site.map(|s| s.client_pk),
                observed: f.observed,
                baseline: f.baseline,
                summary: f.summary,
            });
        }
        for alert in &open {
            let k = key(&alert.kind, alert.tenant_id, alert.client_id.as_deref());
            // The chain is only judged on the passes that verify it.
            let judged = alert.kind != "audit_chain" || verified_chain;
            if found.contains(&k) || !judged || now - alert.unusual_at < RESOLVE_AFTER_MS {
                continue;
            }
            changes.resolved.push(alert.id);
            let mut draft = ctx.audit().draft(
                now,
                AuditEvent::AnomalyResolved,
                AuditOutcome::Success,
                json!({"kind": alert.kind, "alert_id": alert.id, "opened_at": alert.opened_at}),
            );
            if let Some(tenant) = alert.tenant_id {
                draft = draft.tenant(tenant);
            }
            if let Some(client) = &alert.client_id {
                draft = draft.client(client.clone());
            }
            audit.push(draft);
        }
        let report = PassReport {
            sites: sites.len(),
            opened: changes.opened.len(),
            resolved: changes.resolved.len(),
            open: open.len() + changes.opened.len() - changes.resolved.len(),
        };
        if changes != AlertChanges::default() {
            self.store
                .apply_alert_changes(&changes, now, &audit)
                .await?;
        }
        Ok(report)
    }

    /// The caller's tenant's alerts, open ones first.
    pub async fn list(
        &self,
        caller: &Caller,
        open: Option<bool>,
        kind: Option<String>,
        client_id: Option<String>,
        limit: i64,
    ) -> Result<Vec<AlertView>, Failure> {
        let query = AlertQuery {
            tenant_id: Some(caller.tenant_id),
            open,
            kind,
            client_id,
            limit: limit.clamp(1, 1000),
            ..Default::default()
        };
        let alerts = self.store.alerts(&query).await.within(&caller.ctx)?;
        Ok(alerts.into_iter().map(AlertView::from).collect())
    }

    /// Open alerts per kind, every kind named (for the metrics' gauges).
    pub async fn open_counts(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let counts: HashMap<String, i64> =
            self.store.open_alert_counts().await?.into_iter().collect();
        Ok(KINDS
            .iter()
            .map(|k| (*k, counts.get(*k).copied().unwrap_or(0)))
            .collect())
    }
}

/// The watched counts: each site's last window against the baseline of its own history.
fn watched_counts(
    sites: &[SiteSignals],
    index: &HashMap<i64, usize>,
    history: &[MetricCount],
    recent: &[MetricCount],
    now: UnixMillis,
) -> Vec<Finding> {
    // Hourly history per (site, metric), and the last window's count (5 minutes: the
    // recent counts; an hour: the history's buckets that reach into the last hour).
    let mut hourly: HashMap<(i64, &str), Vec<i64>> = HashMap::new();
    for c in history {
        hourly
            .entry((c.client_pk, c.metric))
            .or_default()
            .push(c.count);
    }
    let last_hour = now - HOUR_MS;
    let mut findings = Vec::new();
    for w in &WATCHED {
        let mut observed: HashMap<i64, i64> = HashMap::new();
        if w.window_ms == FIVE_MINUTES_MS {
            // The recent counts are those of the last five minutes.
            for c in recent.iter().filter(|c| c.metric == w.metric) {
                *observed.entry(c.client_pk).or_default() += c.count;
            }
        } else {
            for c in history.iter().filter(|c| c.metric == w.metric) {
                if (c.bucket + 1) * HOUR_MS > last_hour {
                    *observed.entry(c.client_pk).or_default() += c.count;
                }
            }
        }
        for (client_pk, count) in observed {
            let Some(&i) = index.get(&client_pk) else {
                continue;
            };
            let site = &sites[i];
            let history_hours = ((now - site.created_at.max(now - HISTORY_MS)) / HOUR_MS) as usize;
            let counts = hourly
                .get(&(client_pk, w.metric))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let Baseline {
                expected,
                threshold,
            } = learn(
                counts,
                history_hours,
                w.window_ms as f64 / HOUR_MS as f64,
                w.floor,
            );
            if (count as f64) > threshold {
                findings.push(Finding {
                    kind: w.kind,
                    site: Some(i),
                    tenant: Some(site.tenant_id),
                    observed: count as f64,
                    baseline: threshold,
                    summary: format!(
                        "{}: {count} {} (usual about {expected:.0}; unusual above {threshold:.0})",
                        site.name, w.words
                    ),
                });
            }
        }
    }
    findings.extend(tenant_counts(sites, index, history, recent, now));
    findings
}

/// The 5-minute counts summed over each tenant's sites, against the tenant's own summed
/// history: an attack spread thin over many sites, each below its own threshold.
fn tenant_counts(
    sites: &[SiteSignals],
    index: &HashMap<i64, usize>,
    history: &[MetricCount],
    recent: &[MetricCount],
    now: UnixMillis,
) -> Vec<Finding> {
    let tenant_of = |pk: i64| index.get(&pk).map(|&i| sites[i].tenant_id);
    // How long each tenant has had sites (its oldest site's age, at most the history).
    let mut age: HashMap<i64, i64> = HashMap::new();
    for s in sites {
        let a = age.entry(s.tenant_id).or_insert(now);
        *a = (*a).min(s.created_at.max(now - HISTORY_MS));
    }
    let mut findings = Vec::new();
    for w in WATCHED.iter().filter(|w| w.window_ms == FIVE_MINUTES_MS) {
        let mut observed: HashMap<i64, i64> = HashMap::new();
        for c in recent.iter().filter(|c| c.metric == w.metric) {
            if let Some(t) = tenant_of(c.client_pk) {
                *observed.entry(t).or_default() += c.count;
            }
        }
        let mut hourly: HashMap<(i64, i64), i64> = HashMap::new();
        for c in history.iter().filter(|c| c.metric == w.metric) {
            if let Some(t) = tenant_of(c.client_pk) {
                *hourly.entry((t, c.bucket)).or_default() += c.count;
            }
        }
        for (tenant, count) in observed {
            let counts: Vec<i64> = hourly
                .iter()
                .filter(|((t, _), _)| *t == tenant)
                .map(|(_, n)| *n)
                .collect();
            let hours = ((now - age.get(&tenant).copied().unwrap_or(now)) / HOUR_MS) as usize;
            let floor = w.floor * TENANT_FLOOR_FACTOR;
            let Baseline {
                expected,
                threshold,
            } = learn(&counts, hours, w.window_ms as f64 / HOUR_MS as f64, floor);
            if (count as f64) > threshold {
                findings.push(Finding {
                    kind: w.kind,
                    site: None,
                    tenant: Some(tenant),
                    observed: count as f64,
                    baseline: threshold,
                    summary: format!(
                        "all sites together: {count} {} (usual about {expected:.0}; unusual above {threshold:.0})",
                        w.words
                    ),
                });
            }
        }
    }
    findings
}

/// A site's sync interval (5 minutes unless it reported one) and three of them, at least
/// `floor_ms`: how long is too long for it.
fn three_intervals(site: &SiteSignals, floor_ms: i64) -> (i64, i64) {
    let interval_ms = site.interval_secs.unwrap_or(300).max(60) * 1000;
    (interval_ms, (3 * interval_ms).max(floor_ms))
}

/// A site silent for three of its sync intervals (15 minutes at least), after it had synced.
fn stale(i: usize, site: &SiteSignals, now: UnixMillis) -> Option<Finding> {
    let last = site.last_batch_at.max(site.heartbeat_at)?;
    let (interval_ms, limit) = three_intervals(site, 15 * 60_000);
    let silent = now - last;
    (silent > limit).then(|| {
        let summary = format!(
            "{}: silent for {} minutes (it syncs every {} minutes; unusual after {})",
            site.name,
            silent / 60_000,
            interval_ms / 60_000,
            limit / 60_000
        );
        Finding::late("stale", i, site, silent, limit, summary)
    })
}

/// A site whose oldest waiting record, at its last heartbeat, had waited for three of its
/// intervals (30 minutes at least): it is piling up.
fn backlog(i: usize, site: &SiteSignals) -> Option<Finding> {
    let waited = site.heartbeat_at? - site.oldest_pending_at?;
    let (_, limit) = three_intervals(site, 30 * 60_000);
    (waited > limit).then(|| {
        let summary = format!(
            "{}: its oldest waiting record had waited {} minutes at its last heartbeat (unusual after {})",
            site.name,
            waited / 60_000,
            limit / 60_000
        );
        Finding::late("backlog", i, site, waited, limit, summary)
    })
}
