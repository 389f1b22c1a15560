//! Who is asking: the request id and the source address of the current request, carried
//! into every log line and audit entry the request causes. The HTTP layer reads it from each
//! request (`http::context`); the command line and background work make their own.

use kendrix_core::audit::AuditContext;

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    /// The peer's IP address (without port), or `unknown` when not served over a socket.
    pub source: String,
}

impl RequestContext {
    /// An action taken from the command line: a fresh `cli-…` id, source `cli`.
    pub fn cli() -> Self {
        Self {
            request_id: format!("cli-{}", uuid::Uuid::now_v7()),
            source: "cli".into(),
        }
    }

    /// Work the server does on its own (housekeeping, detection passes), named `what`.
    pub fn background(what: &str) -> Self {
        Self {
            request_id: format!("{what}-{}", uuid::Uuid::now_v7()),
            source: "server".into(),
        }
    }

    pub fn audit(&self) -> AuditContext {
        AuditContext {
            request_id: Some(self.request_id.clone()),
            source: Some(self.source.clone()),
        }
    }
}
