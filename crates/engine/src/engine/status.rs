//! The status: computed from the database (so another process tells the truth about a
//! running daemon) and what only the running process knows, and published on change.

use super::Engine;
use crate::status::{Enrolled, Problem, Progress, RunOutcome, Status, SyncState};
use crate::EngineResult;

/// What only the running process knows (the rest of the status is in the database).
#[derive(Debug, Default)]
pub(super) struct Live {
    pub running: bool,
    /// Why the run waits before retrying.
    pub waiting: Option<String>,
    pub progress: Option<Progress>,
}

impl Engine {
    /// The status, read fresh from the database (also right when another process — the
    /// daemon — is the one syncing).
    pub async fn status(&self) -> EngineResult<Status> {
        // All remembered values in one read: the status is recomputed on every change.
        let remembered = self.store.agent_state().await?;
        let queue_depth = self.store.queue_depth().await?;
        let dead_letters = self.store.dead_letter_count().await?;
        let now = self.clock.now_ms();
        let paused_until = remembered.paused_until.filter(|u| *u > now);
        let running_elsewhere = remembered
            .running_pid
            .is_some_and(|pid| pid != i64::from(std::process::id()) && process_alive(pid));
        let (running, waiting, progress) = {
            let live = self.live.lock().expect("live lock");
            (live.running, live.waiting.clone(), live.progress)
        };
        let last_problem = remembered.last_problem();
        let (state, problem, message) = if running || running_elsewhere {
            match waiting {
                Some(why) => (SyncState::Offline, Some(Problem::Offline), Some(why)),
                None => (SyncState::Syncing, None, None),
            }
        } else {
            match remembered.last_outcome {
                Some(RunOutcome::Auth | RunOutcome::Error) => {
                    (SyncState::Error, last_problem, remembered.last_message)
                }
                Some(RunOutcome::Offline) => {
                    (SyncState::Offline, last_problem, remembered.last_message)
                }
                _ if paused_until.is_some() => (
                    SyncState::Paused,
                    None,
                    Some(match paused_until {
                        Some(i64::MAX) => "the schedule is paused until resumed".to_owned(),
                        _ => "the schedule is paused for a while".to_owned(),
                    }),
                ),
                _ => (SyncState::Idle, None, None),
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
        let last_success_at = remembered.last_success_at;
        Ok(Status {
            state,
            all_synced: queue_depth == 0 && dead_letters == 0 && last_success_at.is_some(),
            queue_depth,
            dead_letters,
            last_success_at,
            next_run_at: remembered.next_run_at,
            paused_until,
            problem,
            message,
            warning: remembered.witness_warning,
            progress: if running { progress } else { None },
            enrolled,
            config_version: remembered.config.map(|c| c.version),
        })
    }

    /// Recomputes the status and tells subscribers if it changed.
    pub(super) async fn publish(&self) -> EngineResult<()> {
        let status = self.status().await?;
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
        Ok(())
    }

    pub(super) fn set_live(&self, change: impl FnOnce(&mut Live)) {
        change(&mut self.live.lock().expect("live lock"));
    }
}

/// Whether a process still runs (a crashed daemon must not look like it is syncing).
pub fn process_alive(pid: i64) -> bool {
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
        use windows_sys::Win32::System::Threading::{
            GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
        };
        let Ok(pid) = u32::try_from(pid) else {
            return false;
        };
        // SAFETY: the handle is checked before use and closed once.
        unsafe {
            let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if process.is_null() {
                // Gone, or another account's process we may not open: the latter still runs.
                return std::io::Error::last_os_error().raw_os_error() == Some(5);
            }
            let mut code = 0u32;
            let ok = GetExitCodeProcess(process, &mut code);
            CloseHandle(process);
            ok != 0 && code == STILL_ACTIVE as u32
        }
    }
    #[cfg(not(windows))]
    {
        if cfg!(target_os = "linux") {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        } else {
            true
        }
    }
}
