//! Errors of the API outside the OAuth endpoints, as RFC 9457 `application/problem+json`.
//! Internals are logged with the request id; the body carries only a safe message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kendrix_core::sync::{BatchError, RecordProblem};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::authorizer::{BearerRefusal, Required};
use crate::services::configurations::ConfigError;
use crate::services::intake::IntakeError;
use crate::services::reports::SeriesError;
use crate::services::sites::SiteError;
use crate::services::Failure;

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For a refused batch: every bad record, by position, with every reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<RecordProblem>>,
    /// For a refused request parameter or body field: which one, and why (RFC 9457 §3's
    /// `invalid-params`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_params: Option<Vec<InvalidParam>>,
}

/// A request parameter or body field that was refused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvalidParam {
    /// The parameter or field, as the request names it.
    pub name: &'static str,
    pub reason: String,
}

/// Every way an API request can fail, each with the status and headers a client acts on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token was sent (RFC 6750 §3.1: no error code in the challenge).
    #[error("this endpoint needs a bearer token: get one at POST /oauth/token")]
    MissingToken,
    #[error("the Authorization header is not a well-formed Bearer credential")]
    MalformedToken,
    #[error("the access token is {0}; get a new one at POST /oauth/token")]
    InvalidToken(&'static str),
    #[error("this endpoint needs {0}, which the token does not carry")]
    InsufficientScope(Required),
    #[error("too many requests; retry after {0} seconds")]
    RateLimited(u64),
    #[error("{0}")]
    BadRequest(String),
    /// One named parameter or body field is refused.
    #[error("{name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    #[error("this request needs an Idempotency-Key header (any unique string up to 255 characters, the same for every retry)")]
    MissingIdempotencyKey,
    #[error("the Idempotency-Key must be 1 to 255 visible ASCII characters")]
    BadIdempotencyKey,
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than {0} bytes; send fewer records per batch")]
    PayloadTooLarge(usize),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidBatch(BatchError),
    #[error("this Idempotency-Key was already used with a different body; use a new key for a new batch")]
    IdempotencyMismatch,
    #[error(
        "a request with this Idempotency-Key is still being processed; retry after {0} seconds"
    )]
    InFlight(u64),
    #[error("no such endpoint; see GET /openapi.json")]
    NotFound,
    #[error("{0} does not exist")]
    NotFoundThing(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this, whatever its token (e.g. grant a scope it may not grant).
    #[error("{0}")]
    Forbidden(String),
    #[error("the database is unreachable")]
    Unavailable,
    /// Load shed: every batch slot is taken; retry after this many seconds.
    #[error("the server is applying as many batches as it can; retry after {0} seconds")]
    Busy(u64),
    #[error("internal error; see the server log for request id {0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingToken | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::MalformedToken
            | ApiError::BadRequest(_)
            | ApiError::InvalidParam { .. }
            | ApiError::MissingIdempotencyKey
            | ApiError::BadIdempotencyKey
            | ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidBatch(_) | ApiError::IdempotencyMismatch => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::InFlight(_) => StatusCode::CONFLICT,
            ApiError::NotFound | ApiError::NotFoundThing(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InsufficientScope(_) | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::MissingToken => "missing-token",
            ApiError::MalformedToken => "malformed-token",
            ApiError::InvalidToken(_) => "invalid-token",
            ApiError::InsufficientScope(_) => "insufficient-scope",
            ApiError::RateLimited(_) => "rate-limited",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::InvalidParam { .. } => "invalid-param",
            ApiError::MissingIdempotencyKey => "missing-idempotency-key",
            ApiError::BadIdempotencyKey => "bad-idempotency-key",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::MalformedJson(_) => "malformed-json",
            ApiError::InvalidBatch(_) => "invalid-batch",
            ApiError::IdempotencyMismatch => "idempotency-key-reused",
            ApiError::InFlight(_) => "request-in-flight",
            ApiError::NotFound | ApiError::NotFoundThing(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Unavailable => "unavailable",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The RFC 6750 challenge for authentication failures.
    fn challenge(&self) -> Option<String> {
        match self {
            ApiError::MissingToken => Some(r#"Bearer realm="kendrix""#.into()),
            ApiError::MalformedToken => {
                Some(r#"Bearer realm="kendrix", error="invalid_request""#.into())
            }
            ApiError::InvalidToken(why) => Some(format!(
                r#"Bearer realm="kendrix", error="invalid_token", error_description="the access token is {why}""#
            )),
            ApiError::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="kendrix", error="insufficient_scope", scope="{}""#,
                scope.names()
            )),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = Problem {
            kind: format!("https://kendrix.dev/problems/{}", self.kind()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match &self {
                ApiError::InvalidBatch(BatchError::InvalidRecords(problems)) => {
                    Some(problems.clone())
                }
                _ => None,
            },
            invalid_params: match &self {
                ApiError::InvalidParam { name, reason } => Some(vec![InvalidParam {
                    name,
                    reason: reason.clone(),
                }]),
                _ => None,
            },
        };
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self.challenge() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let ApiError::RateLimited(secs) | ApiError::InFlight(secs) | ApiError::Busy(secs) = self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A failure is logged with its request id and answered with a 500 that names only the id.
impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        tracing::error!(request_id = %failure.request_id, error = %failure, "request failed");
        ApiError::Internal(failure.request_id)
    }
}

impl From<IntakeError> for ApiError {
    fn from(err: IntakeError) -> Self {
        match err {
            IntakeError::MalformedJson(why) => ApiError::MalformedJson(why),
            IntakeError::BadConfigHash => ApiError::BadRequest(err.to_string()),
            IntakeError::Invalid(err) => ApiError::InvalidBatch(err),
            IntakeError::Mismatch => ApiError::IdempotencyMismatch,
            IntakeError::InFlight { retry_after_secs } => ApiError::InFlight(retry_after_secs),
            IntakeError::Busy { retry_after_secs } => ApiError::Busy(retry_after_secs),
            IntakeError::Failed(failure) => failure.into(),
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Invalid(why) => ApiError::BadRequest(why),
            ConfigError::NotFound(what) => ApiError::NotFoundThing(what),
            ConfigError::Conflict => ApiError::Conflict(
                "the configuration changed at the same moment; read it again and retry".into(),
            ),
            ConfigError::NoMasterKey => ApiError::Conflict(
                "secret values need a master key on the server (KENDRIX_MASTER_KEY or master_key_file)"
                    .into(),
            ),
            err @ ConfigError::CommentRequired => ApiError::InvalidParam {
                name: "comment",
                reason: err.to_string(),
            },
            ConfigError::Failed(failure) => failure.into(),
        }
    }
}

impl From<SiteError> for ApiError {
    fn from(err: SiteError) -> Self {
        match err {
            SiteError::NotFound => ApiError::NotFoundThing("the site (in your tenant)"),
            SiteError::Invalid(why) => ApiError::BadRequest(why),
            SiteError::NotGrantable(why) => ApiError::Forbidden(why),
            SiteError::Revoked => ApiError::Conflict(err.to_string()),
            SiteError::Failed(failure) => failure.into(),
        }
    }
}

impl From<SeriesError> for ApiError {
    fn from(err: SeriesError) -> Self {
        match err {
            SeriesError::NotFound => ApiError::NotFoundThing("the client (in your tenant)"),
            SeriesError::Failed(failure) => failure.into(),
        }
    }
}

impl From<BearerRefusal> for ApiError {
    fn from(refusal: BearerRefusal) -> Self {
        match refusal {
            BearerRefusal::Missing => ApiError::MissingToken,
            BearerRefusal::Malformed => ApiError::MalformedToken,
            BearerRefusal::Invalid(why) => ApiError::InvalidToken(why),
            BearerRefusal::InsufficientScope(scope) => ApiError::InsufficientScope(scope),
            BearerRefusal::RateLimited(secs) => ApiError::RateLimited(secs),
            BearerRefusal::Failed(failure) => failure.into(),
        }
    }
}
