//! The commands the UI invokes (through `ui/src/api.ts` only). Each is a thin wrapper over
//! one engine call; errors reach the UI as a [`CommandError`]: a code and plain words.

use std::sync::Arc;
use std::time::Duration;

use kendrix_core::enrollment::Enrollment;
use kendrix_engine::{DeadLetter, Engine, Problem, Status, SyncRun, Trigger};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tauri::State;
use tauri_plugin_autostart::ManagerExt;

use crate::error::{CallError, CommandError};

type Answer<T> = Result<T, CommandError>;

/// How long Sync Now keeps retrying while the server is unreachable or busy.
pub const SYNC_NOW_RETRY: Duration = Duration::from_secs(30);

#[tauri::command]
pub async fn status(engine: State<'_, Arc<Engine>>) -> Answer<Status> {
    engine.status().await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn sync_now(engine: State<'_, Arc<Engine>>) -> Answer<SyncRun> {
    engine
        .sync(Trigger::Manual, SYNC_NOW_RETRY)
        .await
        .map_err(CommandError::from)
}

#[tauri::command]
pub async fn pause(engine: State<'_, Arc<Engine>>, minutes: Option<u64>) -> Answer<()> {
    engine.pause(minutes).await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn resume(engine: State<'_, Arc<Engine>>) -> Answer<()> {
    engine.resume().await.map_err(CommandError::from)
}

/// Paste-once enrollment: the secret goes to the OS keychain, never to a file.
#[tauri::command]
pub async fn enroll(engine: State<'_, Arc<Engine>>, enrollment: String) -> Answer<Status> {
    let enrollment = Enrollment::decode(&enrollment)?;
    engine.enroll(&enrollment).await?;
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

/// The server's audit filter, as the UI sends it.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    since: Option<i64>,
    until: Option<i64>,
    event: Option<String>,
    client_id: Option<String>,
    outcome: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

impl AuditQuery {
    /// The query string of `GET /audit/logs` and `/audit/export`, every value encoded.
    fn encoded(&self, extra: &[(&str, String)]) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        let text = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        for (name, value) in [
            ("since", self.since.map(|v| v.to_string())),
            ("until", self.until.map(|v| v.to_string())),
            ("event", text(&self.event)),
            ("client_id", text(&self.client_id)),
            ("outcome", text(&self.outcome)),
            ("q", text(&self.q)),
            ("cursor", text(&self.cursor)),
            ("limit", self.limit.map(|v| v.to_string())),
        ] {
            if let Some(value) = value {
                pairs.append_pair(name, &value);
            }
        }
        for (name, value) in extra {
            pairs.append_pair(name, value);
        }
        pairs.finish()
    }
}

async fn server_json(engine: &Engine, path: &str) -> Answer<Value> {
    let body = engine.server_get(path).await?;
    serde_json::from_str(&body).map_err(|e| {
        CommandError::new(
            CallError::Unreadable,
            format!("the server's answer could not be read: {e}"),
        )
    })
}

#[tauri::command]
pub async fn audit_logs(engine: State<'_, Arc<Engine>>, query: AuditQuery) -> Answer<Value> {
    server_json(&engine, &format!("/audit/logs?{}", query.encoded(&[]))).await
}

#[tauri::command]
pub async fn audit_export(
    engine: State<'_, Arc<Engine>>,
    query: AuditQuery,
    format: String,
) -> Answer<String> {
    if format != "csv" && format != "ndjson" {
        return Err(CommandError::new(
            CallError::Invalid,
            format!("unknown export format {format:?}: csv or ndjson"),
        ));
    }
    let query = query.encoded(&[("format", format)]);
    engine
        .server_get(&format!("/audit/export?{query}"))
        .await
        .map_err(CommandError::from)
}

#[derive(Debug, Serialize)]
pub struct EffectiveConfig {
    body: String,
    version: String,
    etag: String,
}

#[tauri::command]
pub async fn config_effective(
    engine: State<'_, Arc<Engine>>,
    format: String,
) -> Answer<EffectiveConfig> {
    if !matches!(format.as_str(), "json" | "xml" | "ini") {
        return Err(CommandError::new(
            CallError::Invalid,
            format!("unknown format {format:?}: json, xml or ini"),
        ));
    }
    let config = engine.config_as(&format).await?;
    Ok(EffectiveConfig {
        body: config.body,
        version: config.version,
        etag: config.etag,
    })
}

#[tauri::command]
pub async fn config_versions(engine: State<'_, Arc<Engine>>) -> Answer<Value> {
    server_json(&engine, "/config/versions").await
}

#[tauri::command]
pub async fn config_diff(engine: State<'_, Arc<Engine>>, from: i64, to: i64) -> Answer<Value> {
    server_json(&engine, &format!("/config/diff?from={from}&to={to}")).await
}

#[tauri::command]
pub async fn sync_stats(engine: State<'_, Arc<Engine>>) -> Answer<Value> {
    server_json(&engine, "/sync/stats").await
}

#[tauri::command]
pub async fn auth_stats(engine: State<'_, Arc<Engine>>) -> Answer<Value> {
    server_json(&engine, "/auth/stats").await
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
