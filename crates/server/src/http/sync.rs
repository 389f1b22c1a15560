//! The sync endpoints. So far: `GET /sync/versions`, the caller's high-water marks.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::bearer::{Bearer, SyncWrite};
use crate::http::problem::{internal, ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityVersion {
    pub entity: String,
    /// The newest version the server holds from this client, as an HLC string.
    pub newest_version: String,
    pub last_batch_id: Option<String>,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncVersions {
    pub client_id: String,
    pub entities: Vec<EntityVersion>,
}

/// The newest version the server holds per entity from the calling client.
#[utoipa::path(
    get, path = "/sync/versions", tag = "sync",
    security(("bearer" = ["sync:write"])),
    responses(
        (status = 200, description = "High-water marks per entity", body = SyncVersions),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks sync:write", body = Problem),
        (status = 429, description = "Rate limited", body = Problem),
    )
)]
#[tracing::instrument(skip_all, fields(client_id))]
pub async fn versions(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<SyncWrite>,
) -> Result<Json<SyncVersions>, ApiError> {
    let rows = app
        .store
        .sync_versions(caller.tenant_id, caller.client_pk)
        .await
        .map_err(|e| internal(&caller.ctx.request_id, e))?;
    Ok(Json(SyncVersions {
        client_id: caller.client_id,
        entities: rows
            .into_iter()
            .map(|v| EntityVersion {
                entity: v.entity,
                newest_version: v.newest_version,
                last_batch_id: v.last_batch_id,
                applied: v.applied,
                duplicate: v.duplicate,
                stale: v.stale,
                updated_at: v.updated_at,
            })
            .collect(),
    }))
}
