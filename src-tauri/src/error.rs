//! The error every command answers with, as gitbutler's shell does: a `code` the UI decides
//! on (which view to show, whether a retry can help) and a `message` in plain words to show.
//! No one reads the message to decide anything.

use kendrix_core::enrollment::EnrollmentError;
use kendrix_engine::{EngineError, Problem};
use serde::Serialize;

/// What kind of failure a command met. The words match `Status.problem` where they overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The server refused the credentials (or they are missing): enroll again.
    Auth,
    /// This site's client lacks a permission (HTTP 403): an admin grants the scope.
    Permission,
    /// The server could not be reached or asked to wait.
    Offline,
    /// The server refused the request as a whole.
    Refused,
    Keychain,
    Disk,
    /// Any other local failure (the agent's database, a file, the autostart entry).
    Local,
    /// The agent is not enrolled yet.
    NotEnrolled,
    /// The call's input cannot be used (an enrollment string, corrected data, a format).
    Invalid,
    /// What the call names does not exist (a dead letter).
    NotFound,
    /// The server answered something the app cannot read.
    Unreadable,
}

impl From<Problem> for ErrorCode {
    fn from(problem: Problem) -> Self {
        match problem {
            Problem::Auth => ErrorCode::Auth,
            Problem::Permission => ErrorCode::Permission,
            Problem::Offline => ErrorCode::Offline,
            Problem::Refused => ErrorCode::Refused,
            Problem::Keychain => ErrorCode::Keychain,
            Problem::Disk => ErrorCode::Disk,
            Problem::Local => ErrorCode::Local,
        }
    }
}

/// A failed command as the UI receives it: `{ "code": "…", "message": "…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> Self {
        let code = match (e.problem(), &e) {
            (Some(problem), _) => problem.into(),
            (None, EngineError::NotEnrolled) => ErrorCode::NotEnrolled,
            (None, EngineError::NoSuchDeadLetter(_)) => ErrorCode::NotFound,
            (None, _) => ErrorCode::Invalid,
        };
        Self::new(code, e.to_string())
    }
}

impl From<EnrollmentError> for CommandError {
    fn from(e: EnrollmentError) -> Self {
        Self::new(ErrorCode::Invalid, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use kendrix_engine::Failure;

    use super::*;

    #[test]
    fn engine_failures_reach_the_ui_as_a_code_and_their_words() {
        let forbidden = CommandError::from(EngineError::Server(Failure::Forbidden(
            "insufficient scope: audit:read".into(),
        )));
        assert_eq!(forbidden.code, ErrorCode::Permission);
        assert_eq!(
            forbidden.message,
            "the server: this agent lacks a permission it needs (403 forbidden): insufficient scope: audit:read"
        );
        assert_eq!(
            serde_json::to_value(&forbidden).unwrap()["code"],
            "permission"
        );
        let offline = CommandError::from(EngineError::Server(Failure::Transient {
            reason: "cannot reach the server".into(),
            retry_after: None,
        }));
        assert_eq!(offline.code, ErrorCode::Offline);
        assert_eq!(
            CommandError::from(EngineError::NotEnrolled).code,
            ErrorCode::NotEnrolled
        );
        assert_eq!(
            CommandError::from(EngineError::NoSuchDeadLetter(vec![7])).code,
            ErrorCode::NotFound
        );
        assert_eq!(
            CommandError::from(EngineError::DiskFull("database or disk is full".into())).code,
            ErrorCode::Disk
        );
        assert_eq!(
            serde_json::to_value(CommandError::from(EnrollmentError::NotBase64)).unwrap()["code"],
            "invalid"
        );
    }
}
