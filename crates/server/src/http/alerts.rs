//! `GET /alerts`: the anomalies found in the caller's tenant, open ones first.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::bearer::{AuditOrAdmin, Bearer};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::anomalies::{AlertView, KINDS};

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AlertFilter {
    /// `open` or `resolved` (default: both, open first).
    pub state: Option<String>,
    /// One kind: `auth_failures`, `token_rate`, `refused_records`, `refused_batches`,
    /// `stale`, `backlog`, `audit_chain`.
    pub kind: Option<String>,
    /// One site's client id.
    pub client_id: Option<String>,
    /// How many (1 to 1000; default 100).
    pub limit: Option<i64>,
}

/// The alerts of the caller's tenant: open ones first, then the newest.
#[utoipa::path(
    get, path = "/alerts", tag = "operations",
    params(AlertFilter),
    security(("bearer" = ["audit:read", "clients:admin"])),
    responses(
        (status = 200, description = "Alerts, open first", body = Vec<AlertView>),
        (status = 400, description = "A filter that names nothing", body = Problem),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<AuditOrAdmin>,
    Query(filter): Query<AlertFilter>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let open = match filter.state.as_deref() {
        None => None,
        Some("open") => Some(true),
        Some("resolved") => Some(false),
        Some(_) => {
            return Err(ApiError::InvalidParam {
                name: "state",
                reason: "open or resolved".into(),
            })
        }
    };
    if let Some(kind) = &filter.kind {
        if !KINDS.contains(&kind.as_str()) {
            return Err(ApiError::InvalidParam {
                name: "kind",
                reason: format!("one of {}", KINDS.join(", ")),
            });
        }
    }
    let limit = filter.limit.unwrap_or(100);
    Ok(Json(
        app.anomalies
            .list(&caller, open, filter.kind, filter.client_id, limit)
            .await?,
    ))
}
