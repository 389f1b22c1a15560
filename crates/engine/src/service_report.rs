//! Where the Windows service keeps its agent (`%ProgramData%\Kendrix`) and the report it
//! rewrites whenever its status changes, `service-status.json`: read by `kendrix service
//! status`, by `kendrix service enroll` (waiting for the service's answer) and by the tray
//! app, which shows the service's status instead of running a schedule of its own. The
//! report holds no secret.

use std::path::PathBuf;

use kendrix_core::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::{Status, SyncRun};

/// The service's folder: `%ProgramData%\Kendrix`. Asked of Windows (the ProgramData known
/// folder) rather than read from the environment, which differs between a service started
/// at boot and a user's prompt (seen under Wine).
pub fn service_root() -> PathBuf {
    program_data().join("Kendrix")
}

#[cfg(windows)]
fn program_data() -> PathBuf {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use windows_sys::Win32::UI::Shell::{FOLDERID_ProgramData, SHGetKnownFolderPath};
    let mut wide: windows_sys::core::PWSTR = std::ptr::null_mut();
    // SAFETY: the call allocates the path it returns; it is read up to its NUL and freed
    // with CoTaskMemFree, as the API asks (also on failure).
    unsafe {
        let found = SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, std::ptr::null_mut(), &mut wide);
        let path = (found == 0 && !wide.is_null()).then(|| {
            let len = (0..).take_while(|&i| *wide.add(i) != 0).count();
            PathBuf::from(std::ffi::OsString::from_wide(std::slice::from_raw_parts(
                wide, len,
            )))
        });
        CoTaskMemFree(wide as _);
        path.unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
    }
}

#[cfg(not(windows))]
fn program_data() -> PathBuf {
    std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
}

/// The service's agent folder (its database).
pub fn agent_dir() -> PathBuf {
    service_root().join("agent")
}

/// The service's log folder (a file a day, the last 14 kept).
pub fn log_dir() -> PathBuf {
    service_root().join("logs")
}

/// The service's name in the Service Control Manager (`sc query Kendrix`).
pub const SERVICE_NAME: &str = "Kendrix";

/// The user-defined service control (128–255) that asks the service to sync now; Windows
/// lets an interactive user send it without being an administrator.
pub const SYNC_NOW_CONTROL: u32 = 128;

pub fn report_path() -> PathBuf {
    service_root().join("service-status.json")
}

/// What the service tells the rest of the PC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceReport {
    pub pid: u32,
    pub written_at: UnixMillis,
    pub status: Status,
    /// The service's latest sync run (the tray app's Sync Now waits for one to finish).
    pub last_run: Option<SyncRun>,
    /// What stops the service from syncing that only a person can fix (its secret).
    pub problem: Option<String>,
    /// The answer to the latest `kendrix service enroll`.
    pub enrollment: Option<EnrollmentAnswer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollmentAnswer {
    pub at: UnixMillis,
    pub enrolled: bool,
    pub message: String,
}

impl ServiceReport {
    /// The latest report, if the service has written one.
    pub fn read() -> Option<Self> {
        let text = std::fs::read_to_string(report_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The report of a service that runs now and is enrolled: it syncs this PC, so the tray
    /// app shows its status rather than running a schedule of its own.
    pub fn of_running_service() -> Option<Self> {
        Self::read()
            .filter(|r| r.status.enrolled.is_some() && crate::process_alive(i64::from(r.pid)))
    }

    /// Written aside and renamed over: a reader never sees half a file.
    pub fn write(&self) -> std::io::Result<()> {
        let path = report_path();
        let aside = path.with_extension("json.new");
        std::fs::write(&aside, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&aside, &path)
    }
}

/// Asks the running service to sync now (its Sync Now), as any user of the PC may.
#[cfg(windows)]
pub fn ask_service_to_sync() -> std::io::Result<()> {
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, ControlService, OpenSCManagerW, OpenServiceW, SC_MANAGER_CONNECT,
        SERVICE_STATUS, SERVICE_USER_DEFINED_CONTROL,
    };
    let name: Vec<u16> = SERVICE_NAME.encode_utf16().chain([0]).collect();
    // SAFETY: every handle is checked before use and closed once; the name is NUL-terminated.
    unsafe {
        let manager = OpenSCManagerW(std::ptr::null(), std::ptr::null(), SC_MANAGER_CONNECT);
        if manager.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        let service = OpenServiceW(manager, name.as_ptr(), SERVICE_USER_DEFINED_CONTROL);
        let outcome = if service.is_null() {
            Err(std::io::Error::last_os_error())
        } else {
            let mut status: SERVICE_STATUS = std::mem::zeroed();
            let sent = ControlService(service, SYNC_NOW_CONTROL, &mut status);
            let outcome = if sent == 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            };
            CloseServiceHandle(service);
            outcome
        };
        CloseServiceHandle(manager);
        outcome
    }
}
