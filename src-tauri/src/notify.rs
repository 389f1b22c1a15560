//! Desktop notifications: on failure, on recovery, on authentication problems and on
//! rejected records — never on a routine successful sync. Where the desktop has no
//! notification service, the message goes to the log and the app carries on.

use kendrix_core::UnixMillis;
use kendrix_engine::{Status, SyncState};

/// Remembers what was last seen, to notify on changes only.
#[derive(Debug, Default)]
pub struct Notifier {
    last: Option<(SyncState, i64, Option<String>)>,
}

impl Notifier {
    pub fn observe(&mut self, status: &Status, enabled: bool) {
        let now = (status.state, status.dead_letters, status.message.clone());
        let previous = self.last.replace(now);
        let Some((was, dead_before, _)) = previous else {
            return;
        };
        let message = match (was, status.state) {
            (SyncState::Error | SyncState::Offline, SyncState::Idle) => Some((
                "Kendrix Sync recovered".to_owned(),
                "Syncing works again.".to_owned(),
            )),
            (w, SyncState::Error) if w != SyncState::Error => Some((
                if is_auth_problem(status) {
                    "Kendrix Sync: credentials refused".to_owned()
                } else {
                    "Kendrix Sync needs attention".to_owned()
                },
                status.message.clone().unwrap_or_default(),
            )),
            (w, SyncState::Offline) if w != SyncState::Offline && w != SyncState::Syncing => {
                Some((
                    "Kendrix Sync cannot reach the server".to_owned(),
                    status.message.clone().unwrap_or_default(),
                ))
            }
            _ => None,
        };
        let rejected = (status.dead_letters > dead_before).then(|| {
            (
                "Kendrix Sync: records refused".to_owned(),
                format!(
                    "{} record(s) wait in Dead letters to be fixed or resent.",
                    status.dead_letters
                ),
            )
        });
        for (title, body) in message.into_iter().chain(rejected) {
            send(&title, &body, enabled);
        }
    }
}

fn is_auth_problem(status: &Status) -> bool {
    status.message.as_deref().is_some_and(|m| {
        m.contains("credentials") || m.contains("enrollment") || m.contains("permission")
    })
}

fn send(title: &str, body: &str, enabled: bool) {
    tracing::info!(%title, %body, "notification");
    if !enabled {
        return;
    }
    if let Err(e) = notify_rust::Notification::new()
        .appname("Kendrix Sync")
        .summary(title)
        .body(body)
        .show()
    {
        tracing::warn!(error = %e, "no notification service; the message is in the log only");
    }
}

/// Unix milliseconds as `HH:MM` UTC for tooltips (short, and no time-zone database needed).
pub fn local_time(at: UnixMillis) -> String {
    let secs = at.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}
