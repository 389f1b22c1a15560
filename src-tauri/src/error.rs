//! The error every command answers with, as gitbutler's shell does: a `code` the UI decides
//! on (which view to show, whether a retry can help) and a `message` in plain words to show.
//! No one reads the message to decide anything.

use kendrix_core::enrollment::EnrollmentError;
use kendrix_engine::{EngineError, Problem};
use serde::Serialize;

/// What kind of failure a command met: the engine's `Problem` (the words `Status.problem`
/// uses: auth, permission, offline, refused, keychain, disk, local) or one of the call's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ErrorCode {
    Problem(Problem),
    Call(CallError),
}

/// Failures of the call itself rather than of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallError {
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
        ErrorCode::Problem(problem)
    }
}

impl From<CallError> for ErrorCode {
    fn from(call: CallError) -> Self {
        ErrorCode::Call(call)
    }
}

/// A failed command as the UI receives it: `{ "code": "…", "message": "…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> Self {
        let code: ErrorCode = match (e.problem(), &e) {
            (Some(problem), _) => problem.into(),
            (None, EngineError::NotEnrolled) => CallError::NotEnrolled.into(),
            (None, EngineError::NoSuchDeadLetter(_)) => CallError::NotFound.into(),
            (None, _) => CallError::Invalid.into(),
        };
        Self::new(code, e.to_string())
    }
}

impl From<EnrollmentError> for CommandError {
    fn from(e: EnrollmentError) -> Self {
        Self::new(CallError::Invalid, e.to_string())
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
        assert_eq!(forbidden.code, ErrorCode::Problem(Problem::Permission));
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
        assert_eq!(offline.code, ErrorCode::Problem(Problem::Offline));
        let code = |e: EngineError| serde_json::to_value(CommandError::from(e).code).unwrap();
        assert_eq!(code(EngineError::NotEnrolled), "not_enrolled");
        assert_eq!(code(EngineError::NoSuchDeadLetter(vec![7])), "not_found");
        assert_eq!(
            code(EngineError::DiskFull("database or disk is full".into())),
            "disk"
        );
        assert_eq!(
            serde_json::to_value(CommandError::from(EnrollmentError::NotBase64)).unwrap()["code"],
            "invalid"
        );
    }
}
