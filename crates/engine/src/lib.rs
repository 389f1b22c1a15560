//! The site-side sync engine: records from the site's sources are kept safely in a local
//! outbox, formed into batches that are persisted (with their Idempotency-Key) before they
//! are sent, delivered on a schedule or on demand with the credentials from the OS
//! keychain, and every front-end (tray, UI, CLI) reads one status model.
//!
//! Architecture invariants:
//! - A record leaves the outbox only inside the transaction that puts it into a persisted
//!   batch, and leaves a batch only inside the transaction that records the server's answer
//!   for it — so a crash at any moment loses nothing and a resend always carries the same
//!   key and body.
//! - Secrets (the client secret, access tokens) live only in the OS keychain: never in the
//!   local database, a file, a log line or an error message. No keychain, no secrets.
//! - A record the server can never accept becomes a dead letter; it is never dropped.

mod backoff;
mod client;
mod engine;
mod keychain;
mod local_store;
pub mod private_files;
pub mod service_report;
mod sources;
mod status;

pub use backoff::{Backoff, RetryBudget};
pub use client::{
    AdminClient, AdminMethod, ChainHead, Failure, FetchedConfig, Profile, ServerClient,
    SiteSummary, WitnessedEntry,
};
pub use engine::{
    process_alive, AdminEnrollReport, Engine, EnrollReport, Heartbeat, LastRun, SyncServer,
    SyncSettings,
};
pub use keychain::{Keychain, KeychainError, StoredToken};
pub use local_store::{
    AgentState, BatchBudget, DeadLetter, Enqueue, FormedBatch, LocalStore, Names, QueueFigures,
    SyncRun, Witness,
};
pub use sources::{read_rows, Format, Inbox, InboxOutcome, RowShape};
pub use status::{Enrolled, Problem, Progress, RunOutcome, Status, SyncState, Trigger};

/// What went wrong in the engine, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A change cannot be queued; nothing of the call was queued.
    #[error("change {index}: {reason}")]
    InvalidChange { index: usize, reason: String },
    /// A source row cannot become a record; nothing of the source was queued.
    #[error("row {row}: {reason}; nothing was queued")]
    BadRow { row: usize, reason: String },
    /// The enrollment cannot be used (an unusable or unencrypted server URL, an empty
    /// credential); nothing was sent and nothing kept.
    #[error("{0}")]
    BadEnrollment(#[from] kendrix_core::enrollment::EnrollmentError),
    #[error("this agent is not enrolled yet: run `kendrix enroll <enrollment string>` (ask an admin for the string)")]
    NotEnrolled,
    /// The server refused the credentials, or the keychain failed: nothing was kept.
    #[error("enrollment failed: {0}")]
    Enrollment(Failure),
    /// The server URL answers, but not as a Kendrix server (404): nothing was kept.
    #[error("enrollment failed: {server} does not look like a Kendrix server: {failure}")]
    NotAServer { server: String, failure: Failure },
    /// No admin credential is kept on this PC.
    #[error("no admin credential on this PC: run `kendrix admin enroll <string>` with an admin enrollment string from `kendrix-server client register --scopes \"clients:admin …\"`")]
    NoAdmin,
    /// The admin credential was refused (or the keychain failed): nothing was kept.
    #[error("admin enrollment failed: {0}")]
    AdminEnrollment(Failure),
    /// The admin credential is good but lacks the `clients:admin` scope (HTTP 403; the
    /// server's detail). When enrolling, nothing was kept.
    #[error("the admin credential lacks the clients:admin scope (403 forbidden: {0}); register one with `kendrix-server client register --scopes \"clients:admin …\"` and run `kendrix admin enroll` with its string")]
    NotAdmin(String),
    /// The server answers, but has no admin API (404 on `GET /admin/sites`): it may be older
    /// than this agent. When enrolling, nothing was kept.
    #[error("{server} has no admin API (GET /admin/sites answered 404); it may be older than this agent: upgrade the server")]
    NoAdminApi { server: String },
    #[error("{0}")]
    Keychain(#[from] KeychainError),
    #[error("no dead letter with id {0:?}")]
    NoSuchDeadLetter(Vec<i64>),
    /// (Not a `#[source]`: the message already holds the failure, and error chains would
    /// print it twice.)
    #[error("the server: {0}")]
    Server(Failure),
    /// The local disk is full (or failing): nothing of the call was written.
    #[error("the agent's disk is full or failing ({0}); free some space — everything already queued is intact")]
    DiskFull(String),
    #[error("the local database failed: {0}")]
    Database(sqlx::Error),
    #[error("the local database could not be migrated: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A file the agent was asked to write (a download) could not be written.
    #[error("{path} could not be written: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The admin console asked for a path outside the admin API; nothing was sent.
    #[error("{0:?} is not a path of the admin API")]
    NotAdminPath(String),
}

impl EngineError {
    /// The kind of problem, when it is one the status names (`None`: a wrong call or input,
    /// such as a bad row, an unknown dead letter, or an agent not enrolled yet).
    pub fn problem(&self) -> Option<Problem> {
        match self {
            EngineError::Server(failure)
            | EngineError::Enrollment(failure)
            | EngineError::AdminEnrollment(failure) => Some(failure.problem()),
            EngineError::NotAServer { .. } | EngineError::NoAdminApi { .. } => {
                Some(Problem::Refused)
            }
            EngineError::NotAdmin(_) => Some(Problem::Permission),
            EngineError::Keychain(_) => Some(Problem::Keychain),
            EngineError::DiskFull(_) => Some(Problem::Disk),
            EngineError::Database(_)
            | EngineError::Migration(_)
            | EngineError::Io(_)
            | EngineError::File { .. } => Some(Problem::Local),
            EngineError::InvalidChange { .. }
            | EngineError::BadEnrollment(_)
            | EngineError::BadRow { .. }
            | EngineError::NotEnrolled
            | EngineError::NoAdmin
            | EngineError::NotAdminPath(_)
            | EngineError::NoSuchDeadLetter(_) => None,
        }
    }
}

impl From<sqlx::Error> for EngineError {
    fn from(e: sqlx::Error) -> Self {
        // SQLITE_FULL (13) and the SQLITE_IOERR family (10, extended codes end in 0x0a).
        let code = e
            .as_database_error()
            .and_then(|d| d.code())
            .and_then(|c| c.parse::<i64>().ok());
        match code {
            Some(c) if c == 13 || c & 0xff == 10 => EngineError::DiskFull(e.to_string()),
            _ => EngineError::Database(e),
        }
    }
}

pub type EngineResult<T> = Result<T, EngineError>;

/// Where an agent keeps its local database unless told otherwise: `$KENDRIX_AGENT_DIR`, else
/// `kendrix` in the user's data folder (`$XDG_DATA_HOME`, else `~/.local/share`; on Windows
/// `Kendrix` in `%LOCALAPPDATA%`). The CLI and the desktop app share it, so they are one agent.
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    if let Some(dir) = std::env::var_os("KENDRIX_AGENT_DIR") {
        return Some(PathBuf::from(dir));
    }
    if cfg!(windows) {
        return std::env::var_os("LOCALAPPDATA").map(|base| PathBuf::from(base).join("Kendrix"));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("kendrix"))
}

impl From<Failure> for EngineError {
    fn from(failure: Failure) -> Self {
        EngineError::Server(failure)
    }
}
