//! Desktop notifications: on failure, on recovery, on authentication problems and on
//! rejected records — never on a routine successful sync. Where the desktop has no
//! notification service, the message goes to the log and the app carries on.

use kendrix_core::UnixMillis;
use kendrix_engine::{Problem, Status, SyncState};
use tauri::AppHandle;

/// Remembers what was told, to notify on changes only.
#[derive(Debug, Default)]
pub struct Notifier {
    seen: bool,
    /// The problem staff were told about and that has not cleared yet.
    told: Option<SyncState>,
    dead_letters: i64,
}

impl Notifier {
    /// Notes a status and shows what it calls for; a click on a notification opens the
    /// screen it is about.
    pub fn observe(&mut self, app: &AppHandle, status: &Status, enabled: bool) {
        for (title, body, screen) in self.notifications_for(status) {
            send(app, &title, &body, screen, enabled);
        }
    }

    /// The notifications (title, body, the screen a click opens) a new status calls for.
    fn notifications_for(&mut self, status: &Status) -> Vec<(String, String, &'static str)> {
        if !self.seen {
            // What the app finds at start is on screen already.
            self.seen = true;
            self.dead_letters = status.dead_letters;
            return Vec::new();
        }
        let message = || status.message.clone().unwrap_or_default();
        // Retries inside a run show as offline with progress: not yet a failure.
        let run_over = status.progress.is_none();
        let mut out = Vec::new();
        match status.state {
            SyncState::Error if self.told != Some(SyncState::Error) => {
                let (title, screen) = if is_auth_problem(status) {
                    ("Kendrix Sync: credentials refused", "settings")
                } else {
                    ("Kendrix Sync needs attention", "status")
                };
                out.push((title.to_owned(), message(), screen));
                self.told = Some(SyncState::Error);
            }
            SyncState::Offline if run_over && self.told.is_none() => {
                out.push((
                    "Kendrix Sync cannot reach the server".to_owned(),
                    message(),
                    "status",
                ));
                self.told = Some(SyncState::Offline);
            }
            SyncState::Idle | SyncState::Paused if self.told.is_some() => {
                out.push((
                    "Kendrix Sync recovered".to_owned(),
                    "Syncing works again.".to_owned(),
                    "status",
                ));
                self.told = None;
            }
            _ => {}
        }
        if status.dead_letters > self.dead_letters {
            out.push((
                "Kendrix Sync: records refused".to_owned(),
                crate::tray::attention_words(status.dead_letters) + " — click to review them.",
                "attention",
            ));
        }
        self.dead_letters = status.dead_letters;
        out
    }
}

fn is_auth_problem(status: &Status) -> bool {
    matches!(status.problem, Some(Problem::Auth | Problem::Permission))
}

/// While an admin is signed in, reads the tenant's open alerts every minute and tells of each
/// one that opened since (a click opens the Alerts screen). Those open when the app starts
/// are on the Alerts screen already.
pub fn watch_alerts(app: AppHandle, engine: std::sync::Arc<kendrix_engine::Engine>) {
    tauri::async_runtime::spawn(async move {
        let mut seen: Option<std::collections::HashSet<i64>> = None;
        loop {
            if engine.admin_identity().await.ok().flatten().is_some() {
                match engine
                    .admin_request(
                        kendrix_engine::AdminMethod::Get,
                        "/alerts?state=open&limit=200",
                        None,
                    )
                    .await
                {
                    Ok(Some(serde_json::Value::Array(alerts))) => {
                        let enabled = crate::commands::notifications_enabled(&engine).await;
                        let first = seen.is_none();
                        let known = seen.get_or_insert_with(Default::default);
                        for alert in &alerts {
                            let Some(id) = alert["id"].as_i64() else {
                                continue;
                            };
                            if known.insert(id) && !first {
                                let summary =
                                    alert["summary"].as_str().unwrap_or("an alert opened");
                                send(&app, "Kendrix alert", summary, "alerts", enabled);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "alerts not read"),
                }
            } else {
                seen = None;
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    });
}

fn send(app: &AppHandle, title: &str, body: &str, screen: &'static str, enabled: bool) {
    tracing::info!(%title, %body, "notification");
    if !enabled {
        return;
    }
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Kendrix Sync")
        .summary(title)
        .body(body);
    #[cfg(all(unix, not(target_os = "macos")))]
    notification.action("default", "Open");
    match notification.show() {
        #[cfg(all(unix, not(target_os = "macos")))]
        Ok(handle) => {
            // The click arrives on D-Bus; waiting for it blocks, so on a thread of its own.
            let app = app.clone();
            std::thread::spawn(move || {
                handle.wait_for_action(|action| {
                    if action == "default" {
                        crate::open_screen(&app, screen);
                    }
                });
            });
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        Ok(_) => {
            let _ = (app, screen);
        }
        Err(e) => {
            tracing::warn!(error = %e, "no notification service; the message is in the log only")
        }
    }
}

/// Unix milliseconds as `HH:MM` in the PC's time zone (the tray's and notifications' times).
pub fn local_time(at: UnixMillis) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(at) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%H:%M").to_string()
        }
        chrono::LocalResult::None => "--:--".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: SyncState, dead_letters: i64, message: Option<&str>) -> Status {
        Status {
            state,
            all_synced: state == SyncState::Idle && dead_letters == 0,
            dead_letters,
            last_success_at: Some(1),
            message: message.map(str::to_owned),
            ..Status::default()
        }
    }

    fn problem(state: SyncState, problem: Problem, message: &str) -> Status {
        Status {
            problem: Some(problem),
            ..status(state, 0, Some(message))
        }
    }

    fn titles(notifier: &mut Notifier, s: Status) -> Vec<String> {
        notifier
            .notifications_for(&s)
            .into_iter()
            .map(|(t, ..)| t)
            .collect()
    }

    #[test]
    fn routine_syncs_stay_quiet_and_problems_and_recovery_are_told() {
        let mut n = Notifier::default();
        assert!(titles(&mut n, status(SyncState::Idle, 0, None)).is_empty());
        assert!(titles(&mut n, status(SyncState::Syncing, 0, None)).is_empty());
        assert!(
            titles(&mut n, status(SyncState::Idle, 0, None)).is_empty(),
            "a routine sync"
        );
        let mut retrying = problem(SyncState::Offline, Problem::Offline, "retrying in 2 s");
        retrying.progress = Some(kendrix_engine::Progress { sent: 0, total: 10 });
        assert!(
            titles(&mut n, retrying).is_empty(),
            "a retry inside a run is not a failure"
        );
        assert_eq!(
            titles(
                &mut n,
                problem(
                    SyncState::Offline,
                    Problem::Offline,
                    "cannot reach the server"
                )
            ),
            ["Kendrix Sync cannot reach the server"]
        );
        assert_eq!(
            titles(&mut n, status(SyncState::Idle, 0, None)),
            ["Kendrix Sync recovered"]
        );
        assert_eq!(
            titles(
                &mut n,
                problem(
                    SyncState::Error,
                    Problem::Auth,
                    "the server refused this agent's credentials"
                )
            ),
            ["Kendrix Sync: credentials refused"]
        );
        assert!(
            titles(&mut n, problem(SyncState::Error, Problem::Auth, "same")).is_empty(),
            "told once"
        );
        let _ = titles(&mut n, status(SyncState::Idle, 0, None));
        let refused = n.notifications_for(&status(SyncState::Idle, 2, None));
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "Kendrix Sync: records refused");
        assert_eq!(
            refused[0].1,
            "2 records need attention — click to review them."
        );
        assert_eq!(refused[0].2, "attention", "a click opens Needs attention");
    }

    #[test]
    fn the_title_follows_the_kind_of_problem_never_the_words() {
        for (kind, words, title) in [
            (
                Problem::Permission,
                "this agent lacks a permission it needs (403 forbidden)",
                "Kendrix Sync: credentials refused",
            ),
            (
                Problem::Refused,
                "the server refused the request (413): the credentials field is too large",
                "Kendrix Sync needs attention",
            ),
        ] {
            let mut n = Notifier::default();
            let _ = titles(&mut n, status(SyncState::Idle, 0, None));
            assert_eq!(
                titles(&mut n, problem(SyncState::Error, kind, words)),
                [title],
                "{kind:?}"
            );
        }
    }
}
