//! The audit endpoints: filtered, keyset-paged entries of the caller's tenant, streaming
//! exports, chain verification, the chain head for agents to keep as a witness, and the
//! signed checkpoints with the public keys that check them.
//! Reading, exporting and verifying are themselves audited (by `services::AuditLog`).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::StreamExt;
use kendrix_core::audit::AuditEntry;
use kendrix_core::checkpoint::{PublicAuditKey, SignedCheckpoint};
use kendrix_core::AuditEvent;
use kendrix_store::AuditQuery;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::bearer::{AuditRead, Bearer, SyncWrite};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::audit_log::report::{period_name, ReportError, SignedEvidence};
use crate::services::audit_log::{
    report_html, ChainHead, ExportFormat, Reader, TenantVerification,
};

/// Filters shared by listing and export.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AuditFilter {
    /// Entries at or after this time (Unix ms).
    pub since: Option<i64>,
    /// Entries before this time (Unix ms).
    pub until: Option<i64>,
    /// Event names, comma-separated (see docs/audit-events.md).
    pub event: Option<String>,
    pub client_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Words that must all appear in the event, client id or details.
    pub q: Option<String>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
    /// `csv` or `ndjson` (export only).
    pub format: Option<String>,
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| text.strip_prefix("seq:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::BadRequest("the cursor is not one this server gave out".into()))
}

impl AuditFilter {
    /// The filter as audited with the read or export it selected.
    fn details(&self) -> serde_json::Value {
        json!({
            "since": self.since, "until": self.until, "event": self.event,
            "client_id": self.client_id, "outcome": self.outcome, "q": self.q,
        })
    }

    fn query(&self, tenant_id: i64) -> Result<AuditQuery, ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::BadRequest(
                "limit must be between 1 and 1000".into(),
            ));
        }
        if let Some(outcome) = &self.outcome {
            if outcome != "success" && outcome != "failure" {
                return Err(ApiError::BadRequest("outcome is success or failure".into()));
            }
        }
        let events: Vec<String> = self
            .event
            .as_deref()
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(unknown) = events.iter().find(|e| e.parse::<AuditEvent>().is_err()) {
            return Err(ApiError::BadRequest(format!(
                "unknown event {unknown:?}; see docs/audit-events.md"
            )));
        }
        Ok(AuditQuery {
            tenant_id,
            since: self.since,
            until: self.until,
            events,
            client_id: self.client_id.clone(),
            outcome: self.outcome.clone(),
            text: self.q.clone(),
            before_seq: self.cursor.as_deref().map(decode_cursor).transpose()?,
            limit,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

fn parse_filter(
    filter: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<AuditFilter, ApiError> {
    filter
        .map(|Query(f)| f)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// The caller's tenant's audit entries, newest first, filtered, one keyset page at a time.
#[utoipa::path(
    get, path = "/audit/logs", tag = "audit",
    security(("bearer" = ["audit:read"])),
    params(AuditFilter),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage),
        (status = 400, description = "Bad filter or cursor", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks audit:read", body = Problem),
    )
)]
pub async fn logs(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<AuditRead>,
    filter: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let filter = parse_filter(filter)?;
    let query = filter.query(caller.tenant_id)?;
    let (entries, more) = app.audit_log.page(&caller, query, filter.details()).await?;
    let next = more
        .then(|| entries.last().map(|e| encode_cursor(e.seq)))
        .flatten();
    Ok(Json(AuditPage { entries, next }))
}

/// Streams every entry the filters select, as CSV or NDJSON, without holding them in memory.
#[utoipa::path(
    get, path = "/audit/export", tag = "audit",
    security(("bearer" = ["audit:read"])),
    params(AuditFilter),
    responses(
        (status = 200, description = "text/csv or application/x-ndjson, newest first"),
        (status = 400, description = "Bad filter or format", body = Problem),
        (status = 403, description = "Token lacks audit:read", body = Problem),
    )
)]
pub async fn export(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<AuditRead>,
    filter: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let filter = parse_filter(filter)?;
    let format: ExportFormat = filter
        .format
        .as_deref()
        .unwrap_or("csv")
        .parse()
        .map_err(ApiError::BadRequest)?;
    let query = filter.query(caller.tenant_id)?;
    let details = json!({"format": filter.format.as_deref().unwrap_or("csv"),
        "filter": filter.details()});
    let chunks = app
        .audit_log
        .export_for(Reader::Client(&caller), query, format, details)
        .await?;
    let request_id = caller.ctx.request_id.clone();
    let body = chunks.map(move |chunk| {
        chunk.map_err(|err| {
            tracing::error!(request_id, error = %err, "audit export stopped");
            std::io::Error::other("audit export failed")
        })
    });
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body),
    )
        .into_response())
}

/// Verifies the whole audit hash chain and names the first broken link.
#[utoipa::path(
    get, path = "/audit/verify", tag = "audit",
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "Verification result, with this tenant's own evidence", body = TenantVerification),
        (status = 429, description = "Too many verifications (a few per client a minute, a few at once); see Retry-After", body = Problem),
    )
)]
pub async fn verify(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<AuditRead>,
) -> Result<Json<TenantVerification>, ApiError> {
    let permit = app
        .audit_log
        .admit_verification(&caller)
        .map_err(ApiError::RateLimited)?;
    let result = app.audit_log.verify_for_client(&caller, permit).await?;
    Ok(Json(result))
}

/// The period of a compliance report.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// Start of the period (Unix ms; default: 30 days before `until`).
    pub since: Option<i64>,
    /// End of the period (Unix ms, excluded; default: now).
    pub until: Option<i64>,
}

/// A compliance report's two files, as `kendrix-server audit report` writes them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFiles {
    /// The period in the files' names: `report-<period>.html`, `evidence-<period>.json`.
    pub period: String,
    /// The printable, self-contained page.
    pub html: String,
    /// The signed evidence (`kendrix-server audit verify-report` checks it offline).
    #[schema(value_type = Object)]
    pub evidence: SignedEvidence,
}

/// The caller's tenant's compliance report of a period: the printable page and the evidence
/// signed with the audit key. It verifies the whole chain, so it is limited like
/// `GET /audit/verify`; audited as an export (`format: report`).
#[utoipa::path(
    get, path = "/audit/report", tag = "audit",
    security(("bearer" = ["audit:read"])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report's page and signed evidence", body = ReportFiles),
        (status = 400, description = "Bad period", body = Problem),
        (status = 409, description = "The server has no audit signing key", body = Problem),
        (status = 429, description = "Too many verifications; see Retry-After", body = Problem),
    )
)]
pub async fn report(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<AuditRead>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ReportFiles>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let report_error = |err: ReportError| {
        match err {
        ReportError::NoSigningKey => ApiError::Conflict(
            "this server has no audit signing key, so it cannot sign a report; its operator sets KENDRIX_AUDIT_SIGNING_KEY or audit_signing_key_file".into(),
        ),
        ReportError::NoTenant(_) => ApiError::NotFoundThing("the tenant"),
        err @ ReportError::EmptyPeriod => ApiError::InvalidParam {
            name: "since",
            reason: err.to_string(),
        },
        ReportError::Store(err) => caller.ctx.failure(err).into(),
        ReportError::Failed(failure) => failure.into(),
    }
    };
    let (since, until) = app
        .audit_log
        .report_period(query.since, query.until)
        .map_err(report_error)?;
    let _permit = app
        .audit_log
        .admit_verification(&caller)
        .map_err(ApiError::RateLimited)?;
    let signed = app
        .audit_log
        .evidence(Reader::Client(&caller), caller.tenant_id, since, until)
        .await
        .map_err(report_error)?;
    Ok(Json(ReportFiles {
        period: period_name(since, until),
        html: report_html::render(&signed),
        evidence: signed,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HeadQuery {
    /// A sequence number seen earlier (an agent's witness) to look up in today's chain.
    pub witness: Option<i64>,
}

/// The current head of the audit chain; agents keep it as a witness and, at the next sync,
/// ask what the chain holds at that position now (a different hash means the log changed).
#[utoipa::path(
    get, path = "/audit/head", tag = "audit",
    params(HeadQuery),
    security(("bearer" = ["sync:write"])),
    responses((status = 200, description = "The chain head", body = ChainHead))
)]
pub async fn head(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<SyncWrite>,
    Query(query): Query<HeadQuery>,
) -> Result<Json<ChainHead>, ApiError> {
    Ok(Json(app.audit_log.head(&caller.ctx, query.witness).await?))
}

/// The server's audit public keys: the one signing now, and every key a checkpoint may be
/// signed with (earlier keys too).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPublicKeys {
    /// The key signing new checkpoints.
    pub key_id: String,
    /// Its raw 32-byte Ed25519 public key, base64.
    pub public_key: String,
    pub keys: Vec<PublicAuditKey>,
}

/// The public keys that check the audit chain's signed checkpoints. Public: an auditor needs
/// them to check an evidence file offline.
#[utoipa::path(
    get, path = "/audit/public-key", tag = "audit",
    responses(
        (status = 200, description = "The audit public keys", body = AuditPublicKeys),
        (status = 404, description = "No audit signing key is set on this server", body = Problem),
    )
)]
pub async fn public_key(State(app): State<AppState>) -> Result<Json<AuditPublicKeys>, ApiError> {
    let keys = app.audit_log.keys();
    let signing = keys
        .signing()
        .ok_or(ApiError::NotFoundThing(
            "an audit signing key on this server",
        ))?
        .public();
    Ok(Json(AuditPublicKeys {
        key_id: signing.key_id,
        public_key: signing.public_key,
        keys: keys.trusted().to_vec(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CheckpointsQuery {
    /// How many, newest first (1 to 1000; default 100).
    pub limit: Option<i64>,
}

/// The newest signed checkpoints of the audit chain, newest first.
#[utoipa::path(
    get, path = "/audit/checkpoints", tag = "audit",
    params(CheckpointsQuery),
    security(("bearer" = ["audit:read"])),
    responses((status = 200, description = "Signed checkpoints, newest first", body = Vec<SignedCheckpoint>))
)]
pub async fn checkpoints(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<AuditRead>,
    Query(query): Query<CheckpointsQuery>,
) -> Result<Json<Vec<SignedCheckpoint>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(Json(app.audit_log.checkpoints(&caller.ctx, limit).await?))
}
