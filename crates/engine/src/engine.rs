//! The engine front-ends drive: enrollment, enqueueing, sync runs (now or on schedule),
//! pause, dead letters, history, and the status stream.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use kendrix_core::enrollment::Enrollment;
use kendrix_core::sync::StatusCounts;
use kendrix_core::{Hlc, UnixMillis};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::{Map, Value};
use tokio::sync::{watch, Notify};

use crate::client::{Failure, FetchedConfig, ServerClient};
use crate::keychain::Keychain;
use crate::local_store::{Change, DeadLetter, LocalStore, SyncRun};
use crate::sources::{move_into, read_rows, Format, Inbox, InboxOutcome, RowShape};
use crate::status::{Backoff, Enrolled, Progress, Status, SyncState};
use crate::{now_millis, EngineError, EngineResult};

/// Batches on their way to the server at once (one round trip hides the next one's).
const PARALLEL_BATCHES: usize = 4;

/// How often a running sync tells subscribers its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Names of the values the agent remembers (table `agent_state`).
mod key {
    pub const SERVER: &str = "server";
    pub const CLIENT_ID: &str = "client_id";
    pub const NODE_ID: &str = "node_id";
    pub const LAST_SUCCESS: &str = "last_success_at";
    pub const LAST_OUTCOME: &str = "last_outcome";
    pub const LAST_MESSAGE: &str = "last_message";
    pub const PAUSED_UNTIL: &str = "paused_until";
    pub const NEXT_RUN: &str = "next_run_at";
    pub const RUNNING_PID: &str = "running_pid";
    pub const CONFIG_ETAG: &str = "config_etag";
    pub const CONFIG_VERSION: &str = "config_version";
    pub const CONFIG_BODY: &str = "config_body";
    pub const INTERVAL_OVERRIDE: &str = "interval_override_secs";
    pub const WITNESS_SEQ: &str = "witness_seq";
    pub const WITNESS_HASH: &str = "witness_hash";
    pub const WITNESS_WARNING: &str = "witness_warning";
}

/// The sync settings, from the server's configuration (keys `sync.batch_size`,
/// `sync.interval_seconds`, `sync.request_timeout_seconds`, `sync.retry_max_seconds`),
/// applied live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    pub batch_size: i64,
    pub interval: Duration,
    pub request_timeout: Duration,
    pub retry_cap: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            interval: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            retry_cap: Duration::from_secs(300),
        }
    }
}

impl SyncSettings {
    /// Reads the settings from the configuration's JSON (a flat object); anything missing or
    /// out of range keeps its default.
    pub fn from_config(body: &str) -> Self {
        let config: Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        let number = |key: &str, min: i64, max: i64| {
            config
                .get(key)
                .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
                .filter(|n| (min..=max).contains(n))
        };
        let default = Self::default();
        Self {
            batch_size: number("sync.batch_size", 1, 5000).unwrap_or(default.batch_size),
            interval: number("sync.interval_seconds", 1, 86_400)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default.interval),
            request_timeout: number("sync.request_timeout_seconds", 1, 600)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default.request_timeout),
            retry_cap: number("sync.retry_max_seconds", 1, 86_400)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default.retry_cap),
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
        }
    }
}

/// The result of enrolling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollReport {
    pub server: String,
    pub client_id: String,
    /// Whether the server accepted the credentials just now (false: it could not be
    /// reached; they are checked at the first sync).
    pub verified: bool,
    pub note: Option<String>,
}

/// Why a run stopped before the queue was empty.
enum Stop {
    Offline(String),
    Auth(String),
    Error(String),
}

/// What only the running process knows (the rest of the status is in the database).
#[derive(Debug, Default)]
struct Live {
    running: bool,
    waiting: Option<String>,
    progress: Option<Progress>,
}

/// The engine of one agent (one local database, one enrollment).
pub struct Engine {
    store: LocalStore,
    data_dir: PathBuf,
    client: RwLock<Option<Arc<ServerClient>>>,
    settings: RwLock<SyncSettings>,
    hlc: tokio::sync::Mutex<Hlc>,
    live: Mutex<Live>,
    status: watch::Sender<Status>,
    run_lock: tokio::sync::Mutex<()>,
    wake: Notify,
    stopping: watch::Sender<bool>,
}

impl Engine {
    /// Opens the agent whose data lives in `data_dir` (created if missing).
    pub async fn open(data_dir: &Path) -> EngineResult<Arc<Self>> {
        std::fs::create_dir_all(data_dir)?;
        let store = LocalStore::open(&data_dir.join("agent.db")).await?;
        let node = match store.state(key::NODE_ID).await? {
            Some(node) => node,
            None => {
                let mut bytes = [0u8; 8];
                rand::thread_rng().fill_bytes(&mut bytes);
                let node = format!("agent-{}", hex_of(&bytes));
                store.set_states(&[(key::NODE_ID, Some(&node))]).await?;
                node
            }
        };
        let hlc = store.hlc(&node).await?;
        let settings = match store.state(key::CONFIG_BODY).await? {
            Some(body) => SyncSettings::from_config(&body),
            None => SyncSettings::default(),
        };
        let client = match (
            store.state(key::SERVER).await?,
            store.state(key::CLIENT_ID).await?,
        ) {
            (Some(server), Some(client_id)) => Some(Arc::new(ServerClient::new(
                &server,
                &client_id,
                settings.request_timeout,
            ))),
            _ => None,
        };
        let (status, _) = watch::channel(Status::default());
        let engine = Arc::new(Self {
            store,
            data_dir: data_dir.to_owned(),
            client: RwLock::new(client),
            settings: RwLock::new(settings),
            hlc: tokio::sync::Mutex::new(hlc),
            live: Mutex::new(Live::default()),
            status,
            run_lock: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            stopping: watch::channel(false).0,
        });
        engine.publish().await?;
        Ok(engine)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// The current status, and every change after it.
    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    pub fn settings(&self) -> SyncSettings {
        self.settings.read().expect("settings lock").clone()
    }

    /// The client of the enrollment in the database: another process (`kendrix enroll`
    /// while the daemon runs) may have enrolled this agent anew.
    async fn current_client(&self) -> EngineResult<Arc<ServerClient>> {
        let server = self.store.state(key::SERVER).await?;
        let client_id = self.store.state(key::CLIENT_ID).await?;
        let current = self.client.read().expect("client lock").clone();
        match (server, client_id, current) {
            (Some(server), Some(client_id), Some(current))
                if current.server() == server && current.client_id() == client_id =>
            {
                Ok(current)
            }
            (Some(server), Some(client_id), _) => {
                let fresh = Arc::new(ServerClient::new(
                    &server,
                    &client_id,
                    self.settings().request_timeout,
                ));
                *self.client.write().expect("client lock") = Some(fresh.clone());
                Ok(fresh)
            }
            _ => Err(EngineError::NotEnrolled),
        }
    }

    /// Enrolls this agent: the secret goes to the OS keychain (nothing is stored if that
    /// fails), the credentials are checked against the server when it answers, and the
    /// server URL and client id are remembered.
    pub async fn enroll(&self, enrollment: &Enrollment) -> EngineResult<EnrollReport> {
        let keychain = Keychain::for_client(&enrollment.server, &enrollment.client_id);
        keychain.store_secret(&enrollment.client_secret).await?;
        keychain.forget_token().await?;
        let client = Arc::new(ServerClient::new(
            &enrollment.server,
            &enrollment.client_id,
            self.settings().request_timeout,
        ));
        let (verified, note) = match client.fetch_config(None).await {
            Ok(config) => {
                if let Some(config) = config {
                    self.apply_config(&client, &config).await?;
                }
                (true, None)
            }
            Err(Failure::Auth(message)) => {
                keychain.forget_all().await?;
                return Err(EngineError::Enrollment(message));
            }
            Err(Failure::Keychain(message)) => return Err(EngineError::Enrollment(message)),
            Err(Failure::Refused(message)) if message.contains("(404)") => {
                keychain.forget_all().await?;
                return Err(EngineError::Enrollment(format!(
                    "{} does not look like a Kendrix server: {message}",
                    enrollment.server
                )));
            }
            Err(other) => (
                false,
                Some(format!(
                    "the server could not be checked now ({other}); the credentials are checked at the first sync"
                )),
            ),
        };
        let previous = self.client.read().expect("client lock").clone();
        if let Some(previous) = previous {
            if previous.client_id() != enrollment.client_id || previous.server() != client.server()
            {
                previous.keychain().forget_all().await?;
            }
        }
        self.store
            .set_states(&[
                (key::SERVER, Some(client.server())),
                (key::CLIENT_ID, Some(&enrollment.client_id)),
                (key::LAST_OUTCOME, None),
                (key::LAST_MESSAGE, None),
            ])
            .await?;
        let report = EnrollReport {
            server: client.server().to_owned(),
            client_id: enrollment.client_id.clone(),
            verified,
            note,
        };
        *self.client.write().expect("client lock") = Some(client);
        self.publish().await?;
        Ok(report)
    }

    /// Queues changes in one transaction (all or none).
    pub async fn enqueue(&self, changes: &[Change]) -> EngineResult<usize> {
        let mut hlc = self.hlc.lock().await;
        let queued = self.store.enqueue(changes, &mut hlc, now_millis()).await?;
        drop(hlc);
        self.publish().await?;
        Ok(queued)
    }

    /// Queues every row of a source in one transaction: a bad row queues nothing.
    pub async fn enqueue_rows(
        &self,
        input: impl std::io::Read,
        format: Format,
        shape: &RowShape,
    ) -> EngineResult<usize> {
        let mut hlc = self.hlc.lock().await;
        let mut enqueue = self.store.begin_enqueue(&mut hlc, now_millis()).await?;
        read_rows(input, format, shape, &mut enqueue).await?;
        let queued = enqueue.commit().await?;
        drop(hlc);
        self.publish().await?;
        Ok(queued)
    }

    /// Takes in every ready file of the inbox. A file's rows and the note that it was taken
    /// are one transaction; only then is it moved, so a crash in between neither loses nor
    /// repeats a row (the note makes the next pass just move it).
    pub async fn take_inbox(&self, inbox: &Inbox) -> EngineResult<Vec<InboxOutcome>> {
        let mut outcomes = Vec::new();
        for path in inbox.ready_files()? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&path)?;
            let content_hash = kendrix_core::credentials::hash_bytes(&bytes);
            if self.store.inbox_file_taken(&name, &content_hash).await? {
                move_into(&path, &inbox.processed_dir())?;
                continue;
            }
            let shape = RowShape {
                entity: Inbox::entity_of(&path),
                id_field: inbox.id_field.clone(),
            };
            let format = Format::of_path(&path).expect("ready files have a known format");
            let mut hlc = self.hlc.lock().await;
            let mut enqueue = self.store.begin_enqueue(&mut hlc, now_millis()).await?;
            let read = read_rows(bytes.as_slice(), format, &shape, &mut enqueue).await;
            let taken = match read {
                Ok(rows) => {
                    enqueue.inbox_file(&name, &content_hash).await?;
                    enqueue.commit().await?;
                    Ok(rows)
                }
                Err(e @ (EngineError::BadRow { .. } | EngineError::InvalidChange { .. })) => {
                    Err(e.to_string())
                }
                Err(other) => return Err(other),
            };
            drop(hlc);
            match taken {
                Ok(rows) => {
                    move_into(&path, &inbox.processed_dir())?;
                    tracing::info!(file = %name, rows, "inbox file taken in");
                    outcomes.push(InboxOutcome::Taken { file: name, rows });
                }
                Err(reason) => {
                    let moved = move_into(&path, &inbox.failed_dir())?;
                    let mut error_file = moved.into_os_string();
                    error_file.push(".error");
                    std::fs::write(&error_file, format!("{reason}\n"))?;
                    tracing::warn!(file = %name, %reason, "inbox file refused");
                    outcomes.push(InboxOutcome::Failed { file: name, reason });
                }
            }
        }
        if !outcomes.is_empty() {
            self.publish().await?;
        }
        Ok(outcomes)
    }

    /// Sends everything waiting, now. Transient failures are retried with backoff for up to
    /// `retry_for`; then the run ends offline (nothing is lost: the next run resumes).
    pub async fn sync(&self, trigger: Trigger, retry_for: Duration) -> EngineResult<SyncRun> {
        let _one_at_a_time = self.run_lock.lock().await;
        let client = self.current_client().await?;
        let started = now_millis();
        let run_id = self.store.run_started(trigger.as_str(), started).await?;
        self.store
            .set_states(&[(key::RUNNING_PID, Some(&std::process::id().to_string()))])
            .await?;
        let total = self.store.queue_depth().await?;
        self.set_live(|live| {
            live.running = true;
            live.waiting = None;
            live.progress = Some(Progress { sent: 0, total });
        });
        self.publish().await?;

        let mut counts = StatusCounts::default();
        let mut batches = 0i64;
        let stop = self
            .drain(&client, retry_for, total, &mut counts, &mut batches)
            .await;
        let now = now_millis();
        let (outcome, message) = match stop {
            Ok(None) => {
                self.check_witness(&client).await?;
                (
                    if counts.rejected > 0 {
                        "partial"
                    } else {
                        "synced"
                    },
                    None,
                )
            }
            Ok(Some(Stop::Offline(m))) => ("offline", Some(m)),
            Ok(Some(Stop::Auth(m))) => ("auth", Some(m)),
            Ok(Some(Stop::Error(m))) => ("error", Some(m)),
            Err(e) => {
                // Local trouble (disk full, database): the run ends; the queue is intact.
                let text = e.to_string();
                self.end_run(run_id, "error", batches, &counts, Some(&text), now)
                    .await
                    .ok();
                return Err(e);
            }
        };
        self.end_run(run_id, outcome, batches, &counts, message.as_deref(), now)
            .await?;
        self.store.run(run_id).await
    }

    async fn end_run(
        &self,
        run_id: i64,
        outcome: &str,
        batches: i64,
        counts: &StatusCounts,
        message: Option<&str>,
        now: UnixMillis,
    ) -> EngineResult<()> {
        self.store
            .run_finished(run_id, outcome, batches, counts, message, now)
            .await?;
        let now_text = now.to_string();
        let succeeded = matches!(outcome, "synced" | "partial");
        let mut values = vec![
            (key::LAST_OUTCOME, Some(outcome)),
            (key::LAST_MESSAGE, message),
            (key::RUNNING_PID, None),
        ];
        if succeeded {
            values.push((key::LAST_SUCCESS, Some(now_text.as_str())));
        }
        self.store.set_states(&values).await?;
        self.set_live(|live| *live = Live::default());
        self.publish().await
    }

    /// Sends batches until the queue is empty (`None`) or something stops the run.
    async fn drain(
        &self,
        client: &ServerClient,
        retry_for: Duration,
        total: i64,
        counts: &mut StatusCounts,
        batches: &mut i64,
    ) -> EngineResult<Option<Stop>> {
        let mut rng = StdRng::from_entropy();
        if let Some(stop) = self.refresh_config(client).await? {
            return Ok(Some(stop));
        }
        let deadline = tokio::time::Instant::now() + retry_for;
        let mut backoff = Backoff::new(self.settings().retry_cap);
        let mut sent = 0i64;
        // Batches travel `PARALLEL_BATCHES` at a time: versions decide on the server, so the
        // order in which batches arrive cannot undo a newer change.
        let mut in_flight = FuturesUnordered::new();
        let mut sending: HashSet<i64> = HashSet::new();
        // Set when a send failed: no new batch goes out until the ones in flight are back.
        let mut retry: Option<(String, Option<Duration>)> = None;
        let mut stop: Option<Stop> = None;
        let mut last_published = tokio::time::Instant::now();
        loop {
            if stop.is_none() && *self.stopping.borrow() {
                stop = Some(Stop::Offline(
                    "stopped before the queue was empty (the agent is shutting down)".into(),
                ));
            }
            while stop.is_none() && retry.is_none() && in_flight.len() < PARALLEL_BATCHES {
                let Some(batch) = self.next_batch(&sending, &mut rng).await? else {
                    break;
                };
                sending.insert(batch.id);
                in_flight.push(async move {
                    let answer = client.post_batch(&batch).await;
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
                if tokio::time::Instant::now() + delay > deadline {
                    return Ok(Some(Stop::Offline(reason)));
                }
                tracing::info!(%reason, delay_ms = delay.as_millis() as u64, "retrying");
                self.set_live(|live| {
                    live.waiting = Some(format!(
                        "{reason}; retrying in {} s",
                        delay.as_secs_f64().ceil() as u64
                    ))
                });
                self.publish().await?;
                if !self.pause_unless_stopping(delay).await {
                    return Ok(Some(Stop::Offline(
                        "stopped while waiting to retry (the agent is shutting down)".into(),
                    )));
                }
                self.set_live(|live| live.waiting = None);
                continue;
            };
            sending.remove(&batch.id);
            match answer {
                Ok(response) => {
                    self.store
                        .batch_answered(&batch, &response, now_millis())
                        .await?;
                    counts.applied += response.counts.applied;
                    counts.duplicate += response.counts.duplicate;
                    counts.stale += response.counts.stale;
                    counts.rejected += response.counts.rejected;
                    *batches += 1;
                    sent += batch.records;
                    backoff.reset();
                }
                Err(Failure::InvalidRecords(problems)) => {
                    self.store
                        .batch_refused(&batch, &problems, now_millis())
                        .await?;
                    counts.rejected += problems.len() as u64;
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
                Err(Failure::Auth(message)) => {
                    self.store.batch_failed(batch.id, &message).await?;
                    stop.get_or_insert(Stop::Auth(message));
                }
                Err(Failure::Refused(message)) => {
                    // The records go back to the outbox; they wait for a person to act.
                    self.store.batch_refused(&batch, &[], now_millis()).await?;
                    stop.get_or_insert(Stop::Error(message));
                }
                Err(Failure::Keychain(message)) => {
                    stop.get_or_insert(Stop::Error(message));
                }
            }
            let total = total.max(sent);
            self.set_live(|live| live.progress = Some(Progress { sent, total }));
            // Progress reaches subscribers a few times a second, not after every batch.
            if last_published.elapsed() >= PROGRESS_EVERY {
                self.publish().await?;
                last_published = tokio::time::Instant::now();
            }
        }
    }

    /// The next batch to send that is not already on its way, formed (when it is a new one)
    /// with the batch size and configuration hash in force now.
    async fn next_batch(
        &self,
        sending: &HashSet<i64>,
        rng: &mut StdRng,
    ) -> EngineResult<Option<crate::FormedBatch>> {
        let config_hash = self.store.state(key::CONFIG_ETAG).await?;
        self.store
            .next_batch(
                sending,
                self.settings().batch_size,
                config_hash.as_deref(),
                now_millis(),
                rng,
            )
            .await
    }

    /// Sleeps `delay` unless the engine is asked to stop first; false when stopping.
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

    /// Fetches the configuration if it changed (ETag) and applies it at once.
    async fn refresh_config(&self, client: &ServerClient) -> EngineResult<Option<Stop>> {
        let etag = self.store.state(key::CONFIG_ETAG).await?;
        match client.fetch_config(etag.as_deref()).await {
            Ok(Some(config)) => {
                self.apply_config(client, &config).await?;
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(Failure::Auth(message)) if !message.contains("permission") => {
                Ok(Some(Stop::Auth(message)))
            }
            Err(Failure::Keychain(message)) => Ok(Some(Stop::Error(message))),
            // Offline or no config:read: the batches decide; the cached config stays.
            Err(other) => {
                tracing::warn!(error = %other, "configuration not refreshed; keeping the cached one");
                Ok(None)
            }
        }
    }

    /// Keeps the configuration and applies its sync settings at once.
    async fn apply_config(
        &self,
        client: &ServerClient,
        config: &FetchedConfig,
    ) -> EngineResult<()> {
        let settings = SyncSettings::from_config(&config.body);
        client.set_timeout(settings.request_timeout);
        self.store
            .set_states(&[
                (key::CONFIG_ETAG, Some(&config.etag)),
                (key::CONFIG_VERSION, Some(&config.version)),
                (key::CONFIG_BODY, Some(&config.body)),
            ])
            .await?;
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
        let seen_seq = self
            .store
            .state(key::WITNESS_SEQ)
            .await?
            .and_then(|s| s.parse::<i64>().ok());
        let seen_hash = self.store.state(key::WITNESS_HASH).await?;
        let head = match client.audit_head(seen_seq).await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, "audit head not checked");
                return Ok(());
            }
        };
        let mut warning = None;
        if let (Some(seq), Some(hash)) = (seen_seq, seen_hash.as_deref()) {
            let now_hash = head.witness.as_ref().and_then(|w| w.hash.as_deref());
            let pruned = head.witness.as_ref().is_some_and(|w| w.pruned);
            if !pruned && (head.seq < seq || now_hash != Some(hash)) {
                warning = Some(format!(
                    "the server's audit log no longer contains entry #{seq} as this agent saw it: the log may have been altered — ask an admin to run `kendrix-server audit verify`"
                ));
            }
        }
        let head_seq = head.seq.to_string();
        let mut values = vec![
            (key::WITNESS_SEQ, Some(head_seq.as_str())),
            (key::WITNESS_HASH, Some(head.hash.as_str())),
        ];
        if let Some(warning) = &warning {
            tracing::warn!(%warning, "audit witness");
            values.push((key::WITNESS_WARNING, Some(warning.as_str())));
        }
        self.store.set_states(&values).await
    }

    /// Pauses the schedule for `minutes`, or until resumed when `None`. Sync Now still works.
    pub async fn pause(&self, minutes: Option<u64>) -> EngineResult<()> {
        let until = match minutes {
            Some(m) => now_millis() + (m as i64) * 60_000,
            None => i64::MAX,
        };
        self.store
            .set_states(&[(key::PAUSED_UNTIL, Some(&until.to_string()))])
            .await?;
        self.publish().await
    }

    pub async fn resume(&self) -> EngineResult<()> {
        self.store.set_states(&[(key::PAUSED_UNTIL, None)]).await?;
        self.wake_schedule();
        self.publish().await
    }

    /// Overrides the server's sync interval locally (`None`: use the server's).
    pub async fn set_interval_override(&self, seconds: Option<u64>) -> EngineResult<()> {
        let text = seconds.map(|s| s.max(1).to_string());
        self.store
            .set_states(&[(key::INTERVAL_OVERRIDE, text.as_deref())])
            .await?;
        self.wake_schedule();
        Ok(())
    }

    pub async fn interval_override(&self) -> EngineResult<Option<u64>> {
        Ok(self
            .store
            .state(key::INTERVAL_OVERRIDE)
            .await?
            .and_then(|s| s.parse().ok()))
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

    fn wake_schedule(&self) {
        self.wake.notify_one();
    }

    /// Asks a running sync and the daemon loop to stop after the current request.
    pub fn shutdown(&self) {
        self.stopping.send_replace(true);
    }

    /// The daemon: syncs on the schedule (the server's interval, backing off while the
    /// server is unreachable), takes in the inbox, and stops when [`shutdown`] is called.
    pub async fn run(&self, inbox: Option<Inbox>) -> EngineResult<()> {
        let mut stopping = self.stopping.subscribe();
        let mut backoff = Backoff::new(self.settings().retry_cap);
        let mut rng = StdRng::from_entropy();
        let mut inbox_tick = tokio::time::interval(Duration::from_secs(2));
        inbox_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next = tokio::time::Instant::now();
        // Files that arrived while the agent was down go into the first sync.
        if let Some(inbox) = &inbox {
            if let Err(e) = self.take_inbox(inbox).await {
                tracing::error!(error = %e, "inbox not taken in; trying again");
            }
        }
        loop {
            let wait = next.saturating_duration_since(tokio::time::Instant::now());
            let next_at = now_millis() + wait.as_millis() as i64;
            self.store
                .set_states(&[(key::NEXT_RUN, Some(&next_at.to_string()))])
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
                let paused = self.paused_until().await?.is_some_and(|u| u > now_millis());
                // Credentials refused: waiting for a person, not retrying on a timer.
                let auth_failed =
                    self.store.state(key::LAST_OUTCOME).await?.as_deref() == Some("auth");
                if paused || auth_failed {
                    next = tokio::time::Instant::now() + interval;
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
                    next = tokio::time::Instant::now() + interval;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "sync run failed");
                    next = tokio::time::Instant::now() + backoff.next_delay(None, &mut rng);
                    continue;
                }
            };
            next = tokio::time::Instant::now()
                + match run.outcome.as_deref() {
                    Some("offline") => backoff
                        .next_delay(None, &mut rng)
                        .max(Duration::from_secs(1)),
                    _ => {
                        backoff.reset();
                        interval
                    }
                };
        }
        self.store.set_states(&[(key::NEXT_RUN, None)]).await?;
        self.publish().await
    }

    async fn paused_until(&self) -> EngineResult<Option<UnixMillis>> {
        Ok(self
            .store
            .state(key::PAUSED_UNTIL)
            .await?
            .and_then(|s| s.parse().ok()))
    }

    pub async fn dead_letters(&self) -> EngineResult<Vec<DeadLetter>> {
        self.store.dead_letters().await
    }

    /// Sends dead letters again (as new changes). Returns how many were queued.
    pub async fn retry_dead_letters(&self, ids: &[i64]) -> EngineResult<usize> {
        let mut hlc = self.hlc.lock().await;
        let n = self
            .store
            .requeue_dead_letters(ids, None, &mut hlc, now_millis())
            .await?;
        drop(hlc);
        self.publish().await?;
        Ok(n)
    }

    /// Replaces a dead letter's data with a corrected JSON object and sends it again.
    pub async fn fix_dead_letter(&self, id: i64, data: &str) -> EngineResult<()> {
        let data: Map<String, Value> =
            serde_json::from_str(data).map_err(|e| EngineError::InvalidChange {
                index: 0,
                reason: format!("the corrected data must be a JSON object: {e}"),
            })?;
        let mut hlc = self.hlc.lock().await;
        self.store
            .requeue_dead_letters(&[id], Some(&data), &mut hlc, now_millis())
            .await?;
        drop(hlc);
        self.publish().await
    }

    pub async fn discard_dead_letters(&self, ids: &[i64]) -> EngineResult<u64> {
        let n = self.store.discard_dead_letters(ids).await?;
        self.publish().await?;
        Ok(n)
    }

    pub async fn history(&self, limit: i64) -> EngineResult<Vec<SyncRun>> {
        self.store.history(limit).await
    }

    /// The effective configuration as the server renders it now (`json`, `xml`, `ini`).
    pub async fn config_as(&self, format: &str) -> EngineResult<FetchedConfig> {
        let client = self.current_client().await?;
        client.fetch_config_as(format, None).await?.ok_or_else(|| {
            EngineError::Server(Failure::Refused("no configuration came back".into()))
        })
    }

    /// A GET of the server's API with this agent's token (for screens showing server data).
    pub async fn server_get(&self, path_and_query: &str) -> EngineResult<String> {
        Ok(self
            .current_client()
            .await?
            .get_text(path_and_query)
            .await?)
    }

    /// The status, read fresh from the database (also right when another process — the
    /// daemon — is the one syncing).
    pub async fn status(&self) -> EngineResult<Status> {
        // All remembered values in one read: the status is recomputed on every change.
        let mut remembered = self.store.states().await?;
        let mut s = |k: &str| remembered.remove(k);
        let number = |v: Option<String>| v.and_then(|t| t.parse::<i64>().ok());
        let queue_depth = self.store.queue_depth().await?;
        let dead_letters = self.store.dead_letter_count().await?;
        let last_success_at = number(s(key::LAST_SUCCESS));
        let last_outcome = s(key::LAST_OUTCOME);
        let last_message = s(key::LAST_MESSAGE);
        let paused_until = number(s(key::PAUSED_UNTIL)).filter(|u| *u > now_millis());
        let next_run_at = number(s(key::NEXT_RUN));
        let warning = s(key::WITNESS_WARNING);
        let config_version = s(key::CONFIG_VERSION);
        let running_elsewhere = number(s(key::RUNNING_PID))
            .is_some_and(|pid| pid != std::process::id() as i64 && process_alive(pid));
        let (running, waiting, progress) = {
            let live = self.live.lock().expect("live lock");
            (live.running, live.waiting.clone(), live.progress)
        };
        let (state, message) = if running || running_elsewhere {
            match waiting {
                Some(why) => (SyncState::Offline, Some(why)),
                None => (SyncState::Syncing, None),
            }
        } else {
            match last_outcome.as_deref() {
                Some("auth") | Some("error") => (SyncState::Error, last_message),
                Some("offline") => (SyncState::Offline, last_message),
                _ if paused_until.is_some() => (
                    SyncState::Paused,
                    Some(match paused_until {
                        Some(i64::MAX) => "the schedule is paused until resumed".to_owned(),
                        _ => "the schedule is paused for a while".to_owned(),
                    }),
                ),
                _ => (SyncState::Idle, None),
            }
        };
        let enrolled = self
            .client
            .read()
            .expect("client lock")
            .as_ref()
            .map(|c| Enrolled {
                server: c.server().to_owned(),
                client_id: c.client_id().to_owned(),
            });
        Ok(Status {
            state,
            all_synced: queue_depth == 0 && dead_letters == 0 && last_success_at.is_some(),
            queue_depth,
            dead_letters,
            last_success_at,
            next_run_at,
            paused_until,
            message,
            warning,
            progress: if running { progress } else { None },
            enrolled,
            config_version,
        })
    }

    /// Recomputes the status and tells subscribers if it changed.
    async fn publish(&self) -> EngineResult<()> {
        let status = self.status().await?;
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
        Ok(())
    }

    fn set_live(&self, change: impl FnOnce(&mut Live)) {
        change(&mut self.live.lock().expect("live lock"));
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a process still runs (a crashed daemon must not look like it is syncing).
fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}
