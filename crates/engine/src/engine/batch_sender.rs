//! The batch sender: hands the outbox to the server a few batches at a time, retries
//! transient failures with backoff within the run's retry window, and records every answer
//! (dead letters, records put back) in the local store.

use std::collections::HashSet;
use std::future::Future;
use std::sync::RwLock;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use kendrix_core::sync::{BatchResponse, RecordProblem, StatusCounts};
use kendrix_core::Clock;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::watch;
use tokio::time::Instant;

use super::SyncSettings;
use crate::backoff::{Backoff, RetryBudget};
use crate::client::Failure;
use crate::local_store::{FormedBatch, LocalStore};
use crate::status::{Problem, Progress};
use crate::EngineResult;

/// Batches on their way to the server at once (one round trip hides the next one's).
const PARALLEL_BATCHES: usize = 4;

/// How often a running sync tells subscribers its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// The server as the batch sender needs it; `ServerClient` is the real one.
pub trait SyncServer: Send + Sync {
    /// Sends a persisted batch with its Idempotency-Key: the server's answer, or why not.
    fn post_batch(
        &self,
        batch: &FormedBatch,
    ) -> impl Future<Output = Result<BatchResponse, Failure>> + Send;
}

/// Where the sender shows what it is doing (the engine's live status).
pub(super) trait SendObserver: Sync {
    /// Records sent so far; `tell`: subscribers should hear of it now.
    fn progress(
        &self,
        progress: Progress,
        tell: bool,
    ) -> impl Future<Output = EngineResult<()>> + Send;
    /// Why the run waits before retrying (`None`: it goes on).
    fn waiting(&self, why: Option<String>) -> impl Future<Output = EngineResult<()>> + Send;
}

/// What a run has delivered so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Delivered {
    pub counts: StatusCounts,
    /// Batches the server answered.
    pub batches: i64,
}

/// Why a run stopped before the queue was empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stop {
    pub problem: Problem,
    pub message: String,
    /// The server asked to wait this long (`Retry-After`), longer than the run could: the
    /// next run must not start earlier.
    pub retry_after: Option<Duration>,
}

impl Stop {
    pub fn offline(message: impl Into<String>) -> Self {
        Stop {
            problem: Problem::Offline,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<&Failure> for Stop {
    fn from(failure: &Failure) -> Self {
        Stop {
            problem: failure.problem(),
            message: failure.to_string(),
            retry_after: None,
        }
    }
}

/// One run's sending: what it sends to, where it reports, and what it reads.
pub(super) struct BatchSender<'a, S, O> {
    pub store: &'a LocalStore,
    pub server: &'a S,
    pub observer: &'a O,
    pub clock: &'a dyn Clock,
    /// Read for every new batch: the configuration may change the batch size live.
    pub settings: &'a RwLock<SyncSettings>,
    /// Set when the agent shuts down: no new batch goes out, and a wait is cut short.
    pub stopping: &'a watch::Sender<bool>,
}

impl<S: SyncServer, O: SendObserver> BatchSender<'_, S, O> {
    /// Sends batches until the queue is empty (`None`) or something stops the run.
    /// Transient failures are retried with backoff while the retry ends within `retry_for`;
    /// `total` is the queue at the start (for progress).
    pub async fn send_all(
        &self,
        retry_for: Duration,
        total: i64,
        delivered: &mut Delivered,
    ) -> EngineResult<Option<Stop>> {
        let mut rng = StdRng::from_entropy();
        let deadline = Instant::now() + retry_for;
        let mut backoff = Backoff::new(self.settings().retry_cap);
        let mut retries = RetryBudget::new(self.settings().retry_budget);
        // Lowered when the server (or a proxy before it) refuses a batch as too large, so
        // the rest of the run forms batches it takes.
        let mut byte_limit = i64::MAX;
        let mut sent = 0i64;
        // Batches travel `PARALLEL_BATCHES` at a time: versions decide on the server, so the
        // order in which batches arrive cannot undo a newer change.
        let mut in_flight = FuturesUnordered::new();
        let mut sending: HashSet<i64> = HashSet::new();
        // Set when a send failed: no new batch goes out until the ones in flight are back.
        let mut retry: Option<(String, Option<Duration>)> = None;
        let mut stop: Option<Stop> = None;
        let mut last_published = Instant::now();
        loop {
            if stop.is_none() && *self.stopping.borrow() {
                stop = Some(Stop::offline(
                    "stopped before the queue was empty (the agent is shutting down)",
                ));
            }
            while stop.is_none() && retry.is_none() && in_flight.len() < PARALLEL_BATCHES {
                let Some(batch) = self.next_batch(&sending, byte_limit, &mut rng).await? else {
                    break;
                };
                sending.insert(batch.id);
                let server = self.server;
                in_flight.push(async move {
                    let answer = server.post_batch(&batch).await;
                    (batch, answer)
                });
            }
            let Some((batch, answer)) = in_flight.next().await else {
                if let Some(stop) = stop {
                    return Ok(Some(stop));
                }
                let Some((reason, retry_after)) = retry.take() else {
                    return Ok(None);
                };
                let delay = backoff.next_delay(retry_after, &mut rng);
                if Instant::now() + delay > deadline {
                    return Ok(Some(Stop {
                        retry_after,
                        ..Stop::offline(reason)
                    }));
                }
                if !retries.try_spend() {
                    // A fleet back from an outage must not hammer the server: the schedule
                    // tries again later.
                    return Ok(Some(Stop::offline(format!(
                        "{reason}; this run used its retry budget ({} retries, sync.retry_budget); the next run tries again",
                        self.settings().retry_budget
                    ))));
                }
                tracing::info!(%reason, delay_ms = delay.as_millis() as u64, "retrying");
                self.observer
                    .waiting(Some(format!(
                        "{reason}; retrying in {} s",
                        delay.as_secs_f64().ceil() as u64
                    )))
                    .await?;
                if !self.pause_unless_stopping(delay).await {
                    return Ok(Some(Stop::offline(
                        "stopped while waiting to retry (the agent is shutting down)",
                    )));
                }
                self.observer.waiting(None).await?;
                continue;
            };
            sending.remove(&batch.id);
            let now = self.clock.now_ms();
            match answer {
                Ok(response) => {
                    self.store.batch_answered(&batch, &response, now).await?;
                    let counts = &mut delivered.counts;
                    counts.applied += response.counts.applied;
                    counts.duplicate += response.counts.duplicate;
                    counts.stale += response.counts.stale;
                    counts.rejected += response.counts.rejected;
                    delivered.batches += 1;
                    sent += batch.records;
                    backoff.reset();
                    retries.earn();
                }
                Err(Failure::InvalidRecords(problems)) => {
                    self.store.batch_refused(&batch, &problems, now).await?;
                    delivered.counts.rejected += problems.len() as u64;
                    sent += problems.len() as i64;
                    tracing::warn!(
                        records = problems.len(),
                        "the server refused records; they are kept as dead letters"
                    );
                }
                Err(Failure::Transient {
                    reason,
                    retry_after,
                }) => {
                    self.store.batch_failed(batch.id, &reason).await?;
                    let longest = retry_after.max(retry.as_ref().and_then(|r| r.1));
                    retry = Some((reason, longest));
                }
                Err(failure @ (Failure::Auth(_) | Failure::Forbidden(_))) => {
                    self.store
                        .batch_failed(batch.id, &failure.to_string())
                        .await?;
                    stop.get_or_insert(Stop::from(&failure));
                }
                Err(failure @ Failure::Refused { status, .. }) if refuses_content(status) => {
                    if status == 413 {
                        byte_limit = byte_limit.min(batch.body.len() as i64 / 2);
                    }
                    let rejected = self.refused_content(&batch, &failure, &mut rng).await?;
                    delivered.counts.rejected += rejected;
                    sent += rejected as i64;
                }
                Err(failure @ (Failure::Refused { .. } | Failure::ServerUrl(_))) => {
                    // The records go back to the outbox; they wait for a person to act.
                    self.store.batch_refused(&batch, &[], now).await?;
                    stop.get_or_insert(Stop::from(&failure));
                }
                Err(failure @ Failure::Keychain(_)) => {
                    stop.get_or_insert(Stop::from(&failure));
                }
            }
            let total = total.max(sent);
            // Progress reaches subscribers a few times a second, not after every batch.
            let tell = last_published.elapsed() >= PROGRESS_EVERY;
            self.observer
                .progress(Progress { sent, total }, tell)
                .await?;
            if tell {
                last_published = Instant::now();
            }
        }
    }

    fn settings(&self) -> SyncSettings {
        self.settings.read().expect("settings lock").clone()
    }

    /// The next batch to send that is not already on its way, formed (when it is a new one)
    /// with the batch size, byte budget (at most `byte_limit`) and configuration hash in
    /// force now.
    async fn next_batch(
        &self,
        sending: &HashSet<i64>,
        byte_limit: i64,
        rng: &mut StdRng,
    ) -> EngineResult<Option<FormedBatch>> {
        let config_hash = self.store.agent_state().await?.config.map(|c| c.etag);
        let mut budget = self.settings().batch_budget();
        budget.bytes = budget.bytes.min(byte_limit);
        self.store
            .next_batch_within(
                sending,
                budget,
                config_hash.as_deref(),
                self.clock.now_ms(),
                rng,
            )
            .await
    }

    /// A batch the server refused for what it holds as a whole (not naming records): its
    /// halves go out instead, each with a fresh key, until a single record is refused —
    /// that one becomes a dead letter with the server's reason. Never the same refused
    /// request again. Returns the records put to dead letters.
    async fn refused_content(
        &self,
        batch: &FormedBatch,
        failure: &Failure,
        rng: &mut StdRng,
    ) -> EngineResult<u64> {
        let now = self.clock.now_ms();
        if batch.records > 1 {
            if let Some(halves) = self.store.split_batch(batch, now, rng).await? {
                tracing::info!(
                    records = batch.records,
                    bytes = batch.body.len(),
                    halves = ?halves.map(|h| h.records),
                    error = %failure,
                    "the server refused a batch as a whole; sending it in halves"
                );
            }
            return Ok(0);
        }
        let reason = match failure {
            Failure::Refused { status: 413, .. } => format!(
                "too large to send: the server refused a request holding only this record ({failure})"
            ),
            other => other.to_string(),
        };
        let problem = RecordProblem {
            index: 0,
            entity: None,
            id: None,
            errors: vec![reason],
        };
        self.store.batch_refused(batch, &[problem], now).await?;
        tracing::warn!(error = %failure, "the server refused a record; it is kept as a dead letter");
        Ok(1)
    }

    /// Sleeps `delay` unless the agent is asked to stop first; false when stopping.
    async fn pause_unless_stopping(&self, delay: Duration) -> bool {
        let mut stopping = self.stopping.subscribe();
        if *stopping.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = async { let _ = stopping.wait_for(|s| *s).await; } => false,
        }
    }
}

/// Whether a refusal of a whole batch is about what it holds (bad JSON or config hash 400,
/// too large 413, not acceptable as a batch 422): then a smaller batch may pass and a
/// single record never will. Other refusals (404, 405, 415 …) are about the endpoint: the
/// records wait in the outbox for a person.
fn refuses_content(status: u16) -> bool {
    matches!(status, 400 | 413 | 422)
}

#[cfg(test)]
#[path = "batch_sender_tests.rs"]
mod tests;
