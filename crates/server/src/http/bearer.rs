//! Bearer-token authentication for the API (RFC 6750): `Bearer<S>` is an extractor that
//! admits a request only with a valid token carrying scope `S`, inside its client's rate
//! limit. Every refusal is audited and counted towards the failed-authentication throttle.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kendrix_core::credentials;
use kendrix_core::{AuditEvent, AuditOutcome, Scope, ScopeSet};
use serde_json::json;

use crate::app::AppState;
use crate::context::RequestContext;
use crate::http::problem::{internal, ApiError};
use crate::throttle::Verdict;

/// Names the scope an endpoint requires, at the type level.
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($name:ident => $scope:expr),* $(,)?) => {
        $(
            #[doc = concat!("Requires `", stringify!($name), "`.")]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = $scope;
            }
        )*
    };
}

scope_markers! {
    SyncWrite => Scope::SyncWrite,
    ConfigRead => Scope::ConfigRead,
    ConfigWrite => Scope::ConfigWrite,
    AuditRead => Scope::AuditRead,
    StatsRead => Scope::StatsRead,
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_pk: i64,
    pub client_id: String,
    pub tenant_id: i64,
    pub scopes: ScopeSet,
    /// The family of the token used (also in its `token.issued` audit entry), so an admin
    /// can follow a sync from the token to the batch it carried.
    pub token_family: String,
    pub ctx: RequestContext,
}

/// Extracts the caller of a request that needs scope `S`.
pub struct Bearer<S: RequiredScope>(pub Caller, pub PhantomData<S>);

/// Why a presented token was refused, for the audit entry and the response.
enum Refusal {
    Missing,
    Malformed,
    Invalid(&'static str),
    Scope(Caller),
}

impl<S: RequiredScope> FromRequestParts<AppState> for Bearer<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let ctx = RequestContext::from_request_parts(parts, app)
            .await
            .unwrap_or_else(|never| match never {});
        let now = app.clock.now_ms();
        let outcome = authenticate(parts, app, &ctx, S::SCOPE, now).await?;
        let caller = match outcome {
            Ok(caller) => caller,
            Err(refusal) => return Err(refuse(app, &ctx, refusal, S::SCOPE, now).await),
        };
        let verdict = app.throttle.api_request(caller.client_pk, now);
        if let Verdict::Limited {
            retry_after_secs, ..
        } = verdict
        {
            return Err(ApiError::RateLimited(retry_after_secs));
        }
        tracing::Span::current().record("client_id", caller.client_id.as_str());
        Ok(Bearer(caller, PhantomData))
    }
}

async fn authenticate(
    parts: &Parts,
    app: &AppState,
    ctx: &RequestContext,
    scope: Scope,
    now: i64,
) -> Result<Result<Caller, Refusal>, ApiError> {
    let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(Err(Refusal::Missing));
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains(' '));
    let Some(token) = token else {
        return Ok(Err(Refusal::Malformed));
    };
    let state = app
        .store
        .token(&credentials::hash(token))
        .await
        .map_err(|e| internal(&ctx.request_id, e))?;
    let state = match state {
        None => return Ok(Err(Refusal::Invalid("unknown"))),
        Some(s) if s.kind != kendrix_store::TokenKind::Access => {
            return Ok(Err(Refusal::Invalid("not an access token")))
        }
        Some(s) if s.client_revoked_at.is_some() => {
            return Ok(Err(Refusal::Invalid("revoked (its client was revoked)")))
        }
        Some(s) if s.revoked_at.is_some() => return Ok(Err(Refusal::Invalid("revoked"))),
        Some(s) if now >= s.expires_at => return Ok(Err(Refusal::Invalid("expired"))),
        Some(s) => s,
    };
    let caller = Caller {
        client_pk: state.client_pk,
        client_id: state.client_id,
        tenant_id: state.tenant_id,
        scopes: state.scopes.parse().unwrap_or_default(),
        token_family: state.family,
        ctx: ctx.clone(),
    };
    if !caller.scopes.contains(scope) {
        return Ok(Err(Refusal::Scope(caller)));
    }
    Ok(Ok(caller))
}

/// Audits a refusal, counts it against the source address, and picks the response.
async fn refuse(
    app: &AppState,
    ctx: &RequestContext,
    refusal: Refusal,
    scope: Scope,
    now: i64,
) -> ApiError {
    let (reason, error, caller) = match refusal {
        Refusal::Missing => ("missing token", ApiError::MissingToken, None),
        Refusal::Malformed => (
            "malformed Authorization header",
            ApiError::MalformedToken,
            None,
        ),
        Refusal::Invalid(why) => (why, ApiError::InvalidToken(why), None),
        Refusal::Scope(caller) => (
            "insufficient scope",
            ApiError::InsufficientScope(scope),
            Some(caller),
        ),
    };
    let mut draft = ctx.audit().draft(
        now,
        AuditEvent::BearerRejected,
        AuditOutcome::Failure,
        json!({"reason": reason, "required_scope": scope.as_str()}),
    );
    if let Some(caller) = &caller {
        draft = draft
            .tenant(caller.tenant_id)
            .client(caller.client_id.clone());
    }
    // An under-scoped token is a valid identity: it does not count as a failed login.
    let throttled = if caller.is_none() {
        match app
            .throttle
            .failed_auth(&*app.store, &ctx.source, None, now)
            .await
        {
            Ok((
                Verdict::Limited {
                    retry_after_secs, ..
                },
                crossed,
            )) => Some((retry_after_secs, crossed)),
            Ok(_) => None,
            Err(e) => return internal(&ctx.request_id, e),
        }
    } else {
        None
    };
    // Once an address is blocked, only the crossing is audited, so a flood cannot grow the log.
    let audit = match throttled {
        Some((_, false)) => None,
        _ => Some(draft),
    };
    if let Some(draft) = audit {
        if let Err(e) = app.store.append_audit(&[draft]).await {
            return internal(&ctx.request_id, e);
        }
    }
    tracing::info!(request_id = %ctx.request_id, reason, "bearer token refused");
    match throttled {
        Some((secs, _)) => ApiError::RateLimited(secs),
        None => error,
    }
}
