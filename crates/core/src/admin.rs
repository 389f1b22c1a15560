//! The admin API's wire types, shared by the server that answers and the agent that asks.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::UnixMillis;

/// One site as an admin sees it (`GET /admin/sites`). Read leniently: a field left out takes
/// its default, and fields a newer server adds are kept in `extra` (and written back).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SiteSummary {
    pub name: String,
    pub client_id: String,
    /// Space-separated scopes, e.g. `sync:write config:read`.
    pub scopes: String,
    /// `active` or `revoked`.
    pub status: String,
    /// `site`, or `admin` for an admin credential (listed on the server's command line only).
    pub role: String,
    pub created_ms: UnixMillis,
    pub revoked_ms: Option<UnixMillis>,
    /// Its last token, batch or heartbeat (`None`: never seen).
    pub last_seen_ms: Option<UnixMillis>,
    /// Its last batch that applied.
    pub last_batch_ms: Option<UnixMillis>,
    pub last_heartbeat_ms: Option<UnixMillis>,
    /// Records received in the last 24 hours, and how many of them were refused.
    pub records_24h: i64,
    pub rejected_24h: i64,
    /// From its latest heartbeat (`None` until it sends one).
    pub queue_depth: Option<i64>,
    pub oldest_pending_ms: Option<UnixMillis>,
    pub dead_letters: Option<i64>,
    pub agent_version: Option<String>,
    /// How often it syncs, in seconds (its heartbeat's, else its configuration's).
    pub interval_secs: i64,
    /// The configuration version it should run (`<global>.<tenant>`).
    pub config_version: String,
    /// Whether it reported running a configuration other than that one.
    pub config_drift: bool,
    /// Plain reasons an admin should look at this site; empty when all is well.
    pub needs_attention: Vec<String>,
    /// Fields this build does not know (from a newer server).
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Map<String, Value>,
}

impl SiteSummary {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_summary_reads_leniently_and_keeps_fields_it_does_not_know() {
        let text = r#"[
            {"name": "Store 99", "client_id": "kxc_1", "scopes": "sync:write config:read",
             "status": "active", "created_ms": 5, "revoked_ms": null, "last_seen_ms": null,
             "queue_depth": null, "needs_attention": ["never synced"], "region": "north"},
            {"name": "Store 7", "client_id": "kxc_2", "queue_depth": 50}
        ]"#;
        let sites: Vec<SiteSummary> = serde_json::from_str(text).unwrap();
        assert_eq!(sites[0].needs_attention, vec!["never synced"]);
        assert_eq!(sites[0].created_ms, 5);
        assert_eq!(sites[0].queue_depth, None);
        assert_eq!(sites[0].extra["region"], "north");
        assert_eq!(sites[1].queue_depth, Some(50));
        assert_eq!(sites[1].status, "", "a field left out takes its default");
        let back = serde_json::to_value(&sites[0]).unwrap();
        assert_eq!(back["region"], "north", "an unknown field is written back");
        assert_eq!(back["queue_depth"], Value::Null);
    }
}
