//! The one status model every front-end shows (tray, UI, CLI), and the backoff schedule.

use std::time::Duration;

use kendrix_core::UnixMillis;
use rand::Rng;
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

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … up to `cap`, each drawn between half
/// and all of that step, so many agents recovering at once do not return in lockstep. A
/// server's `Retry-After` wins when given.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    cap: Duration,
}

impl Backoff {
    pub fn new(cap: Duration) -> Self {
        Self { failures: 0, cap }
    }

    pub fn next_delay(&mut self, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if let Some(wait) = retry_after {
            // A little spread after the server's time, never before it.
            return wait + Duration::from_millis(rng.gen_range(0..250));
        }
        let step = Duration::from_secs(1)
            .saturating_mul(1u32 << self.failures.min(16).saturating_sub(1))
            .min(self.cap);
        let millis = step.as_millis() as u64;
        Duration::from_millis(rng.gen_range(millis / 2..=millis.max(1)))
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::new(Duration::from_secs(8));
        let delays: Vec<u128> = (0..6)
            .map(|_| backoff.next_delay(None, &mut rng).as_millis())
            .collect();
        for (delay, step) in delays.iter().zip([1000u128, 2000, 4000, 8000, 8000, 8000]) {
            assert!(
                *delay >= step / 2 && *delay <= step,
                "{delay} not in [{}, {step}]",
                step / 2
            );
        }
        let wait = backoff.next_delay(Some(Duration::from_secs(30)), &mut rng);
        assert!(wait >= Duration::from_secs(30) && wait < Duration::from_millis(30_250));
        backoff.reset();
        assert!(backoff.next_delay(None, &mut rng) <= Duration::from_secs(1));
    }

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
        status.message = Some("credentials revoked".into());
        assert_eq!(status.summary(), "error: credentials revoked");
    }
}
