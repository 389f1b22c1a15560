//! The daemon's schedule: a sync every interval (the server's, or a local override),
//! backing off while the server is unreachable, no timer retries after refused
//! credentials, the inbox taken in, pause and resume (a heartbeat each interval while
//! paused), and a graceful shutdown.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::time::Instant;

use super::Engine;
use crate::backoff::Backoff;
use crate::sources::Inbox;
use crate::status::{RunOutcome, Trigger};
use crate::{EngineError, EngineResult};

impl Engine {
    /// Pauses the schedule for `minutes`, or until resumed when `None`. Sync Now still works.
    pub async fn pause(&self, minutes: Option<u64>) -> EngineResult<()> {
        let until = match minutes {
            Some(m) => self.clock.now_ms() + (m as i64) * 60_000,
            None => i64::MAX,
        };
        self.store
            .update_state(|s| s.paused_until = Some(until))
            .await?;
        self.publish().await
    }

    pub async fn resume(&self) -> EngineResult<()> {
        self.store.update_state(|s| s.paused_until = None).await?;
        self.wake_schedule();
        self.publish().await
    }

    /// Overrides the server's sync interval locally (`None`: use the server's).
    pub async fn set_interval_override(&self, seconds: Option<u64>) -> EngineResult<()> {
        self.store
            .update_state(|s| s.interval_override_secs = seconds.map(|s| s.max(1)))
            .await?;
        self.wake_schedule();
        Ok(())
    }

    pub async fn interval_override(&self) -> EngineResult<Option<u64>> {
        Ok(self.store.agent_state().await?.interval_override_secs)
    }

    async fn interval(&self) -> EngineResult<Duration> {
        Ok(match self.interval_override().await? {
            Some(secs) => Duration::from_secs(secs),
            None => self.settings().interval,
        })
    }

    /// Asks the daemon loop (if one runs in this process) to sync now.
    pub fn request_sync(&self) {
        self.wake.notify_one();
    }

    /// Lets the daemon loop recompute the schedule (the interval or the pause changed).
    pub(super) fn wake_schedule(&self) {
        self.wake.notify_one();
    }

    /// What is left of the wait the server asked for at the end of the last run.
    fn server_wait_left(&self) -> Duration {
        self.server_wait
            .lock()
            .expect("server wait lock")
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    /// Asks a running sync and the daemon loop to stop after the current request.
    pub fn shutdown(&self) {
        self.stopping.send_replace(true);
    }

    /// The daemon: syncs on the schedule (the server's interval, backing off while the
    /// server is unreachable), takes in the inbox, and stops when [`Engine::shutdown`] is
    /// called.
    pub async fn run(&self, inbox: Option<Inbox>) -> EngineResult<()> {
        let mut stopping = self.stopping.subscribe();
        let mut backoff = Backoff::new(self.settings().retry_cap);
        let mut rng = StdRng::from_entropy();
        let mut inbox_tick = tokio::time::interval(Duration::from_secs(2));
        inbox_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next = Instant::now();
        // Files that arrived while the agent was down go into the first sync.
        if let Some(inbox) = &inbox {
            if let Err(e) = self.take_inbox(inbox).await {
                tracing::error!(error = %e, "inbox not taken in; trying again");
            }
        }
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            let next_at = self.clock.now_ms() + wait.as_millis() as i64;
            self.store
                .update_state(|s| s.next_run_at = Some(next_at))
                .await?;
            self.publish().await?;
            let trigger = tokio::select! {
                // (The watch's guard is dropped inside, so the daemon's future stays Send.)
                _ = async { let _ = stopping.wait_for(|s| *s).await; } => break,
                _ = tokio::time::sleep_until(next) => Trigger::Schedule,
                _ = self.wake.notified() => Trigger::Manual,
                _ = inbox_tick.tick(), if inbox.is_some() => {
                    if let Some(inbox) = &inbox {
                        if let Err(e) = self.take_inbox(inbox).await {
                            tracing::error!(error = %e, "inbox not taken in; trying again");
                        }
                    }
                    continue;
                }
            };
            let interval = self.interval().await?;
            if trigger == Trigger::Schedule {
                let remembered = self.store.agent_state().await?;
                let now = self.clock.now_ms();
                let paused = remembered.paused_until.is_some_and(|u| u > now);
                // Credentials refused: waiting for a person, not retrying on a timer.
                let auth_failed = remembered.last_outcome == Some(RunOutcome::Auth);
                if paused || auth_failed {
                    // Each run sends a heartbeat; a paused schedule still sends one an
                    // interval. Refused credentials send none (no token requests on a timer).
                    if paused && !auth_failed {
                        self.idle_heartbeat().await;
                    }
                    next = Instant::now() + interval;
                    continue;
                }
            }
            let run = match self
                .sync(trigger, interval.min(Duration::from_secs(120)))
                .await
            {
                Ok(run) => run,
                // Nothing to do until someone enrolls (enrolling wakes this loop).
                Err(EngineError::NotEnrolled) => {
                    next = Instant::now() + interval;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "sync run failed");
                    next = Instant::now() + backoff.next_delay(None, &mut rng);
                    continue;
                }
            };
            next = Instant::now()
                + match run.outcome {
                    Some(RunOutcome::Offline) => backoff
                        .next_delay(None, &mut rng)
                        .max(Duration::from_secs(1))
                        .max(self.server_wait_left()),
                    _ => {
                        backoff.reset();
                        interval
                    }
                };
        }
        self.store.update_state(|s| s.next_run_at = None).await?;
        self.publish().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kendrix_core::clock::ManualClock;
    use kendrix_core::Clock;

    use super::*;
    use crate::status::SyncState;

    /// A clock the test moves, shared with the engine.
    struct Shared(Arc<ManualClock>);

    impl Clock for Shared {
        fn now_ms(&self) -> kendrix_core::UnixMillis {
            self.0.now_ms()
        }
    }

    #[tokio::test]
    async fn a_pause_ends_when_the_engine_clock_passes_it_and_resume_ends_it_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let engine = Engine::open(dir.path(), Arc::new(Shared(clock.clone())))
            .await
            .unwrap();
        engine.pause(Some(5)).await.unwrap();
        let status = engine.status().await.unwrap();
        assert_eq!(status.state, SyncState::Paused);
        assert_eq!(status.paused_until, Some(1_800_000_000_000 + 5 * 60_000));
        clock.advance(5 * 60_000 + 1);
        assert_eq!(engine.status().await.unwrap().state, SyncState::Idle);
        engine.pause(None).await.unwrap();
        clock.advance(365 * 86_400_000);
        let status = engine.status().await.unwrap();
        assert_eq!(status.state, SyncState::Paused);
        assert_eq!(
            status.message.as_deref(),
            Some("the schedule is paused until resumed")
        );
        engine.resume().await.unwrap();
        assert_eq!(engine.status().await.unwrap().state, SyncState::Idle);
    }

    #[tokio::test]
    async fn an_agent_not_enrolled_says_so_and_its_interval_override_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), Arc::new(ManualClock::new(0)))
            .await
            .unwrap();
        let err = engine
            .sync(Trigger::Manual, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::NotEnrolled), "{err}");
        engine.set_interval_override(Some(0)).await.unwrap();
        assert_eq!(engine.interval_override().await.unwrap(), Some(1));
        drop(engine);
        let engine = Engine::open(dir.path(), Arc::new(ManualClock::new(0)))
            .await
            .unwrap();
        assert_eq!(engine.interval_override().await.unwrap(), Some(1));
        assert_eq!(engine.interval().await.unwrap(), Duration::from_secs(1));
    }
}
