//! Coalescing of repeated refusals in the audit log. A refusal of a valid identity (an
//! under-scoped token, a token request asking for too much) is not a failed login, so the
//! login throttle does not stop it; without this, one site token could grow the chain without
//! bound. The first refusal of a kind in a window is audited as it happens; the rest of that
//! window are counted here and written as one entry with their count (`repeated`) when the
//! window closes. Per instance, in memory, and bounded: beyond [`MAX_KINDS`] kinds in a window
//! the others are counted together.

use std::collections::HashMap;
use std::sync::Mutex;

use kendrix_core::{AuditDraft, AuditEvent, AuditOutcome, UnixMillis};
use serde_json::{json, Value};

/// The coalescing window.
pub const WINDOW_MS: i64 = 60_000;
/// Most kinds of refusal tracked in one window.
const MAX_KINDS: usize = 10_000;

#[derive(Debug, Default)]
pub struct Refusals {
    state: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    kinds: HashMap<String, Seen>,
    /// Refusals beyond `MAX_KINDS`, per window start.
    overflow: HashMap<UnixMillis, u64>,
}

#[derive(Debug)]
struct Seen {
    window_start: UnixMillis,
    /// Refusals after the first in this window: not yet audited.
    repeats: u64,
    /// The first one's entry, the template of the summary.
    first: AuditDraft,
}

impl Refusals {
    /// Whether `draft` is to be audited now: true for the first refusal of its kind (event,
    /// tenant, client, source and details) in the current window; otherwise it is counted.
    pub fn first_in_window(&self, draft: &AuditDraft, now: UnixMillis) -> bool {
        let window_start = now - now.rem_euclid(WINDOW_MS);
        let kind = kind_of(draft);
        let mut state = self.state.lock().expect("refusals lock");
        let tracked = state.kinds.len();
        match state.kinds.get_mut(&kind) {
            Some(seen) if seen.window_start == window_start => {
                seen.repeats += 1;
                false
            }
            // Its window closed and was not drained yet: the summary waits for the drain.
            Some(_) => true,
            None if tracked < MAX_KINDS => {
                state.kinds.insert(
                    kind,
                    Seen {
                        window_start,
                        repeats: 0,
                        first: draft.clone(),
                    },
                );
                true
            }
            None => {
                *state.overflow.entry(window_start).or_default() += 1;
                false
            }
        }
    }

    /// The summary entries of every window closed by `now`, and forgets those windows.
    pub fn drain_closed(&self, now: UnixMillis) -> Vec<AuditDraft> {
        let current = now - now.rem_euclid(WINDOW_MS);
        let mut state = self.state.lock().expect("refusals lock");
        let mut summaries = Vec::new();
        state.kinds.retain(|_, seen| {
            if seen.window_start >= current {
                return true;
            }
            if seen.repeats > 0 {
                summaries.push(summary(seen, now));
            }
            false
        });
        state.overflow.retain(|&start, count| {
            if start >= current {
                return true;
            }
            summaries.push(AuditDraft {
                at: now,
                tenant_id: None,
                client_id: None,
                request_id: None,
                source: Some("server".into()),
                event: AuditEvent::RateLimited,
                outcome: AuditOutcome::Failure,
                details: json!({
                    "reason": "more kinds of refusal than one window tracks; counted together",
                    "repeated": *count,
                    "window_start_ms": start,
                    "window_secs": WINDOW_MS / 1000,
                }),
            });
            false
        });
        summaries
    }
}

fn kind_of(draft: &AuditDraft) -> String {
    json!([
        draft.event.as_str(),
        draft.tenant_id,
        draft.client_id,
        draft.source,
        draft.details
    ])
    .to_string()
}

/// One entry for the refusals after the first in a window: the first's details with the
/// count and the window they fell in.
fn summary(seen: &Seen, now: UnixMillis) -> AuditDraft {
    let mut details = match &seen.first.details {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = serde_json::Map::new();
            map.insert("details".into(), other.clone());
            map
        }
    };
    details.insert("repeated".into(), json!(seen.repeats));
    details.insert("window_start_ms".into(), json!(seen.window_start));
    details.insert("window_secs".into(), json!(WINDOW_MS / 1000));
    AuditDraft {
        at: now,
        request_id: None,
        details: Value::Object(details),
        ..seen.first.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kendrix_core::audit::AuditContext;

    fn refusal(client: &str) -> AuditDraft {
        AuditContext {
            request_id: Some("r1".into()),
            source: Some("10.0.0.1".into()),
        }
        .draft(
            0,
            AuditEvent::BearerRejected,
            AuditOutcome::Failure,
            json!({"reason": "insufficient scope"}),
        )
        .client(client.to_owned())
    }

    #[test]
    fn the_first_of_a_kind_is_audited_and_the_rest_become_one_entry_with_their_count() {
        let refusals = Refusals::default();
        let t0 = 10 * WINDOW_MS + 5;
        assert!(refusals.first_in_window(&refusal("a"), t0));
        for i in 0..999 {
            assert!(!refusals.first_in_window(&refusal("a"), t0 + i));
        }
        assert!(refusals.first_in_window(&refusal("b"), t0), "another kind");
        assert!(refusals.drain_closed(t0 + 1000).is_empty(), "window open");
        let summaries = refusals.drain_closed(t0 + WINDOW_MS);
        assert_eq!(summaries.len(), 1, "b had no repeats");
        assert_eq!(summaries[0].details["repeated"], 999);
        assert_eq!(summaries[0].details["reason"], "insufficient scope");
        assert_eq!(summaries[0].client_id.as_deref(), Some("a"));
        assert!(refusals.first_in_window(&refusal("a"), t0 + WINDOW_MS));
    }

    #[test]
    fn kinds_beyond_the_bound_are_counted_together() {
        let refusals = Refusals::default();
        for i in 0..(MAX_KINDS + 5) {
            let _ = refusals.first_in_window(&refusal(&format!("c{i}")), 0);
        }
        let summaries = refusals.drain_closed(WINDOW_MS);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].details["repeated"], 5);
    }
}
