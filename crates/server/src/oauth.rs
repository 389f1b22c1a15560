//! The OAuth 2.0 authorization server: client authentication, the client-credentials and
//! refresh-token grants, revocation (RFC 7009) and introspection (RFC 7662). HTTP parsing
//! and the wire format live in `http::oauth`; this module decides.

use kendrix_core::credentials::{self, CredentialKind};
use kendrix_core::{AuditDraft, AuditEvent, AuditOutcome, ScopeSet};
use kendrix_store::{Client, NewToken, RefreshUse, TokenKind};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::context::RequestContext;
use crate::throttle::Verdict;

/// How a client presented its credentials (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
        }
    }
}

/// Credentials as presented; `Debug` never shows the secret.
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub method: AuthMethod,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// RFC 6749 §5.2 errors, plus the two HTTP-level refusals of the OAuth endpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("too many requests; retry after {0} seconds")]
    RateLimited(u64),
    #[error("the server could not complete the request; see the log for request id {0}")]
    Server(String),
}

impl OAuthError {
    /// The `error` code on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::PayloadTooLarge(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::RateLimited(_) => "temporarily_unavailable",
            OAuthError::Server(_) => "server_error",
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// Present only when the server issues refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An introspection answer (RFC 7662 §2.2). Inactive tokens carry `active: false` only.
#[derive(Debug, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i64>,
}

impl Introspection {
    fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            token_type: None,
            exp: None,
            iat: None,
            iss: None,
            tenant_id: None,
        }
    }
}

impl AppState {
    fn server_error(&self, ctx: &RequestContext, err: impl std::fmt::Display) -> OAuthError {
        tracing::error!(request_id = %ctx.request_id, error = %err, "oauth request failed");
        OAuthError::Server(ctx.request_id.clone())
    }

    /// Proves the client's identity. Every failure is counted towards the failed-authentication
    /// throttle (and audited, until the block starts); the rate limits, including that block,
    /// are enforced by [`Self::admit`] in the same step as the writes they guard, so a blocked
    /// client is refused even with the right secret.
    pub async fn authenticate_client(
        &self,
        ctx: &RequestContext,
        creds: &ClientCredentials,
        endpoint: &'static str,
    ) -> Result<Client, OAuthError> {
        let now = self.clock.now_ms();
        let client = self
            .store
            .client(&creds.client_id)
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        let failure = match &client {
            None => {
                // Spend the same time as a real comparison, so unknown ids are not revealed.
                let _ = credentials::matches(&creds.client_secret, credentials::DUMMY_HASH);
                Some("unknown client")
            }
            Some(c) if !credentials::matches(&creds.client_secret, &c.secret_hash) => {
                Some("wrong secret")
            }
            Some(c) if c.revoked_at.is_some() => Some("client revoked"),
            Some(_) => None,
        };
        match (failure, client) {
            (None, Some(client)) => Ok(client),
            (reason, client) => {
                let reason = reason.unwrap_or("unknown client");
                self.metrics.count("client_auth_failed");
                let mut draft = ctx
                    .audit()
                    .draft(
                        now,
                        AuditEvent::ClientAuthFailed,
                        AuditOutcome::Failure,
                        json!({"reason": reason, "endpoint": endpoint, "auth_method": creds.method.as_str()}),
                    )
                    .client(creds.client_id.clone());
                if let Some(client) = &client {
                    draft = draft.tenant(client.tenant_id);
                }
                let (verdict, crossed) = self
                    .throttle
                    .failed_auth(&*self.store, &ctx.source, Some(&creds.client_id), now)
                    .await
                    .map_err(|e| self.server_error(ctx, e))?;
                // While blocked, only the crossing is audited, so a flood cannot grow the log.
                let blocked = matches!(verdict, Verdict::Limited { .. });
                let mut audit = Vec::new();
                if !blocked || crossed {
                    audit.push(draft);
                }
                if crossed {
                    audit.push(
                        ctx.audit()
                            .draft(
                                now,
                                AuditEvent::RateLimited,
                                AuditOutcome::Failure,
                                json!({"reason": "repeated failed authentication", "endpoint": endpoint}),
                            )
                            .client(creds.client_id.clone()),
                    );
                }
                self.store
                    .append_audit(&audit)
                    .await
                    .map_err(|e| self.server_error(ctx, e))?;
                tracing::info!(request_id = %ctx.request_id, client_id = %creds.client_id, reason, "client authentication failed");
                match verdict {
                    Verdict::Limited {
                        retry_after_secs, ..
                    } => Err(OAuthError::RateLimited(retry_after_secs)),
                    Verdict::Allowed => Err(OAuthError::InvalidClient),
                }
            }
        }
    }

    /// Parses a requested scope against what the client may have; absent means all of it.
    fn granted_scope(
        client: &Client,
        requested: Option<&str>,
        ceiling: &str,
    ) -> Result<ScopeSet, OAuthError> {
        let allowed: ScopeSet = ceiling.parse().unwrap_or_default();
        let Some(requested) = requested.filter(|s| !s.trim().is_empty()) else {
            return Ok(allowed);
        };
        let requested: ScopeSet =
            requested
                .parse()
                .map_err(|e: kendrix_core::scope::UnknownScope| {
                    OAuthError::InvalidScope(e.to_string())
                })?;
        if requested.is_subset_of(&allowed) {
            Ok(requested)
        } else {
            Err(OAuthError::InvalidScope(format!(
                "client {} may request only: {allowed}",
                client.client_id
            )))
        }
    }

    /// Makes an access token (and a refresh token when enabled) in `family`.
    fn mint(
        &self,
        client: &Client,
        scope: &ScopeSet,
        family: &str,
    ) -> (TokenResponse, Vec<NewToken>) {
        let now = self.clock.now_ms();
        let mut rng = rand::thread_rng();
        let ttl = self.settings.access_token_ttl_secs;
        let access = credentials::generate(CredentialKind::AccessToken, &mut rng);
        let token = |hash: String, kind, ttl_secs: u64| NewToken {
            token_hash: hash,
            kind,
            client_pk: client.pk,
            tenant_id: client.tenant_id,
            scopes: scope.to_string(),
            family: family.to_owned(),
            issued_at: now,
            expires_at: now + (ttl_secs as i64) * 1000,
        };
        let mut rows = vec![token(credentials::hash(&access), TokenKind::Access, ttl)];
        let refresh = self.settings.refresh_tokens.then(|| {
            let refresh = credentials::generate(CredentialKind::RefreshToken, &mut rng);
            rows.push(token(
                credentials::hash(&refresh),
                TokenKind::Refresh,
                self.settings.refresh_token_ttl_secs,
            ));
            refresh
        });
        let response = TokenResponse {
            access_token: access,
            token_type: "Bearer",
            expires_in: ttl,
            scope: scope.to_string(),
            refresh_token: refresh,
        };
        (response, rows)
    }

    /// Refuses a request that could not be read (wrong content type, too large, malformed,
    /// missing parameters, unreadable credentials): counted against the source address like
    /// a failed authentication, and audited until the address is blocked.
    pub(crate) async fn refuse_malformed(
        &self,
        ctx: &RequestContext,
        endpoint: &'static str,
        err: OAuthError,
    ) -> OAuthError {
        let now = self.clock.now_ms();
        let (verdict, crossed) = match self
            .throttle
            .failed_auth(&*self.store, &ctx.source, None, now)
            .await
        {
            Ok(outcome) => outcome,
            Err(e) => return self.server_error(ctx, e),
        };
        if let Verdict::Limited {
            retry_after_secs, ..
        } = verdict
        {
            if !crossed {
                return OAuthError::RateLimited(retry_after_secs);
            }
        }
        let draft = ctx.audit().draft(
            now,
            AuditEvent::TokenDenied,
            AuditOutcome::Failure,
            json!({"endpoint": endpoint, "error": err.code(), "reason": err.to_string()}),
        );
        if let Err(e) = self.store.append_audit(&[draft]).await {
            return self.server_error(ctx, e);
        }
        self.metrics.count("request_malformed");
        match verdict {
            Verdict::Limited {
                retry_after_secs, ..
            } => OAuthError::RateLimited(retry_after_secs),
            Verdict::Allowed => err,
        }
    }

    /// Audits a refused token request of an authenticated client and passes the error on.
    pub(crate) async fn deny(
        &self,
        ctx: &RequestContext,
        client: &Client,
        err: OAuthError,
    ) -> OAuthError {
        let draft = ctx
            .audit()
            .draft(
                self.clock.now_ms(),
                AuditEvent::TokenDenied,
                AuditOutcome::Failure,
                json!({"error": err.code(), "reason": err.to_string()}),
            )
            .tenant(client.tenant_id)
            .client(client.client_id.clone());
        if let Err(e) = self.store.append_audit(&[draft]).await {
            return self.server_error(ctx, e);
        }
        self.metrics.count("token_denied");
        err
    }

    /// `grant_type=client_credentials` (RFC 6749 §4.4).
    pub async fn grant_client_credentials(
        &self,
        ctx: &RequestContext,
        client: &Client,
        method: AuthMethod,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let scope = match Self::granted_scope(client, scope, &client.scopes) {
            Ok(scope) => scope,
            Err(err) => return Err(self.deny(ctx, client, err).await),
        };
        let family = credentials::generate_id(&mut rand::thread_rng());
        let (response, rows) = self.mint(client, &scope, &family);
        let audit = ctx
            .audit()
            .draft(
                self.clock.now_ms(),
                AuditEvent::TokenIssued,
                AuditOutcome::Success,
                json!({
                    "grant_type": "client_credentials",
                    "auth_method": method.as_str(),
                    "scope": scope.to_string(),
                    "expires_in": response.expires_in,
                    "family": family,
                    "refresh_token": response.refresh_token.is_some(),
                }),
            )
            .tenant(client.tenant_id)
            .client(client.client_id.clone());
        self.admit(ctx, client, &rows, &[audit]).await?;
        self.metrics.count("token_issued");
        Ok(response)
    }

    /// Counts this request against the OAuth rate limits and, within them, writes `tokens`
    /// and `audit` in the same step; over a limit nothing is written and the caller gets 429.
    async fn admit(
        &self,
        ctx: &RequestContext,
        client: &Client,
        tokens: &[NewToken],
        audit: &[AuditDraft],
    ) -> Result<(), OAuthError> {
        let now = self.clock.now_ms();
        let hits = self
            .throttle
            .oauth_hits(&ctx.source, &client.client_id, now);
        let admission = self
            .store
            .admit(&hits, tokens, audit)
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        if admission.admitted {
            Ok(())
        } else {
            self.metrics.count("rate_limited");
            Err(OAuthError::RateLimited(
                self.throttle.oauth_retry_after(&admission, now),
            ))
        }
    }

    /// `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection.
    pub async fn grant_refresh_token(
        &self,
        ctx: &RequestContext,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now_ms();
        // Counted before the work, which writes on its own.
        self.admit(ctx, client, &[], &[]).await?;
        let used = self
            .store
            .use_refresh_token(&credentials::hash(refresh_token), now)
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        let state = match used {
            None => {
                return Err(self
                    .deny(
                        ctx,
                        client,
                        OAuthError::InvalidGrant("unknown refresh token"),
                    )
                    .await)
            }
            Some(RefreshUse::Reused(state)) => {
                let audit = ctx
                    .audit()
                    .draft(
                        now,
                        AuditEvent::RefreshReuseDetected,
                        AuditOutcome::Failure,
                        json!({"family": state.family, "action": "family revoked"}),
                    )
                    .tenant(state.tenant_id)
                    .client(state.client_id.clone());
                self.store
                    .revoke_family(&state.family, now, &[audit])
                    .await
                    .map_err(|e| self.server_error(ctx, e))?;
                self.metrics.count("refresh_reuse");
                tracing::warn!(request_id = %ctx.request_id, client_id = %state.client_id, "refresh token reused; family revoked");
                return Err(OAuthError::InvalidGrant(
                    "refresh token already used; every token of its family is now revoked",
                ));
            }
            Some(RefreshUse::First(state)) => state,
        };
        if state.client_pk != client.pk {
            return Err(self
                .deny(
                    ctx,
                    client,
                    OAuthError::InvalidGrant("refresh token was issued to another client"),
                )
                .await);
        }
        if !state.is_active(now) {
            return Err(self
                .deny(
                    ctx,
                    client,
                    OAuthError::InvalidGrant("refresh token expired or revoked"),
                )
                .await);
        }
        let scope = match Self::granted_scope(client, scope, &state.scopes) {
            Ok(scope) => scope,
            Err(err) => return Err(self.deny(ctx, client, err).await),
        };
        let (response, rows) = self.mint(client, &scope, &state.family);
        let audit = ctx
            .audit()
            .draft(
                now,
                AuditEvent::TokenRefreshed,
                AuditOutcome::Success,
                json!({"grant_type": "refresh_token", "scope": scope.to_string(), "family": state.family}),
            )
            .tenant(client.tenant_id)
            .client(client.client_id.clone());
        self.store
            .issue_tokens(&rows, &[audit])
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        self.metrics.count("token_refreshed");
        Ok(response)
    }

    /// RFC 7009: revokes a token of the calling client. Unknown tokens and other clients'
    /// tokens are answered the same way (success) so the endpoint reveals nothing, but they
    /// are audited as failures.
    pub async fn revoke(
        &self,
        ctx: &RequestContext,
        client: &Client,
        token: &str,
    ) -> Result<(), OAuthError> {
        // Counted before the work, which writes on its own.
        self.admit(ctx, client, &[], &[]).await?;
        let now = self.clock.now_ms();
        let hash = credentials::hash(token);
        let state = self
            .store
            .token(&hash)
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        let audit = |outcome, details| {
            ctx.audit()
                .draft(now, AuditEvent::TokenRevoked, outcome, details)
                .tenant(client.tenant_id)
                .client(client.client_id.clone())
        };
        match state {
            Some(state) if state.client_pk == client.pk => {
                let draft = audit(
                    AuditOutcome::Success,
                    json!({"token_type": state.kind.as_str(), "family": state.family}),
                );
                let revoked = self
                    .store
                    .revoke_token(&hash, now, &[draft])
                    .await
                    .map_err(|e| self.server_error(ctx, e))?;
                tracing::info!(request_id = %ctx.request_id, client_id = %client.client_id, revoked, "token revoked");
                self.metrics.count("token_revoked");
            }
            other => {
                let reason = if other.is_some() {
                    "token of another client"
                } else {
                    "unknown token"
                };
                self.store
                    .append_audit(&[audit(AuditOutcome::Failure, json!({"reason": reason}))])
                    .await
                    .map_err(|e| self.server_error(ctx, e))?;
            }
        }
        Ok(())
    }

    /// RFC 7662: tells an authenticated client whether a token is active. A token of another
    /// tenant is reported inactive, exactly like an unknown one.
    pub async fn introspect(
        &self,
        ctx: &RequestContext,
        client: &Client,
        token: &str,
    ) -> Result<Introspection, OAuthError> {
        let now = self.clock.now_ms();
        let state = self
            .store
            .token(&credentials::hash(token))
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        let (answer, reason) = match state {
            None => (Introspection::inactive(), "unknown token"),
            Some(s) if s.tenant_id != client.tenant_id => {
                (Introspection::inactive(), "token of another tenant")
            }
            Some(s) if !s.is_active(now) => (Introspection::inactive(), "expired or revoked"),
            Some(s) => (
                Introspection {
                    active: true,
                    scope: Some(s.scopes.clone()),
                    client_id: Some(s.client_id.clone()),
                    token_type: Some(match s.kind {
                        TokenKind::Access => "Bearer",
                        TokenKind::Refresh => "refresh_token",
                    }),
                    exp: Some(s.expires_at / 1000),
                    iat: Some(s.issued_at / 1000),
                    iss: Some(self.issuer.clone()),
                    tenant_id: Some(s.tenant_id),
                },
                "active",
            ),
        };
        let draft = ctx
            .audit()
            .draft(
                now,
                AuditEvent::TokenIntrospected,
                AuditOutcome::Success,
                json!({"active": answer.active, "result": reason}),
            )
            .tenant(client.tenant_id)
            .client(client.client_id.clone());
        self.admit(ctx, client, &[], &[draft]).await?;
        Ok(answer)
    }
}
