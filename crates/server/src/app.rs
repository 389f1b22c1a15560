//! The running server: shared state, the serve loop with graceful shutdown, and background
//! housekeeping.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kendrix_core::{Clock, UnixMillis};
use kendrix_store::Store;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::throttle::Throttle;

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub throttle: Throttle,
    pub started: Instant,
    /// The OAuth issuer: this server's public URL.
    pub issuer: String,
    /// Master keys for secret configuration values.
    pub keys: Arc<crate::keys::Keys>,
}

impl AppState {
    /// State with no master keys loaded; see [`AppState::with_keys`].
    pub fn new(store: Arc<dyn Store>, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: Arc::default(),
            store,
            throttle: Throttle::new(&settings.rate_limits),
            issuer: settings.public_url(),
            settings: Arc::new(settings),
            clock,
            metrics: Arc::new(Metrics::default()),
            started: Instant::now(),
        }
    }
}

impl AppState {
    /// Uses these master keys for secret configuration values.
    pub fn with_keys(mut self, ring: kendrix_core::sealed::KeyRing) -> Self {
        self.keys = Arc::new(crate::keys::Keys::new(ring));
        self
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// How long pruned rows are kept after they stop mattering (expired tokens, old windows).
const PRUNE_GRACE_MS: i64 = 24 * 3600 * 1000;

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(prune_periodically(state.clone()));
    let api_counts = tokio::spawn(flush_api_counts_periodically(state.clone()));
    let app = crate::http::router(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    housekeeping.abort();
    api_counts.abort();
    // Hand the last API counts to the other instances.
    let _ = state
        .throttle
        .flush_api_counts(&*state.store, state.clock.now_ms())
        .await;
    result
}

/// Prunes expired tokens, rate windows and idempotency keys every few minutes.
async fn prune_periodically(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        let now = state.clock.now_ms();
        match state.store.prune(now - PRUNE_GRACE_MS, now).await {
            Ok(counts) => tracing::debug!(?counts, "pruned expired rows"),
            Err(err) => tracing::warn!(error = %err, "pruning failed; will retry"),
        }
        if let Some(days) = state.settings.audit_retention_days {
            let ctx = kendrix_core::audit::AuditContext {
                request_id: Some(format!("retention-{now}")),
                source: Some("server".into()),
            };
            match crate::audit_log::prune(&*state.store, &ctx, now, days).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, days, "pruned audit entries past retention"),
                Err(err) => tracing::warn!(error = %err, "audit retention failed; will retry"),
            }
        }
    }
}

async fn flush_api_counts_periodically(state: AppState) {
    let mut tick = tokio::time::interval(crate::throttle::API_FLUSH_INTERVAL);
    loop {
        tick.tick().await;
        let now = state.clock.now_ms();
        if let Err(err) = state.throttle.flush_api_counts(&*state.store, now).await {
            tracing::warn!(error = %err, "sharing API rate counts failed; will retry");
        }
    }
}

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
