//! The tray icon: its picture shows the state; its menu starts with the state in words
//! ("✓ All synced · 5 min ago", "⚠ 3 records need attention"), then Sync Now, one
//! Pause/Resume toggle, "Review refused records", Open and Quit. Times are local.

use std::sync::{Arc, Mutex};

use kendrix_core::UnixMillis;
use kendrix_engine::{Engine, Problem, Status, SyncState, Trigger};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "kendrix";

/// The menu items whose words follow the status.
struct TrayItems {
    status_line: MenuItem<Wry>,
    pause_toggle: MenuItem<Wry>,
    review: MenuItem<Wry>,
    /// False when the app shows the Windows service's status: the service's refused
    /// records are an administrator's (`kendrix --data-dir … dead-letters`), not the app's.
    own_schedule: bool,
    /// The status last shown: the toggle acts on it, the minute ticker re-words it.
    last: Mutex<Status>,
}

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
    let status_line = MenuItem::with_id(app, "status", "Kendrix Sync", false, None::<&str>)?;
    let sync_now = MenuItem::with_id(app, "sync", "Sync Now", true, None::<&str>)?;
    // The service's schedule is not the app's to pause (it is an administrator's).
    let own_schedule = app.try_state::<crate::service_view::Schedule>().as_deref()
        != Some(&crate::service_view::Schedule::Service);
    let pause_toggle =
        MenuItem::with_id(app, "pause", "Pause for 1 hour", own_schedule, None::<&str>)?;
    let review = MenuItem::with_id(app, "review", "Review refused records", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Kendrix Sync", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let (first, second) = (
        PredefinedMenuItem::separator(app)?,
        PredefinedMenuItem::separator(app)?,
    );
    let menu = Menu::with_items(
        app,
        &[
            &status_line,
            &first,
            &sync_now,
            &pause_toggle,
            &review,
            &second,
            &open,
            &quit,
        ],
    )?;
    app.manage(TrayItems {
        status_line,
        pause_toggle,
        review,
        own_schedule,
        last: Mutex::new(Status::default()),
    });
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(SyncState::Idle))
        .tooltip("Kendrix Sync")
        .menu(&menu)
        .on_menu_event(|app, event| {
            let engine = app.state::<Arc<Engine>>().inner().clone();
            match event.id().as_ref() {
                "sync" => {
                    let schedule = *app.state::<crate::service_view::Schedule>();
                    tauri::async_runtime::spawn(async move {
                        let failed = match schedule {
                            crate::service_view::Schedule::Service => {
                                crate::service_view::sync_now()
                                    .await
                                    .err()
                                    .map(|e| e.message)
                            }
                            crate::service_view::Schedule::Own => engine
                                .sync(Trigger::Manual, crate::commands::SYNC_NOW_RETRY)
                                .await
                                .err()
                                .map(|e| e.to_string()),
                        };
                        if let Some(e) = failed {
                            tracing::error!(error = %e, "Sync Now failed");
                        }
                    });
                }
                "pause" => {
                    let paused = app
                        .state::<TrayItems>()
                        .last
                        .lock()
                        .expect("tray lock")
                        .state
                        == SyncState::Paused;
                    tauri::async_runtime::spawn(async move {
                        let done = if paused {
                            engine.resume().await
                        } else {
                            engine.pause(Some(60)).await
                        };
                        if let Err(e) = done {
                            tracing::error!(error = %e, "pause/resume failed");
                        }
                    });
                }
                "review" => crate::open_screen(app, "attention"),
                "open" => crate::show_main_window(app),
                "quit" => {
                    engine.shutdown();
                    app.exit(0);
                }
                _ => {}
            }
        })
        .build(app)?;
    // "5 min ago" ages: re-word the menu every minute.
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let last = app
                .state::<TrayItems>()
                .last
                .lock()
                .expect("tray lock")
                .clone();
            show(&app, &last);
        }
    });
    Ok(())
}

/// Shows `status` on the tray icon and menu (no tray host: nothing to show, nothing fails).
pub fn show(app: &AppHandle, status: &Status) {
    let now = kendrix_core::SystemClock.now_ms();
    if let Some(items) = app.try_state::<TrayItems>() {
        *items.last.lock().expect("tray lock") = status.clone();
        let _ = items.status_line.set_text(status_line(status, now));
        let _ = items
            .pause_toggle
            .set_text(if status.state == SyncState::Paused {
                "Resume"
            } else {
                "Pause for 1 hour"
            });
        let _ = items
            .review
            .set_enabled(items.own_schedule && status.dead_letters > 0);
    }
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let _ = tray.set_icon(Some(icon(status.state)));
    let _ = tray.set_tooltip(Some(format!("Kendrix Sync — {}", status_line(status, now))));
}

/// "3 records need attention" (also the notification's words).
pub fn attention_words(count: i64) -> String {
    if count == 1 {
        "1 record needs attention".to_owned()
    } else {
        format!("{count} records need attention")
    }
}

fn ago(at: UnixMillis, now: UnixMillis) -> String {
    let minutes = (now - at).max(0) / 60_000;
    match minutes {
        0 => "just now".to_owned(),
        1..=59 => format!("{minutes} min ago"),
        60..=1439 => format!("{} h ago", minutes / 60),
        _ => format!("at {}", crate::notify::local_time(at)),
    }
}

/// The menu's first line: the state in words, as the Status screen says it.
fn status_line(status: &Status, now: UnixMillis) -> String {
    if status.enrolled.is_none() {
        return "Not connected to a server yet".to_owned();
    }
    match status.state {
        SyncState::Error if matches!(status.problem, Some(Problem::Auth | Problem::Permission)) => {
            "⚠ This PC's access was refused — ask your administrator".to_owned()
        }
        SyncState::Error => "⚠ The last sync failed — open for details".to_owned(),
        SyncState::Offline => format!(
            "⚠ Can't reach the server — {} change(s) kept safe",
            status.queue_depth
        ),
        SyncState::Syncing => match &status.progress {
            Some(p) => format!("Syncing… {} of {}", p.sent, p.total),
            None => "Syncing…".to_owned(),
        },
        SyncState::Paused => match status.paused_until {
            Some(until) if until < i64::MAX => {
                format!("Paused until {}", crate::notify::local_time(until))
            }
            _ => "Paused".to_owned(),
        },
        SyncState::Idle if status.dead_letters > 0 => {
            format!("⚠ {}", attention_words(status.dead_letters))
        }
        SyncState::Idle => match status.last_success_at {
            Some(at) if status.all_synced => format!("✓ All synced · {}", ago(at, now)),
            Some(at) => format!(
                "{} change(s) waiting · last synced {}",
                status.queue_depth,
                ago(at, now)
            ),
            None => "Never synced yet".to_owned(),
        },
    }
}

use kendrix_core::Clock as _;

#[cfg(test)]
mod tests {
    use kendrix_engine::{Enrolled, Progress};

    use super::*;

    const NOW: UnixMillis = 1_764_600_000_000;

    fn enrolled(state: SyncState) -> Status {
        Status {
            state,
            enrolled: Some(Enrolled {
                server: "http://127.0.0.1:8080".into(),
                client_id: "kxc_1".into(),
            }),
            ..Status::default()
        }
    }

    #[test]
    fn the_menus_first_line_says_the_state_in_words_with_past_times_in_the_past() {
        let mut synced = enrolled(SyncState::Idle);
        synced.all_synced = true;
        synced.last_success_at = Some(NOW - 5 * 60_000);
        assert_eq!(status_line(&synced, NOW), "✓ All synced · 5 min ago");
        synced.last_success_at = Some(NOW + 30_000);
        assert_eq!(
            status_line(&synced, NOW),
            "✓ All synced · just now",
            "a clock a little behind"
        );
        let mut refused = enrolled(SyncState::Idle);
        refused.dead_letters = 3;
        assert_eq!(status_line(&refused, NOW), "⚠ 3 records need attention");
        let mut offline = enrolled(SyncState::Offline);
        offline.queue_depth = 120;
        assert_eq!(
            status_line(&offline, NOW),
            "⚠ Can't reach the server — 120 change(s) kept safe"
        );
        let mut revoked = enrolled(SyncState::Error);
        revoked.problem = Some(Problem::Auth);
        assert!(status_line(&revoked, NOW).contains("access was refused"));
        let mut syncing = enrolled(SyncState::Syncing);
        syncing.progress = Some(Progress {
            sent: 200,
            total: 500,
        });
        assert_eq!(status_line(&syncing, NOW), "Syncing… 200 of 500");
        assert_eq!(
            status_line(&Status::default(), NOW),
            "Not connected to a server yet"
        );
        assert_eq!(attention_words(1), "1 record needs attention");
    }
}
