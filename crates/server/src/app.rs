//! The running server, wired: settings, store, clock and entropy go into the services once,
//! here; [`App::serve`] runs the HTTP API beside the background housekeeping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kendrix_core::sealed::KeyRing;
use kendrix_core::Clock;
use kendrix_store::Store;
use tokio::net::TcpListener;

use crate::audit_keys::AuditKeys;
use crate::context::RequestContext;
use crate::entropy::{Entropy, SystemEntropy};
use crate::http::{self, AppState};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::services::{
    Anomalies, AuditLog, Authorizer, BatchIntake, Configurations, Reports, Sites,
};
use crate::settings::Settings;
use crate::throttle::Throttle;

/// The services of one server, and what its housekeeping needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub authorizer: Arc<Authorizer>,
    pub configurations: Arc<Configurations>,
    pub audit_log: Arc<AuditLog>,
    pub anomalies: Arc<Anomalies>,
    pub sites: Arc<Sites>,
    pub reports: Arc<Reports>,
    pub intake: Arc<BatchIntake>,
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    throttle: Throttle,
    entropy: Arc<dyn Entropy>,
    started: Instant,
}

impl App {
    /// A server with no master keys loaded (see [`App::with_keys`]) and the system's entropy.
    pub fn new(store: Arc<dyn Store>, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self::wire(
            store,
            Arc::new(settings),
            clock,
            Arc::new(SystemEntropy),
            KeyRing::default(),
            AuditKeys::default(),
        )
    }

    /// Uses these master keys for secret configuration values.
    pub fn with_keys(self, ring: KeyRing) -> Self {
        let audit_keys = self.audit_log.keys().clone();
        Self::wire(
            self.store,
            self.settings,
            self.clock,
            self.entropy,
            ring,
            audit_keys,
        )
    }

    /// Signs checkpoints of the audit chain with these keys (and trusts them).
    pub fn with_audit_keys(self, audit_keys: AuditKeys) -> Self {
        let ring = self.configurations.key_ring();
        Self::wire(
            self.store,
            self.settings,
            self.clock,
            self.entropy,
            ring,
            audit_keys,
        )
    }

    /// Draws ids, secrets and nonces from `entropy` (a test's, to make them reproducible).
    pub fn with_entropy(self, entropy: Arc<dyn Entropy>) -> Self {
        let ring = self.configurations.key_ring();
        let audit_keys = self.audit_log.keys().clone();
        Self::wire(
            self.store,
            self.settings,
            self.clock,
            entropy,
            ring,
            audit_keys,
        )
    }

    fn wire(
        store: Arc<dyn Store>,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        ring: KeyRing,
        audit_keys: AuditKeys,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        let throttle = Throttle::new(&settings.rate_limits);
        let audit_log = Arc::new(AuditLog::new(
            store.clone(),
            clock.clone(),
            throttle.clone(),
            audit_keys,
        ));
        let configurations = Arc::new(Configurations::new(
            store.clone(),
            clock.clone(),
            entropy.clone(),
            settings.clone(),
            Arc::new(Keys::new(ring)),
        ));
        Self {
            authorizer: Arc::new(Authorizer::new(
                store.clone(),
                clock.clone(),
                entropy.clone(),
                settings.clone(),
                throttle.clone(),
                metrics.clone(),
            )),
            configurations: configurations.clone(),
            anomalies: Arc::new(Anomalies::new(
                store.clone(),
                clock.clone(),
                audit_log.clone(),
                configurations.clone(),
                settings.config_drift_grace_minutes,
            )),
            audit_log,
            sites: Arc::new(Sites::new(
                store.clone(),
                clock.clone(),
                entropy.clone(),
                configurations,
                settings.public_url(),
            )),
            reports: Arc::new(Reports::new(store.clone(), clock.clone())),
            intake: Arc::new(BatchIntake::new(
                store.clone(),
                clock.clone(),
                entropy.clone(),
                settings.sync.clone(),
                metrics.clone(),
            )),
            settings,
            store,
            clock,
            metrics,
            throttle,
            entropy,
            started: Instant::now(),
        }
    }

    /// What the HTTP handlers reach.
    pub fn http_state(&self) -> AppState {
        AppState {
            authorizer: self.authorizer.clone(),
            configurations: self.configurations.clone(),
            audit_log: self.audit_log.clone(),
            anomalies: self.anomalies.clone(),
            sites: self.sites.clone(),
            reports: self.reports.clone(),
            intake: self.intake.clone(),
            metrics: self.metrics.clone(),
            settings: self.settings.clone(),
            started: self.started,
        }
    }

    /// Serves the API until `shutdown` resolves, then finishes in-flight requests; prunes
    /// and shares rate counts in the background meanwhile.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(self.clone().prune_periodically());
        let api_counts = tokio::spawn(self.clone().flush_api_counts_periodically());
        let refusals = tokio::spawn(self.clone().audit_repeated_refusals_periodically());
        let checkpoints = tokio::spawn(self.clone().sign_checkpoints_periodically());
        let detection = tokio::spawn(self.clone().detect_periodically());
        let result = http::serve(self.http_state(), listener, shutdown).await;
        checkpoints.abort();
        detection.abort();
        housekeeping.abort();
        api_counts.abort();
        refusals.abort();
        // Hand the last API counts to the other instances.
        let _ = self
            .throttle
            .flush_api_counts(&*self.store, self.clock.now_ms())
            .await;
        result
    }

    /// Prunes expired tokens, rate windows and idempotency keys every few minutes, and audit
    /// entries past their retention.
    async fn prune_periodically(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            let now = self.clock.now_ms();
            match self.store.prune(now - PRUNE_GRACE_MS, now).await {
                Ok(counts) => tracing::debug!(?counts, "pruned expired rows"),
                Err(err) => tracing::warn!(error = %err, "pruning failed; will retry"),
            }
            if let Some(days) = self.settings.audit_retention_days {
                let ctx = RequestContext {
                    request_id: format!("retention-{now}"),
                    source: "server".into(),
                };
                match self.audit_log.prune(&ctx, days).await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        tracing::info!(deleted, days, "pruned audit entries past retention")
                    }
                    Err(err) => tracing::warn!(error = %err, "audit retention failed; will retry"),
                }
            }
        }
    }

    /// Signs the audit chain's head every `audit_checkpoint_minutes`, when a signing key is
    /// set. Instances may both sign a head: each keeps one row.
    async fn sign_checkpoints_periodically(self) {
        if self.audit_log.keys().signing().is_none() {
            return;
        }
        let period =
            Duration::from_secs(u64::from(self.settings.audit_checkpoint_minutes.max(1)) * 60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            match self.audit_log.checkpoint().await {
                Ok(Some(signed)) => {
                    tracing::info!(seq = signed.seq, key_id = %signed.key_id, "audit checkpoint signed")
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "audit checkpoint failed; will retry"),
            }
        }
    }

    /// A detection pass every minute on whichever instance holds the lease; the audit
    /// chain's verification (a read of the whole chain) once an hour of them.
    async fn detect_periodically(self) {
        let holder = format!("instance-{}", uuid::Uuid::now_v7());
        let minute = Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + minute, minute);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for pass in 0u64.. {
            tick.tick().await;
            match self.anomalies.pass_if_leader(&holder, pass % 60 == 0).await {
                Ok(Some(report)) => {
                    if report.opened + report.resolved > 0 {
                        tracing::info!(?report, "anomaly detection pass");
                    }
                    // The fleet's order follows the pass (its open alerts are reasons too).
                    if let Err(err) = self.sites.rank_fleet().await {
                        tracing::warn!(error = %err, "ranking the fleet failed; will retry");
                    }
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "anomaly detection failed; will retry"),
            }
        }
    }

    async fn flush_api_counts_periodically(self) {
        let mut tick = tokio::time::interval(crate::throttle::API_FLUSH_INTERVAL);
        loop {
            tick.tick().await;
            let now = self.clock.now_ms();
            if let Err(err) = self.throttle.flush_api_counts(&*self.store, now).await {
                tracing::warn!(error = %err, "sharing API rate counts failed; will retry");
            }
        }
    }

    /// Writes the counted repeats of refusals once their window closes (see
    /// `services::authorizer::refusals`).
    async fn audit_repeated_refusals_periodically(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            if let Err(err) = self.authorizer.flush_refusals().await {
                tracing::warn!(error = %err, "auditing repeated refusals failed; their counts are lost");
            }
        }
    }
}

/// How long pruned rows are kept after they stop mattering (expired tokens, old windows).
const PRUNE_GRACE_MS: i64 = 24 * 3600 * 1000;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
