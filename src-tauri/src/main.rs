//! Kendrix Sync desktop app: a Tauri 2 shell over `kendrix-engine`. It lives in the tray,
//! runs the engine's schedule in the background, tells people when something needs them,
//! and shows the web UI (`ui/`). No sync logic lives here: commands are thin wrappers over
//! engine calls, and status reaches the UI as `status` events.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod admin;
mod commands;
mod error;
mod files;
mod notify;
mod service_view;
mod tray;

use std::sync::Arc;

use kendrix_core::SystemClock;
use kendrix_engine::{Engine, Status};
use service_view::Schedule;
use tauri::{Emitter, Manager, WindowEvent};

/// Started by the autostart entry: stay in the tray, no window.
const HIDDEN_FLAG: &str = "--hidden";

/// Logs to stderr and to `logs/desktop.log.<date>` in the agent's folder (a week kept), so
/// "Copy diagnostics" can carry the log's tail. The guard flushes the file at exit.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("KENDRIX_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let file = kendrix_engine::default_data_dir().and_then(|dir| {
        // The folder may predate the 0700 rule; the files in it are made under umask 077.
        let logs = files::log_dir(&dir);
        kendrix_engine::private_files::private_dir(&dir).ok()?;
        kendrix_engine::private_files::private_dir(&logs).ok()?;
        for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
            let _ = kendrix_engine::private_files::restrict_if_present(&entry.path());
        }
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("desktop.log")
            .max_log_files(7)
            .build(files::log_dir(&dir))
            .ok()
    });
    let (writer, guard) = match file {
        Some(file) => {
            let (writer, guard) = tracing_appender::non_blocking(file);
            (Some(writer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(filter()))
        .with(writer.map(|w| {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(w)
                .with_filter(filter())
        }))
        .init();
    guard
}

/// Every file the app creates — the agent's database, logs, exports, the support bundle —
/// is readable by the user alone (mode 0600, folders 0700).
fn private_by_default() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() {
    private_by_default();
    let _log_guard = init_logging();
    let start_hidden = std::env::args().any(|a| a == HIDDEN_FLAG);

    let result = tauri::Builder::default()
        // A second launch focuses the first instance instead of starting another engine.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_FLAG]),
        ))
        .setup(move |app| {
            let data_dir = kendrix_engine::default_data_dir()
                .ok_or("no data folder: set KENDRIX_AGENT_DIR")?;
            let engine =
                tauri::async_runtime::block_on(Engine::open(&data_dir, Arc::new(SystemClock)))?;
            app.manage(engine.clone());
            notify::watch_alerts(app.handle().clone(), engine.clone());
            let schedule = Schedule::detect();
            app.manage(schedule);
            tray::create(app.handle())?;
            match schedule {
                Schedule::Own => {
                    forward_status(app.handle().clone(), engine.clone(), engine.subscribe());
                    tauri::async_runtime::spawn(async move {
                        if let Err(e) = engine.run(None).await {
                            tracing::error!(error = %e, "the background schedule stopped");
                        }
                    });
                }
                Schedule::Service => {
                    tracing::info!("the Kendrix service syncs this PC: showing its status, running no schedule");
                    forward_status(app.handle().clone(), engine, service_view::follow());
                }
            }
            if !start_hidden {
                show_main_window(app.handle());
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window hides it; the schedule keeps running in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::sync_now,
            commands::pause,
            commands::resume,
            commands::enroll,
            commands::history,
            commands::dead_letters,
            commands::retry_dead_letters,
            commands::discard_dead_letters,
            commands::fix_dead_letter,
            commands::identities,
            commands::check_connection,
            commands::settings,
            commands::save_settings,
            admin::admin_enroll,
            admin::admin_sign_out,
            admin::admin_request,
            admin::admin_export_audit,
            admin::admin_save_report,
            files::save_diagnostics,
            files::reveal_file,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Kendrix Sync could not start: {e}");
        std::process::exit(1);
    }
}

pub fn show_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Shows the window on a screen (`attention`, `settings`, …): a tray item or a notification
/// click names the screen it is about.
pub fn open_screen(app: &tauri::AppHandle, screen: &str) {
    show_main_window(app);
    let _ = app.emit("navigate", screen);
}

/// Every status change (of the app's engine, or of the service it follows) goes to the UI
/// (event `status`), the tray and, when it needs a person, a desktop notification.
fn forward_status(
    app: tauri::AppHandle,
    engine: Arc<Engine>,
    mut changes: tokio::sync::watch::Receiver<Status>,
) {
    tauri::async_runtime::spawn(async move {
        let mut notifier = notify::Notifier::default();
        let mut current = changes.borrow_and_update().clone();
        tray::show(&app, &current);
        loop {
            let _ = app.emit("status", &current);
            tray::show(&app, &current);
            let enabled = commands::notifications_enabled(&engine).await;
            notifier.observe(&app, &current, enabled);
            if changes.changed().await.is_err() {
                break;
            }
            current = changes.borrow_and_update().clone();
        }
    });
}
