//! Bearer-token authentication for the API (RFC 6750): `Bearer<S>` is an extractor that
//! admits a request only with a valid token carrying scope `S`, inside its client's rate
//! limit. It reads the `Authorization` header; `Authorizer::admit_bearer` decides.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kendrix_core::Scope;

use super::problem::ApiError;
use super::AppState;
use crate::context::RequestContext;
use crate::services::authorizer::Presented;

pub use crate::services::authorizer::Caller;

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
    ClientsAdmin => Scope::ClientsAdmin,
}

/// Extracts the caller of a request that needs scope `S`.
pub struct Bearer<S: RequiredScope>(pub Caller, pub PhantomData<S>);

impl<S: RequiredScope> FromRequestParts<AppState> for Bearer<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let ctx = RequestContext::from_request_parts(parts, app)
            .await
            .unwrap_or_else(|never| match never {});
        let caller = app
            .authorizer
            .admit_bearer(&ctx, presented(parts), S::SCOPE)
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
