//! The tray icon: its picture shows the state, its tooltip the last successful sync, its menu
//! offers Sync Now, Pause for 1 hour / Resume, Open and Quit.

use std::sync::Arc;

use kendrix_engine::{Engine, Status, SyncState, Trigger};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY_ID: &str = "kendrix";

fn icon(state: SyncState) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        SyncState::Idle => include_bytes!("../../icons/tray-idle.png"),
        SyncState::Syncing => include_bytes!("../../icons/tray-syncing.png"),
        SyncState::Paused => include_bytes!("../../icons/tray-paused.png"),
        SyncState::Offline => include_bytes!("../../icons/tray-offline.png"),
        SyncState::Error => include_bytes!("../../icons/tray-error.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNG files")
}

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let sync_now = MenuItem::with_id(app, "sync", "Sync Now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause for 1 hour", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, "resume", "Resume", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&sync_now, &pause, &resume, &separator, &open, &quit])?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(SyncState::Idle))
        .tooltip("Kendrix Sync")
        .menu(&menu)
        .on_menu_event(|app, event| {
            let engine = app.state::<Arc<Engine>>().inner().clone();
            match event.id().as_ref() {
                "sync" => {
                    tauri::async_runtime::spawn(async move {
                        if let Err(e) = engine
                            .sync(Trigger::Manual, crate::commands::SYNC_NOW_RETRY)
                            .await
                        {
                            tracing::error!(error = %e, "Sync Now failed");
                        }
                    });
                }
                "pause" => {
                    tauri::async_runtime::spawn(async move { engine.pause(Some(60)).await });
                }
                "resume" => {
                    tauri::async_runtime::spawn(async move { engine.resume().await });
                }
                "open" => crate::show_main_window(app),
                "quit" => {
                    engine.shutdown();
                    app.exit(0);
                }
                _ => {}
            }
        })
        .build(app)?;
    Ok(())
}

/// Shows `status` on the tray icon (no tray host: nothing to show, nothing fails).
pub fn show(app: &AppHandle, status: &Status) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let _ = tray.set_icon(Some(icon(status.state)));
    let _ = tray.set_tooltip(Some(tooltip(status)));
}

fn tooltip(status: &Status) -> String {
    let last = match status.last_success_at {
        Some(at) => format!("last synced {}", crate::notify::local_time(at)),
        None => "never synced".to_owned(),
    };
    format!("Kendrix Sync — {} ({last})", status.summary())
}
