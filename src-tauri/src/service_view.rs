//! Who runs the schedule on this PC. On Windows, where the Kendrix service is installed,
//! enrolled and running (its `service-status.json` says so, from a live process), the tray
//! app runs no schedule of its own: it shows the service's status (polled from that file)
//! and its Sync Now asks the service to sync (a user-defined service control any user may
//! send). Everywhere else, and when no service syncs, the app's own engine does.
//! Decided once at start: a service installed later is followed after the app restarts.

use std::time::Duration;

use kendrix_engine::service_report::ServiceReport;
use kendrix_engine::{Problem, Status, SyncRun};
use tokio::sync::watch;

use crate::error::CommandError;

/// How often the service's report is read while the app follows it.
const POLL: Duration = Duration::from_secs(2);
/// How long Sync Now waits for the service's run to finish.
const SYNC_NOW_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The app's engine runs the schedule.
    Own,
    /// The Windows service does; the app shows its status.
    Service,
}

impl Schedule {
    pub fn detect() -> Self {
        if cfg!(windows) && ServiceReport::of_running_service().is_some() {
            Schedule::Service
        } else {
            Schedule::Own
        }
    }
}

/// The service's status, now.
pub fn current() -> Option<Status> {
    ServiceReport::read().map(|r| r.status)
}

/// The service's status as it changes, read from its report every couple of seconds.
pub fn follow() -> watch::Receiver<Status> {
    let (tx, rx) = watch::channel(current().unwrap_or_default());
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            if let Some(status) = current() {
                tx.send_if_modified(|shown| {
                    let changed = *shown != status;
                    *shown = status;
                    changed
                });
            }
            if tx.is_closed() {
                break;
            }
        }
    });
    rx
}

/// Sync Now for the service: asks it, then waits for the run it starts to finish.
pub async fn sync_now() -> Result<SyncRun, CommandError> {
    let asked_at = kendrix_core::Clock::now_ms(&kendrix_core::SystemClock);
    ask()?;
    let deadline = tokio::time::Instant::now() + SYNC_NOW_WAIT;
    while tokio::time::Instant::now() < deadline {
        let finished = ServiceReport::read()
            .and_then(|r| r.last_run)
            .filter(|run| run.started_at >= asked_at && run.finished_at.is_some());
        if let Some(run) = finished {
            return Ok(run);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(CommandError::new(
        Problem::Local,
        "the Kendrix service was asked to sync but has not finished a run in 5 minutes; `kendrix service status` shows what it is doing",
    ))
}

#[cfg(windows)]
fn ask() -> Result<(), CommandError> {
    kendrix_engine::service_report::ask_service_to_sync().map_err(|e| {
        CommandError::new(
            Problem::Local,
            format!("the Kendrix service cannot be asked to sync ({e}); is it running? (`kendrix service status`)"),
        )
    })
}

#[cfg(not(windows))]
fn ask() -> Result<(), CommandError> {
    Err(CommandError::new(
        Problem::Local,
        "there is no Kendrix service on this system",
    ))
}
