//! Operations endpoints: `GET /health`, `GET /metrics`, `GET /auth/stats`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::bearer::{Bearer, StatsRead};
use crate::http::problem::{internal, ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub database: DatabaseHealth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    pub backend: &'static str,
    pub reachable: bool,
}

/// Liveness and readiness: the database answers within two seconds.
#[utoipa::path(
    get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database is unreachable", body = Health),
    )
)]
pub async fn health(State(app): State<AppState>) -> impl IntoResponse {
    let reachable = matches!(
        tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await,
        Ok(Ok(()))
    );
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if reachable { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: app.started.elapsed().as_secs(),
        database: DatabaseHealth {
            backend: app.store.backend().as_str(),
            reachable,
        },
    };
    (status, Json(body))
}

/// Request and OAuth counters in the Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(app.started.elapsed().as_secs()),
    )
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

/// Tokens issued, refreshed and revoked, and failed authentications, for the caller's
/// tenant, per client, over the last hour, day and week.
#[utoipa::path(
    get, path = "/auth/stats", tag = "operations",
    security(("bearer" = ["stats:read"])),
    responses(
        (status = 200, description = "Counts per window and client", body = AuthStats),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks stats:read", body = Problem),
        (status = 429, description = "Rate limited", body = Problem),
    )
)]
pub async fn auth_stats(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<StatsRead>,
) -> Result<Json<AuthStats>, ApiError> {
    let now = app.clock.now_ms();
    let mut windows = Vec::new();
    for (window, ms) in super::STATS_WINDOWS {
        let since = now - ms;
        let rows = app
            .store
            .auth_event_counts(caller.tenant_id, since)
            .await
            .map_err(|e| internal(&caller.ctx.request_id, e))?;
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
    Ok(Json(AuthStats {
        tenant_id: caller.tenant_id,
        windows,
    }))
}
