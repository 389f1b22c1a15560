//! Bearer-token authentication for the API (RFC 6750): `Bearer<S>` is an extractor that
//! admits a request only with a valid token carrying one of the scopes `S` names, inside its
//! client's rate limit; `AnyBearer` admits any valid token. It reads the `Authorization`
//! header; `Authorizer::admit_bearer` decides.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kendrix_core::Scope;

use super::problem::ApiError;
use super::AppState;
use crate::context::RequestContext;
use crate::services::authorizer::{Presented, Required};

pub use crate::services::authorizer::Caller;

/// Names the scopes an endpoint admits, at the type level: a token with any one of them
/// (none named: any valid token).
pub trait RequiredScope: Send + Sync + 'static {
    const ANY_OF: &'static [Scope];
}

macro_rules! scope_markers {
    ($($(#[$doc:meta])* $name:ident => [$($scope:expr),*]),* $(,)?) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl RequiredScope for $name {
                const ANY_OF: &'static [Scope] = &[$($scope),*];
            }
        )*
    };
}

scope_markers! {
    /// Requires `sync:write`.
    SyncWrite => [Scope::SyncWrite],
    /// Requires `config:read`.
    ConfigRead => [Scope::ConfigRead],
    /// Requires `config:write`.
    ConfigWrite => [Scope::ConfigWrite],
    /// Requires `audit:read`.
    AuditRead => [Scope::AuditRead],
    /// Requires `stats:read`.
    StatsRead => [Scope::StatsRead],
    /// Requires `clients:admin`.
    ClientsAdmin => [Scope::ClientsAdmin],
    /// Requires `stats:read` or `clients:admin` (an admin sees its sites' figures).
    StatsOrAdmin => [Scope::StatsRead, Scope::ClientsAdmin],
    /// Requires `audit:read` or `clients:admin` (an admin sees its sites' alerts).
    AuditOrAdmin => [Scope::AuditRead, Scope::ClientsAdmin],
    /// Any valid token, a site's or an admin's.
    AnyScope => [],
}

/// Extracts the caller of a request that needs one of the scopes `S` names.
pub struct Bearer<S: RequiredScope>(pub Caller, pub PhantomData<S>);

/// Extracts the caller of a request that any valid token may make.
pub type AnyBearer = Bearer<AnyScope>;

impl<S: RequiredScope> FromRequestParts<AppState> for Bearer<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let ctx = RequestContext::from_request_parts(parts, app)
            .await
            .unwrap_or_else(|never| match never {});
        let caller = app
            .authorizer
            .admit_bearer(&ctx, presented(parts), Required(S::ANY_OF))
            .await?;
        tracing::Span::current().record("client_id", caller.client_id.as_str());
        Ok(Bearer(caller, PhantomData))
    }
}

/// The credential in the `Authorization` header.
fn presented(parts: &Parts) -> Presented<'_> {
    let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
        return Presented::Missing;
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
    match token {
        Some(token) => Presented::Token(token),
        None => Presented::Malformed,
    }
}
