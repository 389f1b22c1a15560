//! The error every command answers with, as gitbutler's shell does: a `code` the UI decides
//! on (which view to show, whether a retry can help) and a `message` in plain words to show.
//! No one reads the message to decide anything.

use kendrix_core::enrollment::EnrollmentError;
use kendrix_engine::{EngineError, Failure, Problem};
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
    /// No admin credential is signed in on this PC.
    NoAdmin,
    /// The server refused the change as it stands (409: a revoked site, a concurrent edit).
    Conflict,
    /// The enrollment string is for another site than the one enrolled: confirm to change.
    OtherSite,
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
            // The admin console decides on what the server refused (400, 404, 409).
            (_, EngineError::Server(Failure::Refused { status, .. })) => match status {
                404 => CallError::NotFound.into(),
                409 => CallError::Conflict.into(),
                400 | 413 | 422 => CallError::Invalid.into(),
                _ => Problem::Refused.into(),
            },
            (Some(problem), _) => problem.into(),
            (None, EngineError::NotEnrolled) => CallError::NotEnrolled.into(),
            (None, EngineError::NoAdmin) => CallError::NoAdmin.into(),
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
        assert_eq!(code(EngineError::NoAdmin), "no_admin");
        let refused = |status| {
            EngineError::Server(Failure::Refused {
                status,
                detail: "why".into(),
            })
        };
        assert_eq!(code(refused(404)), "not_found");
        assert_eq!(code(refused(409)), "conflict");
        assert_eq!(code(refused(400)), "invalid");
        assert_eq!(code(refused(418)), "refused");
    }
}
