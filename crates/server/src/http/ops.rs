//! Operations endpoints: `GET /health`, `GET /metrics`, `GET /auth/stats`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::{Bearer, StatsRead};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::reports::{AuthStats, DatabaseHealth};

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
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(app.started.elapsed().as_secs()),
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
