//! The sync endpoints: `POST /sync/batches` (idempotent, atomic), the caller's high-water
//! marks, the records a tenant holds, and sync statistics.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::http::bearer::{Bearer, StatsRead, SyncWrite};
use crate::http::problem::{ApiError, Problem};
use crate::services::reports::{RecordsPage, SyncStats, SyncVersions};

/// Header naming the batch's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a response replayed from the stored first response.
pub const REPLAYED: &str = "idempotent-replayed";
/// Advertises how long a key's response is kept, in seconds.
pub const RETENTION: &str = "idempotency-key-retention";

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or(ApiError::MissingIdempotencyKey)?;
    let key = value.to_str().map_err(|_| ApiError::BadIdempotencyKey)?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadIdempotencyKey);
    }
    Ok(key.to_owned())
}

/// Reads a JSON body up to `limit` bytes, refusing other content types before reading.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))
}

/// A response carrying the batch result body exactly as stored.
fn batch_response(body: String, replayed: bool, retention_secs: i64) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(RETENTION, HeaderValue::from(retention_secs));
    if replayed {
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Applies a batch of records exactly once, all or nothing.
#[utoipa::path(
    post, path = "/sync/batches", tag = "sync",
    security(("bearer" = ["sync:write"])),
    params(("Idempotency-Key" = String, Header, description = "Unique per batch; the same on every retry of it")),
    request_body(content = Object, content_type = "application/json", description =
        "{\"records\": [{\"entity\": \"orders\", \"id\": \"A-1001\", \"op\": \"upsert\", \
         \"version\": \"1732838400123-0000-site12\", \"data\": {…}}]}"),
    responses(
        (status = 200, description = "Applied, or replayed (`Idempotent-Replayed: true`) from the stored response", body = BatchResponseDoc),
        (status = 400, description = "Missing or bad Idempotency-Key, malformed JSON", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks sync:write", body = Problem),
        (status = 409, description = "The same key is being processed; see Retry-After", body = Problem),
        (status = 413, description = "Body too large", body = Problem),
        (status = 415, description = "Not application/json", body = Problem),
        (status = 422, description = "Invalid records (all listed in `errors`; nothing applied), or the key was used with another body", body = Problem),
        (status = 429, description = "Rate limited", body = Problem),
        (status = 503, description = "The server is applying as many batches as it can (`max_concurrent_batches`); retry after `Retry-After` seconds", body = Problem),
    )
)]
#[tracing::instrument(skip_all, fields(client_id = %caller.client_id))]
pub async fn post_batch(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<SyncWrite>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let key = idempotency_key(&headers)?;
    // Admitted before the body is read, so a storm of batches never holds their bodies.
    let _slot = app.intake.admit().await?;
    let bytes = read_body(&headers, body, app.settings.sync.max_batch_bytes).await?;
    let answer = app.intake.receive(&caller, &key, &bytes, started).await?;
    Ok(batch_response(
        answer.body,
        answer.replayed,
        app.settings.sync.idempotency_retention_secs,
    ))
}

/// The documented shape of a batch response; the body is a `kendrix_core::sync::BatchResponse`.
#[derive(Serialize, ToSchema)]
pub struct BatchResponseDoc {
    pub batch_id: String,
    /// One per record, in batch order: `{entity, id, status: applied|duplicate|stale|rejected, version, reason?}`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<serde_json::Value>,
    /// `{applied, duplicate, stale, rejected}`
    #[schema(value_type = Object)]
    pub counts: serde_json::Value,
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
#[tracing::instrument(skip_all, fields(client_id = %caller.client_id))]
pub async fn versions(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<SyncWrite>,
) -> Result<Json<SyncVersions>, ApiError> {
    Ok(Json(app.reports.versions(&caller).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordsQuery {
    /// The entity to list, e.g. `orders`.
    pub entity: String,
    /// Continue after this record id (the `next` of the previous page).
    #[serde(default)]
    pub after: String,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

/// The records of the caller's tenant, one entity at a time, in id order (keyset paging).
#[utoipa::path(
    get, path = "/sync/records", tag = "sync",
    security(("bearer" = ["stats:read"])),
    params(RecordsQuery),
    responses(
        (status = 200, description = "One page of records", body = RecordsPage),
        (status = 400, description = "Bad entity name, after or limit", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks stats:read", body = Problem),
    )
)]
pub async fn records(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<StatsRead>,
    query: Result<Query<RecordsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RecordsPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if kendrix_core::sync::EntityName::check(&query.entity).is_err() {
        return Err(ApiError::BadRequest(
            "entity must match [a-z][a-z0-9_]{0,63}".into(),
        ));
    }
    if !query.after.is_empty() && kendrix_core::sync::RecordId::check(&query.after).is_err() {
        return Err(ApiError::InvalidParam {
            name: "after",
            reason: "after must be a record id (the `next` of the previous page)".into(),
        });
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let page = app
        .reports
        .records(
            &caller.ctx,
            caller.tenant_id,
            query.entity,
            &query.after,
            limit,
        )
        .await?;
    Ok(Json(page))
}

/// Batches, records by outcome and batch times for the caller's tenant, per client and
/// entity, over the last hour, day and week.
#[utoipa::path(
    get, path = "/sync/stats", tag = "sync",
    security(("bearer" = ["stats:read"])),
    responses(
        (status = 200, description = "Sync figures per window", body = SyncStats),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks stats:read", body = Problem),
    )
)]
pub async fn stats(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<StatsRead>,
) -> Result<Json<SyncStats>, ApiError> {
    Ok(Json(
        app.reports
            .sync_stats(&caller.ctx, caller.tenant_id)
            .await?,
    ))
}
