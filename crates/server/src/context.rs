//! Who is asking: the request id and the source address of the current request, carried
//! into every log line and audit entry the request causes.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use kendrix_core::audit::AuditContext;

/// The header carrying the request id; set by the server if the caller sent none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    /// The peer's IP address (without port), or `unknown` when not served over a socket.
    pub source: String,
}

impl RequestContext {
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            request_id: Some(self.request_id.clone()),
            source: Some(self.source.clone()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(Self { request_id, source })
    }
}
