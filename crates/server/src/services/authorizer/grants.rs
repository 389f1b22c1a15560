//! The grants (RFC 6749 §4.4 and §6), revocation (RFC 7009) and introspection (RFC 7662)
//! of an authenticated client.

use kendrix_core::credentials::{self, CredentialKind};
use kendrix_core::{AuditEvent, AuditOutcome, ScopeSet};
use kendrix_store::{Client, NewToken, RefreshUse, TokenKind};
use serde_json::json;

use super::{AuthMethod, Authorizer, Introspection, OAuthError, TokenResponse};
use crate::context::RequestContext;

impl Authorizer {
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
        let mut rng = self.entropy.rng();
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

    /// `grant_type=client_credentials` (RFC 6749 §4.4).
    pub(super) async fn grant_client_credentials(
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
        let family = credentials::generate_id(&mut self.entropy.rng());
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

    /// `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection.
    pub(super) async fn grant_refresh_token(
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
            .use_refresh_token(&credentials::hash(refresh_token), client.pk, now)
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
            // Checked before spending: another client's refresh token stays usable by its owner.
            Some(RefreshUse::OtherClient) => {
                return Err(self
                    .deny(
                        ctx,
                        client,
                        OAuthError::InvalidGrant("refresh token was issued to another client"),
                    )
                    .await)
            }
        };
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
    pub(super) async fn revoke_token(
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
    pub(super) async fn introspect_token(
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
