//! The heartbeat: after each sync run (and once an interval while the daemon's schedule is
//! paused) the agent tells its server how it stands — the queue, dead letters, the
//! configuration it runs, the last run — in one small call with the site's token. A
//! heartbeat that fails is logged and forgotten: it never fails a run or changes its outcome.

use std::time::Duration;

use kendrix_core::UnixMillis;
use serde::Serialize;

use super::Engine;
use crate::client::{Failure, ServerClient};
use crate::local_store::SyncRun;
use crate::status::RunOutcome;
use crate::EngineResult;

/// The longest a heartbeat may hold up the end of a run (a stalled server must not keep
/// `kendrix sync` or a shutdown waiting for the whole request timeout).
const HEARTBEAT_LIMIT: Duration = Duration::from_secs(10);
/// The server keeps at most this much of a run's message.
const MESSAGE_LIMIT: usize = 500;

/// The body of `POST /sync/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heartbeat {
    pub agent_version: &'static str,
    /// Records waiting: in the outbox and in batches not answered yet (not dead letters).
    pub queue_depth: i64,
    /// When the oldest waiting record was queued (`None`: nothing waits).
    pub oldest_pending_ms: Option<UnixMillis>,
    pub dead_letters: i64,
    /// The ETag of the configuration the agent runs (the hash its batches carry for drift).
    pub config_hash: Option<String>,
    /// The schedule's interval (a local override, else the server's).
    pub interval_secs: Option<u64>,
    pub last_run: Option<LastRun>,
}

/// A finished run as the heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRun {
    pub started_ms: UnixMillis,
    pub finished_ms: UnixMillis,
    pub outcome: RunOutcome,
    pub sent: i64,
    pub applied: i64,
    pub refused: i64,
    /// What stopped the run, in plain words (never a secret), at most 500 bytes.
    pub message: Option<String>,
}

impl LastRun {
    /// `None` for a run that has not finished (or whose process died).
    pub fn of(run: &SyncRun) -> Option<Self> {
        Some(Self {
            started_ms: run.started_at,
            finished_ms: run.finished_at?,
            outcome: run.outcome?,
            sent: run.sent,
            applied: run.applied,
            refused: run.rejected,
            message: run.error.as_deref().map(shortened),
        })
    }
}

/// `text` cut to [`MESSAGE_LIMIT`] bytes (so to as many characters at most) on a character
/// boundary, marked with an ellipsis when cut.
fn shortened(text: &str) -> String {
    if text.len() <= MESSAGE_LIMIT {
        return text.to_owned();
    }
    let mut end = MESSAGE_LIMIT - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Engine {
    /// The heartbeat as the agent stands now, reporting `last_run` (the queue's figures
    /// are one read of the local database).
    pub async fn heartbeat(&self, last_run: Option<&SyncRun>) -> EngineResult<Heartbeat> {
        let state = self.store.agent_state().await?;
        let figures = self.store.queue_figures().await?;
        let interval = state
            .interval_override_secs
            .unwrap_or_else(|| self.settings().interval.as_secs());
        Ok(Heartbeat {
            agent_version: env!("CARGO_PKG_VERSION"),
            queue_depth: figures.queue_depth,
            oldest_pending_ms: figures.oldest_pending_at,
            dead_letters: figures.dead_letters,
            config_hash: state.config.map(|c| c.etag),
            // The server takes 1 s to a day; a longer local override is not reported.
            interval_secs: Some(interval).filter(|s| (1..=86_400).contains(s)),
            last_run: last_run.and_then(LastRun::of),
        })
    }

    /// Sends a heartbeat with the site's client; every failure is logged, none returned.
    pub(super) async fn send_heartbeat(&self, client: &ServerClient, last_run: Option<&SyncRun>) {
        let heartbeat = match self.heartbeat(last_run).await {
            Ok(heartbeat) => heartbeat,
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat not sent: the local state could not be read");
                return;
            }
        };
        match tokio::time::timeout(HEARTBEAT_LIMIT, client.post_heartbeat(&heartbeat)).await {
            Ok(Ok(())) => tracing::debug!(queue_depth = heartbeat.queue_depth, "heartbeat sent"),
            // Offline, or a server older than heartbeats: nothing a person needs to hear.
            Ok(Err(
                failure @ (Failure::Transient { .. } | Failure::Refused { status: 404, .. }),
            )) => {
                tracing::debug!(error = %failure, "heartbeat not delivered")
            }
            Ok(Err(failure)) => tracing::warn!(error = %failure, "heartbeat not delivered"),
            Err(_) => tracing::debug!("heartbeat not delivered: no answer in time"),
        }
    }

    /// The heartbeat of a daemon whose schedule skips runs (paused): it reports the latest
    /// finished run.
    pub(super) async fn idle_heartbeat(&self) {
        let client = match self.current_client().await {
            Ok(client) => client,
            Err(_) => return,
        };
        let latest = match self.store.history(1).await {
            Ok(runs) => runs.into_iter().next(),
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat not sent: the history could not be read");
                return;
            }
        };
        self.send_heartbeat(&client, latest.as_ref()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary_within_the_limit() {
        assert_eq!(shortened("offline"), "offline");
        let long = "é".repeat(400);
        let cut = shortened(&long);
        assert!(cut.len() <= MESSAGE_LIMIT, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(cut.chars().count() <= MESSAGE_LIMIT);
    }
}
