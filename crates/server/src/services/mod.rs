//! The server's services: plain structs, each owning what it needs (the store, the clock,
//! an entropy source, the settings it reads) and shared by the HTTP API and the command line.
//! They know nothing of HTTP: `crate::http` calls them, and they never call it or
//! `crate::app`, which wires them.

pub mod anomalies;
pub mod audit_log;
pub mod authorizer;
pub mod configurations;
pub mod intake;
pub mod reports;
pub mod sites;

use std::error::Error;
use std::fmt;

pub use anomalies::Anomalies;
pub use audit_log::AuditLog;
pub use authorizer::Authorizer;
pub use configurations::Configurations;
pub use intake::BatchIntake;
pub use reports::Reports;
pub use sites::Sites;

use crate::context::RequestContext;

/// A failure that is not the caller's doing (the database, a value no key opens), tied to
/// the request it failed so that its log line and its answer can name that request.
#[derive(Debug)]
pub struct Failure {
    pub request_id: String,
    pub error: Box<dyn Error + Send + Sync>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

// Shows as the error it wraps, so a command-line error reads as it always did.
impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

impl RequestContext {
    /// Ties `error` to this request.
    pub fn failure(&self, error: impl Into<Box<dyn Error + Send + Sync>>) -> Failure {
        Failure {
            request_id: self.request_id.clone(),
            error: error.into(),
        }
    }
}

/// Ties the error of a result to the request it failed: `store.x().await.within(ctx)?`.
pub(crate) trait Within<T> {
    fn within(self, ctx: &RequestContext) -> Result<T, Failure>;
}

impl<T, E: Into<Box<dyn Error + Send + Sync>>> Within<T> for Result<T, E> {
    fn within(self, ctx: &RequestContext) -> Result<T, Failure> {
        self.map_err(|e| ctx.failure(e))
    }
}
