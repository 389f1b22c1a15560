//! Desktop notifications: on failure, on recovery, on authentication problems and on
//! rejected records — never on a routine successful sync. Where the desktop has no
//! notification service, the message goes to the log and the app carries on.

use kendrix_core::UnixMillis;
use kendrix_engine::{Problem, Status, SyncState};

/// Remembers what was told, to notify on changes only.
#[derive(Debug, Default)]
pub struct Notifier {
    seen: bool,
    /// The problem staff were told about and that has not cleared yet.
    told: Option<SyncState>,
    dead_letters: i64,
}

impl Notifier {
    /// Notes a status and shows what it calls for.
    pub fn observe(&mut self, status: &Status, enabled: bool) {
        for (title, body) in self.notifications_for(status) {
            send(&title, &body, enabled);
        }
    }

    /// The notifications (title, body) a new status calls for.
    fn notifications_for(&mut self, status: &Status) -> Vec<(String, String)> {
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
                let title = if is_auth_problem(status) {
                    "Kendrix Sync: credentials refused"
                } else {
                    "Kendrix Sync needs attention"
                };
                out.push((title.to_owned(), message()));
                self.told = Some(SyncState::Error);
            }
            SyncState::Offline if run_over && self.told.is_none() => {
                out.push(("Kendrix Sync cannot reach the server".to_owned(), message()));
                self.told = Some(SyncState::Offline);
            }
            SyncState::Idle | SyncState::Paused if self.told.is_some() => {
                out.push((
                    "Kendrix Sync recovered".to_owned(),
                    "Syncing works again.".to_owned(),
                ));
                self.told = None;
            }
            _ => {}
        }
        if status.dead_letters > self.dead_letters {
            out.push((
                "Kendrix Sync: records refused".to_owned(),
                format!(
                    "{} record(s) wait in Dead letters to be fixed or resent.",
                    status.dead_letters
                ),
            ));
        }
        self.dead_letters = status.dead_letters;
        out
    }
}

fn is_auth_problem(status: &Status) -> bool {
    matches!(status.problem, Some(Problem::Auth | Problem::Permission))
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
            .map(|(t, _)| t)
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
        assert_eq!(
            titles(&mut n, status(SyncState::Idle, 2, None)),
            ["Kendrix Sync: records refused"]
        );
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
