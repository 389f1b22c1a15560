//! The sync endpoints: `POST /sync/batches` (idempotent, atomic), the caller's high-water
//! marks, the records a tenant holds, and sync statistics.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kendrix_core::credentials;
use kendrix_core::sync::{validate_batch, BatchError, BatchLimits, BatchResponse, Record};
use kendrix_core::{AuditEvent, AuditOutcome};
use kendrix_store::{BatchToApply, IdempotencyClaim, NextAction, RefusedBatch, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::http::bearer::{Bearer, Caller, StatsRead, SyncWrite};
use crate::http::problem::{internal, ApiError, Problem};
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

/// Answers from a stored response, and audits the hit. The audit entry is written in the
/// background: a replay changes nothing, so the answer need not wait for the audit commit
/// (which would triple the latency of the retry path, see bench S3).
async fn replay(
    app: &AppState,
    caller: &Caller,
    body: String,
    entry: kendrix_core::AuditDraft,
) -> Result<Response, ApiError> {
    app.metrics.count("idempotency_hit");
    let (store, request_id) = (app.store.clone(), caller.ctx.request_id.clone());
    tokio::spawn(async move {
        if let Err(err) = store.append_audit(&[entry]).await {
            tracing::error!(request_id, error = %err, "auditing an idempotent replay failed");
        }
    });
    Ok(batch_response(
        body,
        true,
        app.settings.sync.idempotency_retention_secs,
    ))
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
    let settings = &app.settings.sync;
    let key = idempotency_key(&headers)?;
    let bytes = read_body(&headers, body, settings.max_batch_bytes).await?;
    let now = app.clock.now_ms();
    let audit = |event, outcome, details| {
        caller
            .ctx
            .audit()
            .draft(now, event, outcome, details)
            .tenant(caller.tenant_id)
            .client(caller.client_id.clone())
    };
    let retention_ms = settings.idempotency_retention_secs * 1000;
    let owner = credentials::generate_id(&mut rand::thread_rng());
    let claim = IdempotencyClaim {
        client_pk: caller.client_pk,
        key: key.clone(),
        request_hash: credentials::hash_bytes(&bytes),
        owner: owner.clone(),
        now,
        lease_ms: settings.idempotency_lease_secs * 1000,
        retention_ms,
    };
    // A retry of a batch already applied is answered from its stored response before the
    // body is even parsed: the common case after a lost response, and cheap (a read).
    let next = app
        .store
        .claim_idempotency_key(&claim)
        .await
        .map_err(|e| internal(&caller.ctx.request_id, e))?;
    if let NextAction::Replay(body) = next {
        return replay(
            &app,
            &caller,
            body,
            audit(
                AuditEvent::IdempotencyReplayed,
                AuditOutcome::Success,
                json!({"idempotency_key": key}),
            ),
        )
        .await;
    }
    // The body is checked before the key's state is acted on: an invalid batch is refused
    // as such whatever its key holds, and gives back a claim it took, as if it never had.
    let (records, config_hash) = match check_batch(&app, &caller, &key, &bytes, now, started).await
    {
        Ok(batch) => batch,
        Err(err) => {
            if next == NextAction::Claimed {
                // Failing to give it back only means waiting for the lease to run out.
                let _ = app
                    .store
                    .release_idempotency_key(caller.client_pk, &key, &owner)
                    .await;
            }
            return Err(err);
        }
    };
    match next {
        NextAction::Claimed | NextAction::Replay(_) => {}
        NextAction::Mismatch => {
            app.metrics.count("idempotency_mismatch");
            let entry = audit(
                AuditEvent::IdempotencyMismatch,
                AuditOutcome::Failure,
                json!({"idempotency_key": key}),
            );
            app.store
                .append_audit(&[entry])
                .await
                .map_err(|e| internal(&caller.ctx.request_id, e))?;
            return Err(ApiError::IdempotencyMismatch);
        }
        NextAction::InFlight { retry_after_ms } => {
            app.metrics.count("idempotency_in_flight");
            let entry = audit(
                AuditEvent::IdempotencyInFlight,
                AuditOutcome::Failure,
                json!({"idempotency_key": key}),
            );
            app.store
                .append_audit(&[entry])
                .await
                .map_err(|e| internal(&caller.ctx.request_id, e))?;
            return Err(ApiError::InFlight(
                ((retry_after_ms + 999) / 1000).clamp(1, 60) as u64,
            ));
        }
    }

    app.metrics.count("idempotency_miss");
    let batch = BatchToApply {
        batch_id: credentials::generate_id(&mut rand::thread_rng()),
        tenant_id: caller.tenant_id,
        client_pk: caller.client_pk,
        idempotency_key: key.clone(),
        owner,
        retention_ms,
        records,
        received_at: now,
        started,
        config_hash,
        audit: audit(
            AuditEvent::SyncBatchApplied,
            AuditOutcome::Success,
            json!({"idempotency": "miss", "token_family": caller.token_family}),
        ),
    };
    match app.store.apply_batch(batch, &render_response).await {
        Ok(applied) => {
            app.metrics.count("sync_batch_applied");
            tracing::info!(batch_id = %applied.response.batch_id, applied = applied.response.counts.applied,
                duplicate = applied.response.counts.duplicate, stale = applied.response.counts.stale, "batch applied");
            Ok(batch_response(
                applied.body,
                false,
                settings.idempotency_retention_secs,
            ))
        }
        Err(StoreError::LeaseLost) => Err(ApiError::InFlight(1)),
        Err(err) => Err(internal(&caller.ctx.request_id, err)),
    }
}

/// The body of a batch's answer, as sent and as kept for replays.
fn render_response(response: &BatchResponse) -> String {
    serde_json::to_string(response).expect("batch response serializes")
}

/// Parses and validates a batch body: its records and the configuration hash it reports.
/// A batch refused as a whole is recorded and audited before its 422 is returned.
async fn check_batch(
    app: &AppState,
    caller: &Caller,
    key: &str,
    bytes: &[u8],
    now: i64,
    started: Instant,
) -> Result<(Vec<Record>, Option<String>), ApiError> {
    let settings = &app.settings.sync;
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let limits = BatchLimits {
        max_records: settings.max_batch_records,
        max_data_bytes: settings.max_record_data_bytes,
        max_data_depth: settings.max_record_data_depth,
    };
    // The hash of the configuration the client runs (the ETag of GET /config), for drift.
    let config_hash = match value.get("config_hash") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(h))
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "config_hash must be the 64-hex-digit ETag of GET /config".into(),
            ))
        }
    };
    match validate_batch(&mut value, &limits) {
        Ok(records) => Ok((records, config_hash)),
        Err(err) => Err(refuse(app, caller, key, err, &value, now, started).await),
    }
}

/// Records and audits a batch refused as a whole, and builds the 422.
async fn refuse(
    app: &AppState,
    caller: &Caller,
    key: &str,
    err: BatchError,
    body: &serde_json::Value,
    now: i64,
    started: Instant,
) -> ApiError {
    let records = body
        .get("records")
        .and_then(|r| r.as_array())
        .map_or(0, |r| r.len() as i64);
    let problems = match &err {
        BatchError::InvalidRecords(p) => p.len(),
        _ => 0,
    };
    let audit = caller
        .ctx
        .audit()
        .draft(
            now,
            AuditEvent::SyncBatchRefused,
            AuditOutcome::Failure,
            json!({"reason": err.to_string(), "records": records, "invalid_records": problems, "idempotency_key": key}),
        )
        .tenant(caller.tenant_id)
        .client(caller.client_id.clone());
    let refused = RefusedBatch {
        batch_id: credentials::generate_id(&mut rand::thread_rng()),
        tenant_id: caller.tenant_id,
        client_pk: caller.client_pk,
        idempotency_key: Some(key.to_owned()),
        records,
        received_at: now,
        duration_us: started.elapsed().as_micros() as i64,
        audit,
    };
    if let Err(e) = app.store.record_refused_batch(refused).await {
        return internal(&caller.ctx.request_id, e);
    }
    app.metrics.count("sync_batch_refused");
    ApiError::InvalidBatch(err)
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
        (status = 400, description = "Bad entity name or limit", body = Problem),
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
