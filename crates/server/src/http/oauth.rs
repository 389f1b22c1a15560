//! `POST /oauth/token`, `/oauth/revoke`, `/oauth/introspect` and the RFC 8414 metadata:
//! the wire format of the OAuth endpoints. Bodies are form-encoded, size-checked before
//! parsing, and errors are RFC 6749 §5.2 JSON.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::context::RequestContext;
use crate::services::authorizer::{
    AuthMethod, ClientCredentials, Introspection, OAuthError, ServerMetadata, TokenQuestion,
    TokenRequest, TokenResponse,
};

/// An RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// One of `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`,
    /// `invalid_scope`, `temporarily_unavailable`, `server_error`.
    pub error: String,
    pub error_description: String,
}

/// Responses of the OAuth endpoints must never be cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match &self {
            OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            OAuthError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = OAuthErrorBody {
            error: self.code().to_owned(),
            error_description: self.to_string(),
        };
        let mut response = no_store((status, Json(body)).into_response());
        match self {
            OAuthError::InvalidClient => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="kendrix", charset="UTF-8""#),
                );
            }
            OAuthError::RateLimited(secs) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            _ => {}
        }
        response
    }
}

/// A parsed form body: each parameter at most once (RFC 6749 §3.2).
struct Form(HashMap<String, String>);

impl Form {
    async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Self, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| OAuthError::PayloadTooLarge(limit))?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(OAuthError::InvalidRequest(
                "the body is not valid UTF-8".into(),
            ));
        }
        let mut params = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(&bytes) {
            if params.insert(key.to_string(), value.to_string()).is_some() {
                return Err(OAuthError::InvalidRequest(format!(
                    "parameter {key:?} is given more than once"
                )));
            }
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest(format!("missing parameter {name:?}")))
    }
}

/// Longest client id accepted (ours are 32 characters); longer ones are refused before any
/// look-up, so a client id never grows a rate-limit key or an audit entry without bound.
const MAX_CLIENT_ID_CHARS: usize = 128;

/// Reads client credentials from HTTP Basic or from the body (`client_secret_post`); using
/// both at once is refused (RFC 6749 §2.3). A client id that no client can have (too long,
/// or with control characters such as NUL) is `invalid_request` naming `client_id`.
fn client_credentials(headers: &HeaderMap, form: &Form) -> Result<ClientCredentials, OAuthError> {
    let credentials = presented_credentials(headers, form)?;
    let id = &credentials.client_id;
    if id.chars().count() > MAX_CLIENT_ID_CHARS {
        return Err(OAuthError::InvalidRequest(format!(
            "client_id is longer than {MAX_CLIENT_ID_CHARS} characters"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(OAuthError::InvalidRequest(
            "client_id contains a control character".into(),
        ));
    }
    Ok(credentials)
}

fn presented_credentials(
    headers: &HeaderMap,
    form: &Form,
) -> Result<ClientCredentials, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let in_body = form.get("client_secret").is_some();
    match basic {
        Some(_) if in_body => Err(OAuthError::InvalidRequest(
            "use one client authentication method, not both Basic and client_secret".into(),
        )),
        Some(encoded) => {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or(OAuthError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
            let unescape = |s: &str| -> String {
                url::form_urlencoded::parse(format!("v={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Ok(ClientCredentials {
                client_id: unescape(id),
                client_secret: unescape(secret),
                method: AuthMethod::Basic,
            })
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(ClientCredentials {
                client_id: id.to_owned(),
                client_secret: secret.to_owned(),
                method: AuthMethod::Post,
            }),
            _ => Err(OAuthError::InvalidClient),
        },
    }
}

/// Issues an access token.
#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description =
        "grant_type=client_credentials [&scope=…] or grant_type=refresh_token&refresh_token=…; \
         client credentials by HTTP Basic or client_id + client_secret in the body"),
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, invalid_scope or unsupported_grant_type", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 413, description = "Body too large", body = OAuthErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = OAuthErrorBody),
    )
)]
pub async fn token(
    State(app): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let read = async {
        let form = Form::read(&headers, body, app.settings.max_form_bytes).await?;
        let grant_type = form.require("grant_type")?.to_owned();
        let credentials = client_credentials(&headers, &form)?;
        Ok(TokenRequest {
            credentials,
            grant_type,
            scope: form.get("scope").map(str::to_owned),
            refresh_token: form.get("refresh_token").map(str::to_owned),
        })
    };
    match app.authorizer.token(&ctx, read.await).await {
        Ok(token) => no_store(Json(token).into_response()),
        Err(err) => err.into_response(),
    }
}

/// Reads a revocation or introspection request: the `token` parameter and the client's
/// credentials.
async fn token_question(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenQuestion, OAuthError> {
    let form = Form::read(headers, body, app.settings.max_form_bytes).await?;
    let token = form.require("token")?.to_owned();
    let credentials = client_credentials(headers, &form)?;
    Ok(TokenQuestion { credentials, token })
}

/// Revokes an access or refresh token (RFC 7009).
#[utoipa::path(
    post, path = "/oauth/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token=…[&token_type_hint=access_token|refresh_token]; client credentials as at /oauth/token"),
    responses(
        (status = 200, description = "Revoked, or the token was unknown (RFC 7009 §2.2)"),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Rate limited", body = OAuthErrorBody),
    )
)]
pub async fn revoke(
    State(app): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let question = token_question(&app, &headers, body).await;
    match app.authorizer.revoke(&ctx, question).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(err) => err.into_response(),
    }
}

/// Tells an authenticated client whether a token of its tenant is active (RFC 7662).
#[utoipa::path(
    post, path = "/oauth/introspect", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token=…; client credentials as at /oauth/token"),
    responses(
        (status = 200, description = "Introspection result", body = Introspection),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Rate limited", body = OAuthErrorBody),
    )
)]
pub async fn introspect(
    State(app): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let question = token_question(&app, &headers, body).await;
    match app.authorizer.introspect(&ctx, question).await {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(err) => err.into_response(),
    }
}

#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "Server metadata", body = ServerMetadata))
)]
pub async fn metadata(State(app): State<AppState>) -> Json<ServerMetadata> {
    Json(app.authorizer.metadata())
}
