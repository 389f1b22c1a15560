//! The engine front-ends drive, one module per role: enrollment, the admin identity (kept
//! apart from the site's), intake (changes from calls, sources, the inbox and dead letters),
//! the sync run (`sync_run`, which hands the outbox to the `batch_sender`), the heartbeat,
//! the daemon's schedule, and the status.

mod admin;
mod batch_sender;
mod enrollment;
mod heartbeat;
mod intake;
mod schedule;
mod settings;
mod status;
mod sync_run;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use kendrix_core::{Clock, Hlc};
use rand::RngCore;
use tokio::sync::{watch, Notify};

use crate::client::{AdminClient, ServerClient};
use crate::local_store::{LocalStore, SyncRun};
use crate::status::Status;
use crate::EngineResult;

pub use admin::AdminEnrollReport;
pub use batch_sender::SyncServer;
pub use enrollment::EnrollReport;
pub use heartbeat::{Heartbeat, LastRun};
pub use settings::SyncSettings;
pub use status::process_alive;

/// The engine of one agent (one local database, one enrollment, and optionally an admin
/// credential beside it).
pub struct Engine {
    store: LocalStore,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    /// The site's client: every sync call, and nothing else's.
    client: RwLock<Option<Arc<ServerClient>>>,
    /// The admin's client: admin calls only.
    admin: RwLock<Option<Arc<AdminClient>>>,
    settings: RwLock<SyncSettings>,
    hlc: tokio::sync::Mutex<Hlc>,
    live: Mutex<status::Live>,
    status: watch::Sender<Status>,
    run_lock: tokio::sync::Mutex<()>,
    wake: Notify,
    stopping: watch::Sender<bool>,
    /// Until when the server asked the last run to wait (`Retry-After`); the daemon's next
    /// run is not earlier.
    server_wait: Mutex<Option<tokio::time::Instant>>,
}

impl Engine {
    /// Opens the agent whose data lives in `data_dir` (created if missing). Every time the
    /// engine keeps or compares (versions, runs, pauses, tokens) is read from `clock`.
    pub async fn open(data_dir: &Path, clock: Arc<dyn Clock>) -> EngineResult<Arc<Self>> {
        crate::private_files::private_dir(data_dir)?;
        let store = LocalStore::open(&data_dir.join("agent.db")).await?;
        let mut state = store.agent_state().await?;
        if let Some(config) = &state.config {
            // Agents before 0.1 cached the whole configuration, revealed secrets and all.
            let kept = SyncSettings::kept_part(&config.body);
            if kept != config.body {
                state = store
                    .update_state(|s| {
                        if let Some(config) = &mut s.config {
                            config.body = kept;
                        }
                    })
                    .await?;
                store.compact().await?;
            }
        }
        if state.node_id.is_none() {
            let mut bytes = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut bytes);
            let node = format!("agent-{}", hex_of(&bytes));
            state = store
                .update_state(|s| {
                    s.node_id.get_or_insert(node);
                })
                .await?;
        }
        let hlc = store
            .hlc(state.node_id.as_deref().unwrap_or_default())
            .await?;
        let settings = state
            .config
            .as_ref()
            .map(|c| SyncSettings::from_config(&c.body))
            .unwrap_or_default();
        let client = state.enrolled.as_ref().map(|e| {
            Arc::new(ServerClient::new(
                &e.server,
                &e.client_id,
                settings.request_timeout,
                clock.clone(),
            ))
        });
        let admin = state.admin.as_ref().map(|a| {
            Arc::new(AdminClient::new(
                &a.server,
                &a.client_id,
                settings.request_timeout,
                clock.clone(),
            ))
        });
        let (status, _) = watch::channel(Status::default());
        let engine = Arc::new(Self {
            store,
            data_dir: data_dir.to_owned(),
            clock,
            client: RwLock::new(client),
            admin: RwLock::new(admin),
            settings: RwLock::new(settings),
            hlc: tokio::sync::Mutex::new(hlc),
            live: Mutex::new(status::Live::default()),
            status,
            run_lock: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            stopping: watch::channel(false).0,
            server_wait: Mutex::new(None),
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

    pub async fn history(&self, limit: i64) -> EngineResult<Vec<SyncRun>> {
        self.store.history(limit).await
    }

    /// Whether the desktop app shows notifications (on unless staff turned them off).
    pub async fn notifications_enabled(&self) -> EngineResult<bool> {
        Ok(self.store.agent_state().await?.notifications)
    }

    pub async fn set_notifications(&self, enabled: bool) -> EngineResult<()> {
        self.store
            .update_state(|s| s.notifications = enabled)
            .await?;
        Ok(())
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
