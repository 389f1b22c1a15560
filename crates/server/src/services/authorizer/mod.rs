//! The OAuth 2.0 authorization server: client authentication, the client-credentials and
//! refresh-token grants with rotation and reuse detection, revocation (RFC 7009),
//! introspection (RFC 7662), and the bearer tokens of API requests (RFC 6750). HTTP parsing
//! and the wire format live in `http::oauth` and `http::bearer`; this module decides.

mod bearer;
mod grants;
mod protocol;
mod refusals;

use std::sync::Arc;

use kendrix_core::credentials;
use kendrix_core::{AuditDraft, AuditEvent, AuditOutcome, Clock};
use kendrix_store::{Client, NewToken, Store};
use serde_json::json;

pub use bearer::{BearerRefusal, Caller, Presented, Required};
pub use protocol::{
    AuthMethod, ClientCredentials, Introspection, OAuthError, ServerMetadata, TokenQuestion,
    TokenRequest, TokenResponse,
};

use crate::context::RequestContext;
use crate::entropy::Entropy;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::throttle::{LoginGate, Throttle, Verdict, SLOW_DOWN};

/// Authenticates clients and their tokens, and issues, rotates and revokes tokens.
pub struct Authorizer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    /// Token lifetimes and whether refresh tokens are issued.
    settings: Arc<Settings>,
    throttle: Throttle,
    metrics: Arc<Metrics>,
    /// Repeated refusals of valid identities, audited once per window with a count.
    refusals: refusals::Refusals,
    /// The OAuth issuer: this server's public URL.
    issuer: String,
}

impl Authorizer {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        settings: Arc<Settings>,
        throttle: Throttle,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            issuer: settings.public_url(),
            store,
            clock,
            entropy,
            settings,
            throttle,
            metrics,
            refusals: refusals::Refusals::default(),
        }
    }

    /// Audits the summaries of repeated refusals whose window has closed (see
    /// `refusals`); the housekeeping calls it once a window.
    pub async fn flush_refusals(&self) -> kendrix_store::StoreResult<()> {
        let summaries = self.refusals.drain_closed(self.clock.now_ms());
        if summaries.is_empty() {
            return Ok(());
        }
        self.store.append_audit(&summaries).await
    }

    /// Appends a refusal's entry, unless one of its kind was audited in this window already
    /// (then it is counted into that window's summary).
    async fn audit_refusal(&self, draft: AuditDraft) -> kendrix_store::StoreResult<()> {
        if self.refusals.first_in_window(&draft, draft.at) {
            self.store.append_audit(&[draft]).await?;
        }
        Ok(())
    }

    /// This authorization server's metadata (RFC 8414).
    pub fn metadata(&self) -> ServerMetadata {
        let base = &self.issuer;
        let auth_methods = vec!["client_secret_basic", "client_secret_post"];
        let mut grants = vec!["client_credentials"];
        if self.settings.refresh_tokens {
            grants.push("refresh_token");
        }
        ServerMetadata {
            issuer: base.clone(),
            token_endpoint: format!("{base}/oauth/token"),
            revocation_endpoint: format!("{base}/oauth/revoke"),
            introspection_endpoint: format!("{base}/oauth/introspect"),
            grant_types_supported: grants,
            token_endpoint_auth_methods_supported: auth_methods.clone(),
            revocation_endpoint_auth_methods_supported: auth_methods.clone(),
            introspection_endpoint_auth_methods_supported: auth_methods,
            scopes_supported: kendrix_core::Scope::ALL
                .iter()
                .map(|s| s.as_str())
                .collect(),
            response_types_supported: vec![],
            service_documentation: format!("{base}/openapi.json"),
        }
    }

    /// Answers a token request. `request` is what could be read from it: one that could not
    /// be read is refused and counted like a failed authentication.
    pub async fn token(
        &self,
        ctx: &RequestContext,
        request: Result<TokenRequest, OAuthError>,
    ) -> Result<TokenResponse, OAuthError> {
        let request = match request {
            Ok(request) => request,
            Err(err) => return Err(self.refuse_malformed(ctx, "token", err).await),
        };
        let creds = &request.credentials;
        let client = self.authenticate_client(ctx, creds, "token").await?;
        let scope = request.scope.as_deref();
        match request.grant_type.as_str() {
            "client_credentials" => {
                self.grant_client_credentials(ctx, &client, creds.method, scope)
                    .await
            }
            "refresh_token" if self.settings.refresh_tokens => {
                let Some(refresh) = request.refresh_token.as_deref().filter(|v| !v.is_empty())
                else {
                    let err = OAuthError::InvalidRequest(format!(
                        "missing parameter {:?}",
                        "refresh_token"
                    ));
                    return Err(self.deny(ctx, &client, err).await);
                };
                self.grant_refresh_token(ctx, &client, refresh, scope).await
            }
            other => {
                let err = OAuthError::UnsupportedGrantType(format!(
                    "grant_type {other:?} is not supported; use client_credentials{}",
                    if self.settings.refresh_tokens {
                        " or refresh_token"
                    } else {
                        ""
                    }
                ));
                Err(self.deny(ctx, &client, err).await)
            }
        }
    }

    /// RFC 7009: revokes a token of the calling client (see [`Self::token`] for `request`).
    pub async fn revoke(
        &self,
        ctx: &RequestContext,
        request: Result<TokenQuestion, OAuthError>,
    ) -> Result<(), OAuthError> {
        let (client, token) = self.token_question(ctx, request, "revoke").await?;
        self.revoke_token(ctx, &client, &token).await
    }

    /// RFC 7662: tells the calling client whether a token is active (see [`Self::token`]
    /// for `request`).
    pub async fn introspect(
        &self,
        ctx: &RequestContext,
        request: Result<TokenQuestion, OAuthError>,
    ) -> Result<Introspection, OAuthError> {
        let (client, token) = self.token_question(ctx, request, "introspect").await?;
        self.introspect_token(ctx, &client, &token).await
    }

    /// The calling client of a revocation or introspection request, authenticated, and the
    /// token it asks about.
    async fn token_question(
        &self,
        ctx: &RequestContext,
        request: Result<TokenQuestion, OAuthError>,
        endpoint: &'static str,
    ) -> Result<(Client, String), OAuthError> {
        let request = match request {
            Ok(request) => request,
            Err(err) => return Err(self.refuse_malformed(ctx, endpoint, err).await),
        };
        let client = self
            .authenticate_client(ctx, &request.credentials, endpoint)
            .await?;
        Ok((client, request.token))
    }

    fn server_error(&self, ctx: &RequestContext, err: impl std::fmt::Display) -> OAuthError {
        tracing::error!(request_id = %ctx.request_id, error = %err, "oauth request failed");
        OAuthError::Server(ctx.request_id.clone())
    }

    /// Proves the client's identity. First the login gate (see [`Throttle::login_gate`]):
    /// a blocked caller gets 429 before its secret is compared, so it cannot learn whether a
    /// guess was right. Every failure is then counted per address and per (address, client)
    /// and audited until the block starts; the token limits are enforced by [`Self::admit`]
    /// in the same step as the writes they guard.
    async fn authenticate_client(
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
        let existing = client.as_ref().map(|c| c.client_id.as_str());
        let gate = self
            .throttle
            .login_gate(&*self.store, &ctx.source, existing, now)
            .await
            .map_err(|e| self.server_error(ctx, e))?;
        match gate {
            LoginGate::Blocked { retry_after_secs } => {
                self.metrics.count("rate_limited");
                return Err(OAuthError::RateLimited(retry_after_secs));
            }
            LoginGate::SlowDown => {
                self.metrics.count("login_slowed_down");
                tokio::time::sleep(SLOW_DOWN).await;
            }
            LoginGate::Open => {}
        }
        let failure = match &client {
            None => {
                // Spend the same time as a real comparison, so unknown ids are not revealed.
                let _ = credentials::matches(&creds.client_secret, credentials::DUMMY_HASH);
                Some("unknown client")
            }
            Some(c) if !c.accepts_secret(&creds.client_secret, now) => Some("wrong secret"),
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
                let existing = client.as_ref().map(|c| c.client_id.as_str());
                let (verdict, crossed) = self
                    .throttle
                    .failed_auth(&*self.store, &ctx.source, existing, now)
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

    /// Refuses a request that could not be read (wrong content type, too large, malformed,
    /// missing parameters, unreadable credentials): counted against the source address like
    /// a failed authentication, and audited until the address is blocked.
    async fn refuse_malformed(
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
    async fn deny(&self, ctx: &RequestContext, client: &Client, err: OAuthError) -> OAuthError {
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
        if let Err(e) = self.audit_refusal(draft).await {
            return self.server_error(ctx, e);
        }
        self.metrics.count("token_denied");
        err
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
}
