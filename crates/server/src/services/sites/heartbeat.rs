//! Heartbeats: after each run, and while idle, a site says how its queue stands, so an admin
//! sees "queue 0, all synced" without asking the site.

use kendrix_core::UnixMillis;
use kendrix_store::{NewHeartbeat, SiteRun};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{SiteError, Sites};
use crate::services::authorizer::Caller;
use crate::services::Within;

const MAX_VERSION_CHARS: usize = 64;
const MAX_MESSAGE_CHARS: usize = 500;
/// The outcomes the agent names its runs with.
const OUTCOMES: [&str; 5] = ["synced", "partial", "offline", "auth", "error"];

/// What a site reports (`POST /sync/heartbeat`). Unknown fields are ignored, so newer agents
/// can say more.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Heartbeat {
    /// The agent's version, e.g. `0.2.0`.
    pub agent_version: String,
    /// Records waiting to be sent (dead letters not included).
    pub queue_depth: i64,
    /// When the oldest of them was queued (Unix ms); `null` with an empty queue.
    pub oldest_pending_ms: Option<UnixMillis>,
    /// Records the server refused, kept on the site.
    pub dead_letters: i64,
    /// The content hash of the configuration it runs (the ETag of `GET /config`).
    pub config_hash: Option<String>,
    /// How often it syncs, in seconds.
    pub interval_secs: Option<i64>,
    /// Its latest run.
    pub last_run: Option<ReportedRun>,
}

/// A run as the agent reports it, and as its site's page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportedRun {
    pub started_ms: UnixMillis,
    pub finished_ms: UnixMillis,
    /// `synced`, `partial`, `offline`, `auth` or `error`.
    pub outcome: String,
    pub sent: i64,
    pub applied: i64,
    pub refused: i64,
    /// The run's plain message, up to 500 characters.
    pub message: Option<String>,
}

impl Heartbeat {
    /// The heartbeat as stored, or why it cannot be (naming the field).
    fn checked(self, site: &Caller, now: UnixMillis) -> Result<NewHeartbeat, SiteError> {
        let invalid = |why: String| Err(SiteError::Invalid(why));
        let version = self.agent_version.trim();
        if version.is_empty()
            || version.chars().count() > MAX_VERSION_CHARS
            || version.chars().any(char::is_control)
        {
            return invalid(format!(
                "agent_version must be 1 to {MAX_VERSION_CHARS} characters without control characters"
            ));
        }
        for (field, value) in [
            ("queue_depth", self.queue_depth),
            ("dead_letters", self.dead_letters),
        ] {
            if value < 0 {
                return invalid(format!("{field} must not be negative"));
            }
        }
        if let Some(secs) = self.interval_secs {
            if !(1..=86_400).contains(&secs) {
                return invalid("interval_secs must be 1 to 86400".into());
            }
        }
        let config_hash = match self.config_hash {
            None => None,
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(h.to_ascii_lowercase())
            }
            Some(_) => {
                return invalid("config_hash must be the 64-hex-digit ETag of GET /config".into())
            }
        };
        let last_run = match self.last_run {
            None => None,
            Some(run) => {
                if !OUTCOMES.contains(&run.outcome.as_str()) {
                    return invalid(format!(
                        "last_run.outcome must be one of: {}",
                        OUTCOMES.join(", ")
                    ));
                }
                if [run.sent, run.applied, run.refused].iter().any(|n| *n < 0) {
                    return invalid("last_run counts must not be negative".into());
                }
                if run.finished_ms < run.started_ms {
                    return invalid("last_run.finished_ms is before its started_ms".into());
                }
                // Shown to admins: line breaks and tabs are fine, a NUL (which PostgreSQL
                // cannot store) or another control character is not.
                if run.message.as_ref().is_some_and(|m| {
                    m.chars().count() > MAX_MESSAGE_CHARS
                        || m.chars()
                            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                }) {
                    return invalid(format!(
                        "last_run.message must be at most {MAX_MESSAGE_CHARS} characters, without control characters other than line breaks and tabs"
                    ));
                }
                Some(SiteRun {
                    started_at: run.started_ms,
                    finished_at: run.finished_ms,
                    outcome: run.outcome,
                    sent: run.sent,
                    applied: run.applied,
                    refused: run.refused,
                    message: run.message,
                })
            }
        };
        Ok(NewHeartbeat {
            client_pk: site.client_pk,
            tenant_id: site.tenant_id,
            received_at: now,
            agent_version: version.to_owned(),
            queue_depth: self.queue_depth,
            // An empty queue has no oldest record, whatever was sent.
            oldest_pending_at: self.oldest_pending_ms.filter(|_| self.queue_depth > 0),
            dead_letters: self.dead_letters,
            config_hash,
            interval_secs: self.interval_secs,
            last_run,
        })
    }
}

impl Sites {
    /// Stores a site's heartbeat (not audited: it changes nothing but what admins see).
    pub async fn record_heartbeat(
        &self,
        site: &Caller,
        heartbeat: Heartbeat,
    ) -> Result<(), SiteError> {
        let beat = heartbeat.checked(site, self.clock.now_ms())?;
        self.store.record_heartbeat(&beat).await.within(&site.ctx)?;
        Ok(())
    }
}

impl From<SiteRun> for ReportedRun {
    fn from(run: SiteRun) -> Self {
        Self {
            started_ms: run.started_at,
            finished_ms: run.finished_at,
            outcome: run.outcome,
            sent: run.sent,
            applied: run.applied,
            refused: run.refused,
            message: run.message,
        }
    }
}
