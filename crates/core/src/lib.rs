//! Domain types and rules of Kendrix Sync.
//!
//! Architecture invariant: nothing here does IO, knows HTTP or SQL, or reads the clock or
//! the OS random source by itself — time and randomness are passed in, so every rule is
//! testable exactly.

pub mod admin;
pub mod audit;
pub mod checkpoint;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod enrollment;
pub mod rate_limit;
pub mod scope;
pub mod sealed;
pub mod sync;
pub mod version;

pub use audit::{AuditDraft, AuditEvent, AuditOutcome};
pub use clock::{Clock, SystemClock, UnixMillis};
pub use scope::{Scope, ScopeSet};
pub use version::{Hlc, Version};
