//! The site-side sync engine. So far: the local outbox — changes kept safely on disk,
//! coalesced per record, formed into batches that are persisted (with their
//! Idempotency-Key) before they are sent, and records the server refused kept as dead
//! letters.
//!
//! Architecture invariant: a record leaves the outbox only inside the transaction that puts
//! it into a persisted batch, and leaves a batch only inside the transaction that records
//! the server's answer for it — so a crash at any moment loses nothing and a resend always
//! carries the same key and body.

mod outbox;

pub use outbox::{Change, DeadLetter, FormedBatch, Outbox};

/// What went wrong in the engine, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A change cannot be queued; nothing of the call was queued.
    #[error("change {index}: {reason}")]
    InvalidChange { index: usize, reason: String },
    #[error("the local database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the local database could not be migrated: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type EngineResult<T> = Result<T, EngineError>;
