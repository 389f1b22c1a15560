//! Operations endpoints: `GET /health`, `GET /metrics`, `GET /auth/stats`,
//! `GET /stats/series`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bearer::{Bearer, StatsOrAdmin, StatsRead};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::reports::{AuthStats, DatabaseHealth, SeriesWindow, StatsSeries};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub database: DatabaseHealth,
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
    let database = app.reports.database().await;
    let reachable = database.reachable;
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if reachable { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: app.started.elapsed().as_secs(),
        database,
    };
    (status, Json(body))
}

/// Request and OAuth counters in the Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut text = app.metrics.render(app.started.elapsed().as_secs());
    // Open alerts are rows (any instance may have opened them): read, not counted here.
    match app.anomalies.open_counts().await {
        Ok(counts) => {
            text.push_str("# HELP kendrix_alerts_open Open anomaly alerts by kind.\n");
            text.push_str("# TYPE kendrix_alerts_open gauge\n");
            for (kind, count) in counts {
                text.push_str(&format!("kendrix_alerts_open{{kind=\"{kind}\"}} {count}\n"));
            }
        }
        Err(err) => tracing::warn!(error = %err, "open alerts not read for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
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
    Ok(Json(
        app.reports
            .auth_stats(&caller.ctx, caller.tenant_id)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SeriesParams {
    /// `1h` (12 buckets of 5 minutes), `24h` (24 hourly) or `7d` (28 of 6 hours).
    pub window: Option<String>,
    /// Only this client of the caller's tenant (kxc_…).
    pub client_id: Option<String>,
}

/// The caller's tenant's batches, record outcomes, tokens issued and failed authentications
/// per time bucket: every bucket of the window, oldest first, aligned to multiples of
/// `bucket_ms` since the Unix epoch, the last one holding the server's "now".
#[utoipa::path(
    get, path = "/stats/series", tag = "operations",
    security(("bearer" = ["stats:read"]), ("bearer" = ["clients:admin"])),
    params(SeriesParams),
    responses(
        (status = 200, description = "One bucket per interval of the window", body = StatsSeries),
        (status = 400, description = "Missing or unknown window (named in invalid_params)", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token has neither stats:read nor clients:admin", body = Problem),
        (status = 404, description = "No such client in this tenant", body = Problem),
        (status = 429, description = "Rate limited", body = Problem),
    )
)]
pub async fn series(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<StatsOrAdmin>,
    params: Result<Query<SeriesParams>, QueryRejection>,
) -> Result<Json<StatsSeries>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let window = params
        .window
        .as_deref()
        .and_then(SeriesWindow::parse)
        .ok_or_else(|| ApiError::InvalidParam {
            name: "window",
            reason: format!("must be {}", SeriesWindow::LABELS),
        })?;
    let client_id = params.client_id.as_deref().filter(|id| !id.is_empty());
    Ok(Json(app.reports.series(&caller, window, client_id).await?))
}
