//! The one status model every front-end shows (tray, UI, CLI), and the words of a run: what
//! started it, how it ended, and what kind of problem stopped it.

use kendrix_core::UnixMillis;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// Nothing running; see `all_synced` for whether everything arrived.
    #[default]
    Idle,
    Syncing,
    /// The schedule is paused (Sync Now still works).
    Paused,
    /// The server cannot be reached or asked to wait; the agent retries by itself.
    Offline,
    /// Something needs a person (credentials, keychain, a refused request); see `message`.
    Error,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Idle => "idle",
            SyncState::Syncing => "syncing",
            SyncState::Paused => "paused",
            SyncState::Offline => "offline",
            SyncState::Error => "error",
        }
    }
}

/// What kind of problem put the agent in the error or offline state, so front-ends decide
/// on it (icon, notification title, exit code) instead of reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The server refused the credentials (or they are missing): enroll again.
    Auth,
    /// The credentials are good but lack a permission (HTTP 403): an admin grants it.
    Permission,
    /// The server could not be reached or asked to wait: the agent retries by itself.
    Offline,
    /// The server refused a request as a whole: its records wait in the outbox for a person.
    Refused,
    /// The OS keychain could not be used.
    Keychain,
    /// The local disk is full or failing.
    Disk,
    /// Any other local failure (the agent's database, a file).
    Local,
}

impl Problem {
    /// Every kind, in declaration order.
    pub const ALL: [Problem; 7] = [
        Problem::Auth,
        Problem::Permission,
        Problem::Offline,
        Problem::Refused,
        Problem::Keychain,
        Problem::Disk,
        Problem::Local,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Auth => "auth",
            Problem::Permission => "permission",
            Problem::Offline => "offline",
            Problem::Refused => "refused",
            Problem::Keychain => "keychain",
            Problem::Disk => "disk",
            Problem::Local => "local",
        }
    }

    /// The stored word back (`None` for a word this version does not know).
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == word)
    }

    /// How a run stopped by this problem ended.
    pub fn outcome(self) -> RunOutcome {
        match self {
            Problem::Auth | Problem::Permission => RunOutcome::Auth,
            Problem::Offline => RunOutcome::Offline,
            _ => RunOutcome::Error,
        }
    }
}

/// How a sync run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Everything waiting was sent and answered.
    Synced,
    /// Everything was sent, but the server refused some records (now dead letters).
    Partial,
    /// The server could not be reached within the retry window; the queue is intact.
    Offline,
    /// The server refused the credentials or a permission.
    Auth,
    /// Something else stopped the run (a refused request, the keychain, the local disk).
    Error,
}

impl RunOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [RunOutcome; 5] = [
        RunOutcome::Synced,
        RunOutcome::Partial,
        RunOutcome::Offline,
        RunOutcome::Auth,
        RunOutcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Synced => "synced",
            RunOutcome::Partial => "partial",
            RunOutcome::Offline => "offline",
            RunOutcome::Auth => "auth",
            RunOutcome::Error => "error",
        }
    }

    /// The stored word back (`None` for a word this version does not know).
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == word)
    }

    /// Whether the run delivered everything it had (some records may have been refused).
    pub fn succeeded(self) -> bool {
        matches!(self, RunOutcome::Synced | RunOutcome::Partial)
    }

    /// The problem a run that ended so stands for, when nothing more precise was kept.
    pub fn problem(self) -> Option<Problem> {
        match self {
            RunOutcome::Synced | RunOutcome::Partial => None,
            RunOutcome::Offline => Some(Problem::Offline),
            RunOutcome::Auth => Some(Problem::Auth),
            RunOutcome::Error => Some(Problem::Local),
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
        }
    }

    /// The stored word back (anything but `schedule` was a manual run).
    pub fn parse(word: &str) -> Self {
        if word == "schedule" {
            Trigger::Schedule
        } else {
            Trigger::Manual
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub sent: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    pub server: String,
    pub client_id: String,
}

/// What the agent is doing and whether everything arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: SyncState,
    /// True only when the server confirmed every batch sent, the queue is empty and no
    /// record waits in dead letters.
    pub all_synced: bool,
    pub queue_depth: i64,
    pub dead_letters: i64,
    pub last_success_at: Option<UnixMillis>,
    pub next_run_at: Option<UnixMillis>,
    pub paused_until: Option<UnixMillis>,
    /// What kind of problem the error or offline state is (decide on this, not `message`).
    pub problem: Option<Problem>,
    /// Why the state is error, offline or paused, in plain words.
    pub message: Option<String>,
    /// Something staff should know although syncing works (e.g. the audit witness).
    pub warning: Option<String>,
    pub progress: Option<Progress>,
    pub enrolled: Option<Enrolled>,
    pub config_version: Option<String>,
}

impl Status {
    /// One line for a terminal or a tooltip.
    pub fn summary(&self) -> String {
        let mut line = match self.state {
            SyncState::Idle if self.all_synced => "all synced".to_owned(),
            SyncState::Idle if self.dead_letters > 0 => format!(
                "idle — {} record(s) refused by the server wait in dead letters",
                self.dead_letters
            ),
            SyncState::Idle if self.queue_depth > 0 => {
                format!("idle — {} record(s) waiting to be sent", self.queue_depth)
            }
            SyncState::Idle => "idle — nothing synced yet".to_owned(),
            state => state.as_str().to_owned(),
        };
        if let Some(message) = &self.message {
            line.push_str(": ");
            line.push_str(message);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_synced_reads_as_such_and_problems_are_named() {
        let mut status = Status {
            all_synced: true,
            last_success_at: Some(1),
            ..Status::default()
        };
        assert_eq!(status.summary(), "all synced");
        status.all_synced = false;
        status.dead_letters = 2;
        assert!(status.summary().contains("2 record(s) refused"));
        status.state = SyncState::Error;
        status.problem = Some(Problem::Auth);
        status.message = Some("credentials revoked".into());
        assert_eq!(status.summary(), "error: credentials revoked");
    }

    #[test]
    fn the_words_of_a_run_read_back_as_they_were_written() {
        fn words_round_trip<T>(
            all: &[T],
            as_str: fn(&T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) where
            T: Serialize + PartialEq + std::fmt::Debug,
        {
            for value in all {
                assert_eq!(parse(as_str(value)).as_ref(), Some(value));
                assert_eq!(
                    serde_json::to_value(value).unwrap(),
                    serde_json::Value::from(as_str(value))
                );
            }
        }
        words_round_trip(&RunOutcome::ALL, |o| o.as_str(), RunOutcome::parse);
        words_round_trip(&Problem::ALL, |p| p.as_str(), Problem::parse);
        assert_eq!(Problem::Permission.outcome(), RunOutcome::Auth);
        assert_eq!(Problem::Disk.outcome(), RunOutcome::Error);
        assert_eq!(
            Trigger::parse(Trigger::Schedule.as_str()),
            Trigger::Schedule
        );
        assert_eq!(RunOutcome::parse("later"), None);
    }
}
