//! One sync run: the configuration refreshed by ETag, the outbox handed to the batch
//! sender, the audit witness checked, the run's end kept in the history and the state, and
//! a heartbeat to the server after it.

use std::time::Duration;

use kendrix_core::UnixMillis;

use super::batch_sender::{BatchSender, Delivered, SendObserver, Stop};
use super::status::Live;
use super::{Engine, SyncSettings};
use crate::client::{Failure, FetchedConfig, ServerClient};
use crate::local_store::{SyncRun, Witness};
use crate::status::{Problem, Progress, RunOutcome, Trigger};
use crate::EngineResult;

impl Engine {
    /// Sends everything waiting, now. Transient failures are retried with backoff for up to
    /// `retry_for`; then the run ends offline (nothing is lost: the next run resumes). The
    /// run ends with a heartbeat, whose failure changes nothing.
    pub async fn sync(&self, trigger: Trigger, retry_for: Duration) -> EngineResult<SyncRun> {
        let _one_at_a_time = self.run_lock.lock().await;
        let client = self.current_client().await?;
        let run_id = self.store.run_started(trigger, self.clock.now_ms()).await?;
        let pid = i64::from(std::process::id());
        self.store
            .update_state(|s| s.running_pid = Some(pid))
            .await?;
        let total = self.store.queue_depth().await?;
        self.set_live(|live| {
            live.running = true;
            live.waiting = None;
            live.progress = Some(Progress { sent: 0, total });
        });
        self.publish().await?;

        let mut delivered = Delivered::default();
        let stop = self
            .deliver(&client, retry_for, total, &mut delivered)
            .await;
        let now = self.clock.now_ms();
        let (outcome, stop) = match stop {
            Ok(None) => {
                self.check_witness(&client).await?;
                let outcome = if delivered.counts.rejected > 0 {
                    RunOutcome::Partial
                } else {
                    RunOutcome::Synced
                };
                (outcome, None)
            }
            Ok(Some(stop)) => {
                *self.server_wait.lock().expect("server wait lock") = stop
                    .retry_after
                    .map(|wait| tokio::time::Instant::now() + wait);
                (stop.problem.outcome(), Some(stop))
            }
            Err(e) => {
                // Local trouble (disk full, database): the run ends; the queue is intact.
                let stop = Stop {
                    problem: e.problem().unwrap_or(Problem::Local),
                    message: e.to_string(),
                    retry_after: None,
                };
                self.end_run(run_id, RunOutcome::Error, &delivered, Some(&stop), now)
                    .await
                    .ok();
                let run = self.store.run(run_id).await.ok();
                self.send_heartbeat(&client, run.as_ref()).await;
                return Err(e);
            }
        };
        self.end_run(run_id, outcome, &delivered, stop.as_ref(), now)
            .await?;
        let run = self.store.run(run_id).await?;
        self.send_heartbeat(&client, Some(&run)).await;
        Ok(run)
    }

    async fn end_run(
        &self,
        run_id: i64,
        outcome: RunOutcome,
        delivered: &Delivered,
        stop: Option<&Stop>,
        now: UnixMillis,
    ) -> EngineResult<()> {
        let message = stop.map(|s| s.message.as_str());
        self.store
            .run_finished(
                run_id,
                outcome,
                delivered.batches,
                &delivered.counts,
                message,
                now,
            )
            .await?;
        self.store
            .update_state(|s| {
                s.last_outcome = Some(outcome);
                s.last_problem = stop.map(|s| s.problem);
                s.last_message = message.map(str::to_owned);
                s.running_pid = None;
                if outcome.succeeded() {
                    s.last_success_at = Some(now);
                }
            })
            .await?;
        self.set_live(|live| *live = Live::default());
        self.publish().await
    }

    /// Refreshes the configuration, then sends batches until the queue is empty (`None`)
    /// or something stops the run.
    async fn deliver(
        &self,
        client: &ServerClient,
        retry_for: Duration,
        total: i64,
        delivered: &mut Delivered,
    ) -> EngineResult<Option<Stop>> {
        if let Some(stop) = self.refresh_config(client).await? {
            return Ok(Some(stop));
        }
        BatchSender {
            store: &self.store,
            server: client,
            observer: self,
            clock: &*self.clock,
            settings: &self.settings,
            stopping: &self.stopping,
        }
        .send_all(retry_for, total, delivered)
        .await
    }

    /// Fetches the configuration if it changed (ETag) and applies it at once.
    async fn refresh_config(&self, client: &ServerClient) -> EngineResult<Option<Stop>> {
        let etag = self.store.agent_state().await?.config.map(|c| c.etag);
        match client.fetch_config(etag.as_deref()).await {
            Ok(Some(config)) => {
                self.apply_config(client, &config).await?;
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(failure @ (Failure::Auth(_) | Failure::Keychain(_))) => {
                Ok(Some(Stop::from(&failure)))
            }
            // Offline or no config:read: the batches decide; the cached config stays.
            Err(other) => {
                tracing::warn!(error = %other, "configuration not refreshed; keeping the cached one");
                Ok(None)
            }
        }
    }

    /// Keeps the configuration and applies its sync settings at once.
    pub(super) async fn apply_config(
        &self,
        client: &ServerClient,
        config: &FetchedConfig,
    ) -> EngineResult<()> {
        let settings = SyncSettings::from_config(&config.body);
        client.set_timeout(settings.request_timeout);
        // Only what the engine reads goes to disk: secret values the server revealed to
        // this site are never written to the local database.
        let kept = FetchedConfig {
            body: SyncSettings::kept_part(&config.body),
            ..config.clone()
        };
        self.store.update_state(|s| s.config = Some(kept)).await?;
        if *self.settings.read().expect("settings lock") != settings {
            tracing::info!(?settings, version = %config.version, "configuration applied");
            *self.settings.write().expect("settings lock") = settings;
            // The schedule may have changed: let the daemon loop recompute it.
            self.wake_schedule();
        }
        Ok(())
    }

    /// Compares the audit chain head seen at the last sync with what the server's chain
    /// holds at that position now; a difference is a lasting warning.
    async fn check_witness(&self, client: &ServerClient) -> EngineResult<()> {
        let seen = self.store.agent_state().await?.witness;
        let head = match client.audit_head(seen.as_ref().map(|w| w.seq)).await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, "audit head not checked");
                return Ok(());
            }
        };
        let mut warning = None;
        if let Some(Witness { seq, hash }) = &seen {
            let altered = || {
                format!(
                    "the server's audit log no longer contains entry #{seq} as this agent saw it: the log may have been altered — ask an admin to run `kendrix-server audit verify`"
                )
            };
            match head.witness.as_ref() {
                // Pruning is a claim: a signed checkpoint at or past the entry must back it.
                Some(w) if w.pruned => {
                    if let Err(why) = self.check_pruned_claim(client, *seq, w).await {
                        warning = Some(format!("{} ({why})", altered()));
                    }
                }
                w => {
                    let now_hash = w.and_then(|w| w.hash.as_deref());
                    if head.seq < *seq || now_hash != Some(hash.as_str()) {
                        warning = Some(altered());
                    }
                }
            }
        }
        if let Some(warning) = &warning {
            tracing::warn!(%warning, "audit witness");
        }
        self.store
            .update_state(|s| {
                s.witness = Some(Witness {
                    seq: head.seq,
                    hash: head.hash.clone(),
                });
                if warning.is_some() {
                    s.witness_warning = warning;
                }
            })
            .await?;
        Ok(())
    }
}

impl Engine {
    /// The server says the witnessed entry `seq` was pruned: its signed retention checkpoint
    /// must cover `seq` and verify with the server's audit keys as this agent pinned them.
    async fn check_pruned_claim(
        &self,
        client: &ServerClient,
        seq: i64,
        witnessed: &crate::client::WitnessedEntry,
    ) -> Result<(), String> {
        use kendrix_core::checkpoint::PublicAuditKey;
        let Some(checkpoint) = &witnessed.checkpoint else {
            return Err("it says the entry was pruned but shows no signed checkpoint".into());
        };
        if checkpoint.seq < seq {
            return Err(format!(
                "its signed checkpoint (entry {}) does not reach the pruned entry",
                checkpoint.seq
            ));
        }
        let pinned: Option<Vec<PublicAuditKey>> = self
            .store
            .agent_state()
            .await
            .ok()
            .and_then(|s| s.audit_keys)
            .and_then(|text| serde_json::from_str(&text).ok());
        let keys = match &pinned {
            Some(keys) if checkpoint.verify(keys).is_ok() => return Ok(()),
            _ => client
                .audit_public_keys()
                .await
                .map_err(|e| format!("its audit public keys could not be read: {e}"))?,
        };
        // Keys are taken on first sight, and later only beside those pinned (a rotation).
        if let Some(pinned) = &pinned {
            if !pinned.iter().all(|p| keys.contains(p)) {
                return Err("its audit public keys are not the ones this agent knows".into());
            }
        }
        checkpoint.verify(&keys).map_err(|e| e.to_string())?;
        let text = serde_json::to_string(&keys).expect("keys serialize");
        self.store
            .update_state(|s| s.audit_keys = Some(text))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl SendObserver for Engine {
    async fn progress(&self, progress: Progress, tell: bool) -> EngineResult<()> {
        self.set_live(|live| live.progress = Some(progress));
        if tell {
            self.publish().await?;
        }
        Ok(())
    }

    async fn waiting(&self, why: Option<String>) -> EngineResult<()> {
        let tell = why.is_some();
        self.set_live(|live| live.waiting = why);
        if tell {
            self.publish().await?;
        }
        Ok(())
    }
}
