//! The site's commands the UI invokes (through `ui/src/api.ts` only; the admin console's
//! are in `admin.rs`, files in `files.rs`). Each is a thin wrapper over one engine call;
//! errors reach the UI as a [`CommandError`]: a code and plain words.

use std::sync::Arc;
use std::time::Duration;

use kendrix_core::enrollment::Enrollment;
use kendrix_engine::{
    DeadLetter, Engine, EngineError, Enrolled, Names, Problem, Status, SyncRun, Trigger,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri_plugin_autostart::ManagerExt;

use crate::error::{CallError, CommandError};
use crate::service_view::{self, Schedule};

pub type Answer<T> = Result<T, CommandError>;

/// How long Sync Now keeps retrying while the server is unreachable or busy.
pub const SYNC_NOW_RETRY: Duration = Duration::from_secs(30);

/// The status shown: the app's engine's, or the Windows service's when that syncs this PC.
#[tauri::command]
pub async fn status(
    engine: State<'_, Arc<Engine>>,
    schedule: State<'_, Schedule>,
) -> Answer<Status> {
    if *schedule == Schedule::Service {
        if let Some(status) = service_view::current() {
            return Ok(status);
        }
    }
    engine.status().await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn sync_now(
    engine: State<'_, Arc<Engine>>,
    schedule: State<'_, Schedule>,
) -> Answer<SyncRun> {
    if *schedule == Schedule::Service {
        return service_view::sync_now().await;
    }
    engine
        .sync(Trigger::Manual, SYNC_NOW_RETRY)
        .await
        .map_err(CommandError::from)
}

#[tauri::command]
pub async fn pause(
    engine: State<'_, Arc<Engine>>,
    schedule: State<'_, Schedule>,
    minutes: Option<u64>,
) -> Answer<()> {
    own_schedule(&schedule)?;
    engine.pause(minutes).await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn resume(engine: State<'_, Arc<Engine>>, schedule: State<'_, Schedule>) -> Answer<()> {
    own_schedule(&schedule)?;
    engine.resume().await.map_err(CommandError::from)
}

/// Pausing is for the app's own schedule: the Windows service's is an administrator's.
fn own_schedule(schedule: &Schedule) -> Answer<()> {
    match schedule {
        Schedule::Own => Ok(()),
        Schedule::Service => Err(CommandError::new(
            CallError::Invalid,
            "the Kendrix service syncs this PC on its own schedule; an administrator stops it with `kendrix service stop`",
        )),
    }
}

/// Paste-once enrollment: the secret goes to the OS keychain, never to a file. A string
/// for another site than the one enrolled is refused (code `other_site`) unless `replace`:
/// pasting a string must never silently turn this PC into another site.
#[tauri::command]
pub async fn enroll(
    engine: State<'_, Arc<Engine>>,
    enrollment: String,
    replace: bool,
) -> Answer<Status> {
    let enrollment = Enrollment::decode(&enrollment)?;
    let current = engine.store().agent_state().await?.enrolled;
    if let Some(current) = current {
        let same = current.client_id == enrollment.client_id;
        if !same && !replace {
            return Err(CommandError::new(
                CallError::OtherSite,
                format!(
                    "this string is for another site ({}); this PC syncs as {} now — confirm to change site",
                    enrollment.client_id, current.client_id
                ),
            ));
        }
    }
    engine.enroll(&enrollment).await?;
    // The names shown in Settings: a failure here is not a failed enrollment.
    if let Err(e) = engine.site_profile().await {
        tracing::info!(error = %e, "the site's names could not be read yet");
    }
    engine.status().await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn history(engine: State<'_, Arc<Engine>>, limit: i64) -> Answer<Vec<SyncRun>> {
    engine
        .history(limit.clamp(1, 1000))
        .await
        .map_err(CommandError::from)
}

#[tauri::command]
pub async fn dead_letters(engine: State<'_, Arc<Engine>>) -> Answer<Vec<DeadLetter>> {
    engine.dead_letters().await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn retry_dead_letters(engine: State<'_, Arc<Engine>>, ids: Vec<i64>) -> Answer<()> {
    engine.retry_dead_letters(&ids).await?;
    engine.request_sync();
    Ok(())
}

#[tauri::command]
pub async fn discard_dead_letters(engine: State<'_, Arc<Engine>>, ids: Vec<i64>) -> Answer<()> {
    engine
        .discard_dead_letters(&ids)
        .await
        .map(|_| ())
        .map_err(CommandError::from)
}

#[tauri::command]
pub async fn fix_dead_letter(engine: State<'_, Arc<Engine>>, id: i64, data: String) -> Answer<()> {
    engine.fix_dead_letter(id, &data).await?;
    engine.request_sync();
    Ok(())
}

/// Who this PC is, read locally: the site it syncs as and the admin signed in on it, with
/// the names the server gave at the last check.
#[derive(Debug, Serialize)]
pub struct Identities {
    site: Option<Identity>,
    admin: Option<Identity>,
}

#[derive(Debug, Serialize)]
pub struct Identity {
    server: String,
    client_id: String,
    name: Option<String>,
    tenant: Option<String>,
}

impl Identity {
    fn of(enrolled: Option<Enrolled>, names: Option<Names>) -> Option<Self> {
        let enrolled = enrolled?;
        let (name, tenant) = names.map(|n| (n.name, n.tenant)).unzip();
        Some(Self {
            server: enrolled.server,
            client_id: enrolled.client_id,
            name,
            tenant,
        })
    }
}

#[tauri::command]
pub async fn identities(engine: State<'_, Arc<Engine>>) -> Answer<Identities> {
    let state = engine.store().agent_state().await?;
    Ok(Identities {
        site: Identity::of(state.enrolled, state.site_names),
        admin: Identity::of(state.admin, state.admin_names),
    })
}

/// The answer to Settings → "Check connection".
#[derive(Debug, Serialize)]
pub struct ConnectionCheck {
    ok: bool,
    name: Option<String>,
    tenant: Option<String>,
    latency_ms: u64,
    message: Option<String>,
    problem: Option<Problem>,
}

/// Asks the server who this site is: a token and `GET /whoami`. A failure is an answer
/// (ok: false, in plain words), not an error, except when the PC is not enrolled.
#[tauri::command]
pub async fn check_connection(engine: State<'_, Arc<Engine>>) -> Answer<ConnectionCheck> {
    let started = std::time::Instant::now();
    let answer = engine.site_profile().await;
    let latency_ms = started.elapsed().as_millis() as u64;
    Ok(match answer {
        Ok(profile) => ConnectionCheck {
            ok: true,
            name: Some(profile.name),
            tenant: Some(profile.tenant_name),
            latency_ms,
            message: None,
            problem: None,
        },
        Err(EngineError::NotEnrolled) => return Err(EngineError::NotEnrolled.into()),
        Err(e) => ConnectionCheck {
            ok: false,
            name: None,
            tenant: None,
            latency_ms,
            problem: e.problem(),
            message: Some(e.to_string()),
        },
    })
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AppSettings {
    autostart: bool,
    notifications: bool,
    /// `None`: the server's interval.
    interval_seconds: Option<u64>,
}

/// Notifications are on unless staff turned them off (or the setting cannot be read).
pub async fn notifications_enabled(engine: &Engine) -> bool {
    engine.notifications_enabled().await.unwrap_or(true)
}

#[tauri::command]
pub async fn settings(
    app: tauri::AppHandle,
    engine: State<'_, Arc<Engine>>,
) -> Answer<AppSettings> {
    Ok(AppSettings {
        autostart: app.autolaunch().is_enabled().unwrap_or(false),
        notifications: notifications_enabled(&engine).await,
        interval_seconds: engine.interval_override().await?,
    })
}

#[tauri::command]
pub async fn save_settings(
    app: tauri::AppHandle,
    engine: State<'_, Arc<Engine>>,
    settings: AppSettings,
) -> Answer<()> {
    let autostart = app.autolaunch();
    let change = if settings.autostart {
        autostart.enable()
    } else {
        autostart.disable()
    };
    change.map_err(|e| {
        CommandError::new(
            Problem::Local,
            format!("autostart could not be changed: {e}"),
        )
    })?;
    engine.set_notifications(settings.notifications).await?;
    engine
        .set_interval_override(settings.interval_seconds)
        .await
        .map_err(CommandError::from)
}
