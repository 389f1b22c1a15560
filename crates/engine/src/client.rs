//! Talking to the server: the OAuth 2.0 client-credentials grant (through the `oauth2`
//! crate) and the bearer-authenticated calls the engine makes. Every failure is sorted into
//! what the sync loop can do about it: try again later, stop and tell staff, or put records
//! aside. The admin's connection (`admin.rs`) is a client of its own over the same plumbing.

mod admin;
mod audit;
mod profile;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kendrix_core::sync::{BatchResponse, RecordProblem};
use kendrix_core::{Clock, UnixMillis};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{ClientId, ClientSecret, RequestTokenError, TokenResponse, TokenUrl};
use reqwest::{header, StatusCode};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::engine::{Heartbeat, SyncServer};
use crate::keychain::{Keychain, KeychainError, StoredToken};
use crate::local_store::FormedBatch;
use crate::status::Problem;

pub use admin::{AdminClient, AdminMethod, SiteSummary};
pub use audit::{ChainHead, WitnessedEntry};
pub use profile::Profile;

/// A token is renewed this long before it expires, so no request goes out with a token
/// that dies on the way.
const RENEW_BEFORE_MS: i64 = 60_000;

/// What went wrong with a request, sorted by what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The server could not be reached or asked to wait: try again later.
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The credentials are wrong, revoked or missing: retrying cannot help.
    #[error("{0}")]
    Auth(String),
    /// The credentials are good but lack a permission (HTTP 403; the server's detail).
    #[error("this agent lacks a permission it needs (403 forbidden): {0}")]
    Forbidden(String),
    /// The server refused the request as a whole (HTTP `status`, with the server's detail);
    /// retrying the same request cannot help.
    #[error("the server refused the request ({status}): {detail}")]
    Refused { status: u16, detail: String },
    /// The enrolled server URL cannot be used for a request.
    #[error("the server URL is not usable: {0}")]
    ServerUrl(String),
    /// The server named records it can never accept (HTTP 422); nothing was applied.
    #[error("the server refused {} record(s)", .0.len())]
    InvalidRecords(Vec<RecordProblem>),
    #[error("{0}")]
    Keychain(String),
}

impl Failure {
    /// The kind of problem this failure is, for the status and for front-ends.
    pub fn problem(&self) -> Problem {
        match self {
            Failure::Transient { .. } => Problem::Offline,
            Failure::Auth(_) => Problem::Auth,
            Failure::Forbidden(_) => Problem::Permission,
            Failure::Refused { .. } | Failure::ServerUrl(_) | Failure::InvalidRecords(_) => {
                Problem::Refused
            }
            Failure::Keychain(_) => Problem::Keychain,
        }
    }
}

impl From<KeychainError> for Failure {
    fn from(e: KeychainError) -> Self {
        Failure::Keychain(e.to_string())
    }
}

/// The server's problem document (RFC 9457), as far as the agent reads it.
#[derive(Debug, Default, Deserialize)]
struct ProblemDocument {
    #[serde(default)]
    detail: String,
    #[serde(default)]
    errors: Option<Vec<RecordProblem>>,
}

/// The configuration as served, with its ETag (its content hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedConfig {
    pub etag: String,
    pub version: String,
    pub body: String,
}

/// Whose credential a client holds. Each identity has its own keychain entries and its own
/// token, and its own calls: the site's [`ServerClient`] syncs, the [`AdminClient`] reads the
/// admin API; neither has the other's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    Site,
    Admin,
}

/// One enrolled agent's connection to its server, with the site's credential.
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    client_id: String,
    identity: Identity,
    keychain: Keychain,
    token: Mutex<Option<StoredToken>>,
    /// Set once the token endpoint refused the credentials (cleared by enrolling again).
    refused: Mutex<Option<Failure>>,
    timeout: std::sync::RwLock<Duration>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClient")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ServerClient {
    /// A client of `base` as the site `client_id`; `clock` dates tokens and reads
    /// `Retry-After`.
    pub fn new(base: &str, client_id: &str, timeout: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::with_identity(base, client_id, Identity::Site, timeout, clock)
    }

    fn with_identity(
        base: &str,
        client_id: &str,
        identity: Identity,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        // One spelling of the server for requests and keychain names alike.
        let base = base.trim_end_matches('/');
        let keychain = match identity {
            Identity::Site => Keychain::for_client(base, client_id),
            Identity::Admin => Keychain::for_admin(base, client_id),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Redirects could carry credentials elsewhere (oauth2's advice).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kendrix-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Self {
            http,
            base: base.to_owned(),
            client_id: client_id.to_owned(),
            identity,
            keychain,
            token: Mutex::new(None),
            refused: Mutex::new(None),
            timeout: std::sync::RwLock::new(timeout),
            clock,
        }
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// The time limit of every request, changed live by the server's configuration.
    pub fn set_timeout(&self, timeout: Duration) {
        *self.timeout.write().expect("timeout lock") = timeout;
    }

    fn timeout(&self) -> Duration {
        *self.timeout.read().expect("timeout lock")
    }

    /// The injected clock as a `SystemTime`, for HTTP dates.
    fn wall_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.clock.now_ms().max(0) as u64)
    }

    /// A usable access token: the current one while it has more than a minute left,
    /// else a new one from the token endpoint (kept in the keychain, never on disk).
    /// `rejected` is a token the server just refused: it is replaced unless another request
    /// replaced it already (batches in flight share one renewal).
    async fn bearer(&self, rejected: Option<&str>) -> Result<String, Failure> {
        let mut current = self.token.lock().await;
        let now = self.clock.now_ms();
        if current.is_none() && rejected.is_none() {
            *current = self.keychain.token().await?;
        }
        if let Some(token) = current.as_ref().filter(|t| {
            Some(t.access_token.as_str()) != rejected && t.expires_at - now > RENEW_BEFORE_MS
        }) {
            return Ok(token.access_token.clone());
        }
        if let Some(failure) = self.refused.lock().await.clone() {
            // The credentials were refused in this process: asking again cannot help.
            return Err(failure);
        }
        let token = match self.request_token(now).await {
            Ok(token) => token,
            Err(failure @ Failure::Auth(_)) => {
                *self.refused.lock().await = Some(failure.clone());
                return Err(failure);
            }
            Err(other) => return Err(other),
        };
        self.keychain.store_token(&token).await?;
        let access = token.access_token.clone();
        *current = Some(token);
        Ok(access)
    }

    async fn request_token(&self, now: UnixMillis) -> Result<StoredToken, Failure> {
        let secret = self.keychain.secret().await?.ok_or_else(|| {
            Failure::Auth(match self.identity {
                Identity::Site => {
                    "the client secret is not in the keychain; enroll this agent again".into()
                }
                Identity::Admin => {
                    "the admin secret is not in the keychain; run `kendrix admin enroll` again"
                        .into()
                }
            })
        })?;
        let token_url = TokenUrl::new(format!("{}/oauth/token", self.base))
            .map_err(|e| Failure::ServerUrl(e.to_string()))?;
        let oauth = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(secret))
            .set_token_uri(token_url);
        let http = self.http.clone();
        let timeout = self.timeout();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send_oauth(&http, request, timeout).await }
        };
        match oauth.exchange_client_credentials().request_async(&send).await {
            Ok(response) => {
                let lifetime = response
                    .expires_in()
                    .unwrap_or(Duration::from_secs(300))
                    .as_millis() as i64;
                Ok(StoredToken {
                    access_token: response.access_token().secret().clone(),
                    expires_at: now + lifetime,
                })
            }
            Err(RequestTokenError::ServerResponse(response)) => match response.error() {
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient
                | BasicErrorResponseType::InvalidScope => Err(Failure::Auth(match self.identity {
                    Identity::Site => format!(
                        "the server refused this agent's credentials ({}): the site may have been revoked; ask an admin for a new enrollment string",
                        response.error()
                    ),
                    Identity::Admin => format!(
                        "the server refused the admin credential ({}): it may have been revoked; register a new one with `kendrix-server client register --scopes \"clients:admin …\"` and run `kendrix admin enroll` with its string",
                        response.error()
                    ),
                })),
                other => Err(Failure::Transient {
                    reason: format!("the token endpoint answered {other}"),
                    retry_after: None,
                }),
            },
            Err(RequestTokenError::Request(e)) => Err(Failure::Transient {
                reason: format!("cannot reach the server for a token: {}", short_error(&e)),
                retry_after: None,
            }),
            Err(e) => Err(Failure::Transient {
                reason: format!("the token endpoint gave an unexpected answer: {e}"),
                retry_after: None,
            }),
        }
    }

    /// Sends a request with the bearer token; on a 401 renews the token once and resends.
    async fn authorized(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Failure> {
        let mut rejected: Option<String> = None;
        loop {
            let token = self.bearer(rejected.as_deref()).await?;
            let response = build(&token)
                .timeout(self.timeout())
                .send()
                .await
                .map_err(|e| Failure::Transient {
                    reason: format!("cannot reach the server: {}", short_error(&e)),
                    retry_after: None,
                })?;
            // One renewal on a 401 (the token was revoked or expired early), then report.
            if response.status() == StatusCode::UNAUTHORIZED && rejected.is_none() {
                rejected = Some(token);
                continue;
            }
            return Ok(response);
        }
    }

    /// Sends a persisted batch with its Idempotency-Key.
    pub async fn post_batch(&self, batch: &FormedBatch) -> Result<BatchResponse, Failure> {
        let url = format!("{}/sync/batches", self.base);
        let response = self
            .authorized(|token| {
                self.http
                    .post(&url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", &batch.idempotency_key)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(batch.body.clone())
            })
            .await?;
        let status = response.status();
        if status.is_success() {
            let bytes = response.bytes().await.map_err(|e| Failure::Transient {
                reason: format!("the answer was cut off: {}", short_error(&e)),
                retry_after: None,
            })?;
            return serde_json::from_slice(&bytes).map_err(|e| Failure::Transient {
                reason: format!("the server's answer could not be read: {e}"),
                retry_after: None,
            });
        }
        Err(failure_of(response, self.wall_time()).await)
    }

    /// The effective configuration as JSON; `None` when it still matches `etag`.
    pub async fn fetch_config(&self, etag: Option<&str>) -> Result<Option<FetchedConfig>, Failure> {
        self.fetch_config_as("json", etag).await
    }

    /// The effective configuration rendered as `json`, `xml` or `ini`.
    pub async fn fetch_config_as(
        &self,
        format: &str,
        etag: Option<&str>,
    ) -> Result<Option<FetchedConfig>, Failure> {
        let url = format!("{}/config?format={format}", self.base);
        let response = self
            .authorized(|token| {
                let request = self.http.get(&url).bearer_auth(token);
                match etag {
                    Some(etag) => request.header(header::IF_NONE_MATCH, format!("\"{etag}\"")),
                    None => request,
                }
            })
            .await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(failure_of(response, self.wall_time()).await);
        }
        let header_text = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned()
        };
        let etag = header_text("etag");
        let version = header_text("x-config-version");
        let body = response.text().await.map_err(|e| Failure::Transient {
            reason: format!("the configuration was cut off: {}", short_error(&e)),
            retry_after: None,
        })?;
        Ok(Some(FetchedConfig {
            etag,
            version,
            body,
        }))
    }

    /// Reports the agent's state (`POST /sync/heartbeat`; the server answers 204).
    pub async fn post_heartbeat(&self, heartbeat: &Heartbeat) -> Result<(), Failure> {
        let url = format!("{}/sync/heartbeat", self.base);
        let body = serde_json::to_vec(heartbeat).expect("a heartbeat serializes");
        let response = self
            .authorized(|token| {
                self.http
                    .post(&url)
                    .bearer_auth(token)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(failure_of(response, self.wall_time()).await)
    }
}

/// `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 §10.2.3); a date already
/// past means "now".
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Sorts an unsuccessful answer by what can be done about it (`now` reads `Retry-After`).
async fn failure_of(response: reqwest::Response, now: SystemTime) -> Failure {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    let problem: ProblemDocument = response.json().await.unwrap_or_default();
    let detail = if problem.detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        problem.detail
    };
    match status {
        StatusCode::UNAUTHORIZED => Failure::Auth(format!(
            "the server does not accept this agent's token even after renewing it: {detail}"
        )),
        StatusCode::FORBIDDEN => Failure::Forbidden(detail),
        StatusCode::UNPROCESSABLE_ENTITY
            if problem.errors.as_ref().is_some_and(|e| !e.is_empty()) =>
        {
            Failure::InvalidRecords(problem.errors.unwrap_or_default())
        }
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::CONFLICT
        | StatusCode::REQUEST_TIMEOUT
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Failure::Transient {
            reason: format!("the server answered {}: {detail}", status.as_u16()),
            retry_after,
        },
        s if s.is_server_error() => Failure::Transient {
            reason: format!("the server failed ({}): {detail}", s.as_u16()),
            retry_after,
        },
        s => Failure::Refused {
            status: s.as_u16(),
            detail,
        },
    }
}

impl SyncServer for ServerClient {
    fn post_batch(
        &self,
        batch: &FormedBatch,
    ) -> impl std::future::Future<Output = Result<BatchResponse, Failure>> + Send {
        ServerClient::post_batch(self, batch)
    }
}

async fn send_oauth(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
    timeout: Duration,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .timeout(timeout)
        .send()
        .await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body).expect("a response rebuilds"))
}

/// reqwest's error text without the URL's query (never holds secrets here, but stays short).
fn short_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else if e.is_body() || e.is_decode() {
        "connection cut while reading"
    } else if e.is_request() {
        "connection cut while sending"
    } else {
        "network error"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind} ({source})"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::parse_retry_after;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 08:00:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 08:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 07:59:00 GMT", now),
            Some(Duration::ZERO),
            "a date already past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", SystemTime::UNIX_EPOCH), None);
    }
}
