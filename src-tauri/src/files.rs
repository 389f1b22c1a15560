//! Files the app writes where the user chooses: the native save dialog, the support bundle
//! ("Copy diagnostics"), and "Open folder". The webview never touches the file system.
//!
//! `KENDRIX_SAVE_TO` (a folder) stands in for the dialog's answer: the file is saved there
//! under its suggested name. The end-to-end tests use it, since WebDriver cannot click a
//! native dialog; so can an unattended support session.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kendrix_engine::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::commands::Answer;
use crate::error::CommandError;

/// How many lines of the log a support bundle carries.
const LOG_TAIL_LINES: usize = 300;

/// Where a file was saved, as the UI shows it ("Saved to … · Open folder").
#[derive(Debug, Serialize)]
pub struct SavedFile {
    path: String,
    bytes: u64,
}

impl SavedFile {
    pub fn new(path: PathBuf, bytes: u64) -> Self {
        Self {
            path: path.display().to_string(),
            bytes,
        }
    }
}

/// The file the user picks in the native save dialog (`None`: cancelled).
pub async fn choose_save_path(
    app: &AppHandle,
    suggested: &str,
    label: &str,
    extensions: &[&str],
) -> Option<PathBuf> {
    if let Some(folder) = std::env::var_os("KENDRIX_SAVE_TO") {
        return Some(PathBuf::from(folder).join(suggested));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app
        .dialog()
        .file()
        .set_file_name(suggested)
        .add_filter(label, extensions);
    if let Some(home) = std::env::var_os("HOME") {
        dialog = dialog.set_directory(home);
    }
    dialog.save_file(move |picked| {
        let _ = tx.send(picked.and_then(|p| p.into_path().ok()));
    });
    rx.await.ok().flatten()
}

/// "20261201-1403" in local time, for file names.
pub fn file_stamp() -> String {
    chrono::Local::now().format("%Y%m%d-%H%M").to_string()
}

/// The folder the app's log files are in (`desktop.log.<date>`, a week kept).
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Writes the support bundle — versions, status, identities (ids and names, no secrets),
/// the queue, the last runs, the settings and the log's tail — to a file the user picks.
#[tauri::command]
pub async fn save_diagnostics(
    app: AppHandle,
    engine: State<'_, Arc<Engine>>,
) -> Answer<Option<SavedFile>> {
    let bundle = diagnostics(&engine).await?;
    let name = format!("kendrix-diagnostics-{}.json", file_stamp());
    let Some(path) = choose_save_path(&app, &name, "JSON", &["json"]).await else {
        return Ok(None);
    };
    let text = serde_json::to_string_pretty(&bundle).expect("a JSON value serializes");
    // (The process's umask, 077, makes it the user's alone.)
    std::fs::write(&path, &text).map_err(|e| {
        CommandError::new(
            kendrix_engine::Problem::Local,
            format!("{} could not be written: {e}", path.display()),
        )
    })?;
    Ok(Some(SavedFile::new(path, text.len() as u64)))
}

async fn diagnostics(engine: &Engine) -> Answer<Value> {
    let state = engine.store().agent_state().await?;
    let status = engine.status().await?;
    let runs = engine.history(20).await?;
    let queue = engine.store().queue_figures().await?;
    let identity = |who: Option<kendrix_engine::Enrolled>, names: Option<kendrix_engine::Names>| {
        who.map(|w| json!({"server": w.server, "client_id": w.client_id, "names": names}))
    };
    Ok(json!({
        "kendrix_desktop": env!("CARGO_PKG_VERSION"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "written_at": chrono::Local::now().to_rfc3339(),
        "data_dir": engine.data_dir().display().to_string(),
        "site": identity(state.enrolled, state.site_names),
        "admin": identity(state.admin, state.admin_names),
        "status": status,
        "queue": {
            "queue_depth": queue.queue_depth,
            "oldest_pending_at": queue.oldest_pending_at,
            "dead_letters": queue.dead_letters,
        },
        "config_version": state.config.as_ref().map(|c| c.version.clone()),
        "settings": {
            "interval_override_secs": state.interval_override_secs,
            "notifications": state.notifications,
        },
        "last_runs": runs,
        "log_tail": redact(&log_tail(&log_dir(engine.data_dir()), LOG_TAIL_LINES)),
    }))
}

/// The last `lines` lines of the newest log file.
fn log_tail(dir: &Path, lines: usize) -> Vec<String> {
    let newest = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("desktop.log"))
            .max_by_key(|e| e.file_name())
    });
    let Some(text) = newest.and_then(|e| std::fs::read_to_string(e.path()).ok()) else {
        return Vec::new();
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// Logs never hold a secret, but a bundle leaves the PC: blank anything shaped like an
/// enrollment string or a bearer token all the same.
fn redact(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            line.split(' ')
                .map(|word| {
                    let secretish = word.contains("kendrix1:")
                        || word.starts_with("kxs_")
                        || word.starts_with("kxt_")
                        || (word.len() > 40
                            && word
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)));
                    if secretish {
                        "[redacted]"
                    } else {
                        word
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Shows a saved file in the system's file manager.
#[tauri::command]
pub async fn reveal_file(app: AppHandle, path: String) -> Answer<()> {
    app.opener().reveal_item_in_dir(&path).map_err(|e| {
        CommandError::new(
            kendrix_engine::Problem::Local,
            format!("the folder of {path} could not be opened: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_support_bundle_carries_the_logs_tail_with_anything_secret_shaped_blanked() {
        let dir = std::env::temp_dir().join(format!("kx-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("desktop.log.2026-11-30"), "old\n").unwrap();
        let text: String = (0..500).map(|i| format!("line {i}\n")).collect();
        std::fs::write(
            dir.join("desktop.log.2026-12-01"),
            text + "pasted kendrix1:eyJzZWNyZXQiOiJ4In0 by mistake\n",
        )
        .unwrap();
        let tail = redact(&log_tail(&dir, 3));
        assert_eq!(
            tail,
            ["line 498", "line 499", "pasted [redacted] by mistake"]
        );
        assert!(log_tail(&dir.join("none"), 3).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
