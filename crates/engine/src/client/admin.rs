//! The admin's connection: its own credential (keychain entries apart from the site's, see
//! [`Keychain::for_admin`]), its own token, and only the admin API. The site's
//! [`ServerClient`] has no admin call and this one no sync call, so neither identity's token
//! ever goes with the other's requests.

use std::sync::Arc;
use std::time::Duration;

use kendrix_core::{Clock, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{failure_of, short_error, Failure, Identity, ServerClient};
use crate::keychain::Keychain;

/// One site as `GET /admin/sites` describes it. Read leniently: a field the server leaves out
/// takes its default, and fields this agent does not know are kept in `extra` (and printed
/// back by `kendrix admin sites --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteSummary {
    pub name: String,
    pub client_id: String,
    /// Space-separated scopes, e.g. `sync:write config:read`.
    pub scopes: String,
    /// `active` or `revoked`.
    pub status: String,
    pub created_ms: UnixMillis,
    pub revoked_ms: Option<UnixMillis>,
    /// The last request of the site (`None`: never seen).
    pub last_seen_ms: Option<UnixMillis>,
    pub last_batch_ms: Option<UnixMillis>,
    pub records_24h: i64,
    pub rejected_24h: i64,
    /// From the site's last heartbeat (`None`: it never sent one).
    pub queue_depth: Option<i64>,
    pub oldest_pending_ms: Option<UnixMillis>,
    pub dead_letters: Option<i64>,
    pub agent_version: Option<String>,
    pub config_version: Option<String>,
    pub config_drift: bool,
    /// Why the site needs a person, in the server's words (empty: it does not).
    pub needs_attention: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
struct SiteList {
    sites: Vec<SiteSummary>,
}

/// The admin credential's connection to its server.
pub struct AdminClient {
    inner: ServerClient,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base", &self.inner.base)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// A client of `base` as the admin `client_id` (its secret in the admin's keychain
    /// entries).
    pub fn new(base: &str, client_id: &str, timeout: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: ServerClient::with_identity(base, client_id, Identity::Admin, timeout, clock),
        }
    }

    pub fn server(&self) -> &str {
        self.inner.server()
    }

    pub fn client_id(&self) -> &str {
        self.inner.client_id()
    }

    pub fn keychain(&self) -> &Keychain {
        self.inner.keychain()
    }

    /// Every site of the admin's tenant (`GET /admin/sites`, scope `clients:admin`), those
    /// needing attention first.
    pub async fn sites(&self) -> Result<Vec<SiteSummary>, Failure> {
        let client = &self.inner;
        let url = format!("{}/admin/sites", client.base);
        let response = client
            .authorized(|token| client.http.get(&url).bearer_auth(token))
            .await?;
        if !response.status().is_success() {
            return Err(failure_of(response, client.wall_time()).await);
        }
        let list: SiteList = response.json().await.map_err(|e| Failure::Transient {
            reason: format!("the list of sites could not be read: {}", short_error(&e)),
            retry_after: None,
        })?;
        Ok(list.sites)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_summary_reads_leniently_and_keeps_fields_it_does_not_know() {
        let text = r#"{"sites": [
            {"name": "Store 99", "client_id": "kxc_1", "scopes": "sync:write config:read",
             "status": "active", "created_ms": 5, "revoked_ms": null, "last_seen_ms": null,
             "last_batch_ms": null, "records_24h": 0, "rejected_24h": 0, "queue_depth": null,
             "oldest_pending_ms": null, "dead_letters": null, "agent_version": null,
             "config_version": null, "config_drift": false, "needs_attention": ["never synced"],
             "region": "north"},
            {"name": "Store 7", "client_id": "kxc_2", "queue_depth": 50}
        ]}"#;
        let list: SiteList = serde_json::from_str(text).unwrap();
        assert_eq!(list.sites[0].needs_attention, vec!["never synced"]);
        assert_eq!(list.sites[0].created_ms, 5);
        assert_eq!(list.sites[0].queue_depth, None);
        assert_eq!(list.sites[0].extra["region"], "north");
        assert_eq!(list.sites[1].queue_depth, Some(50));
        assert_eq!(
            list.sites[1].status, "",
            "a field left out takes its default"
        );
        let back = serde_json::to_value(&list.sites[0]).unwrap();
        assert_eq!(back["region"], "north", "an unknown field is printed back");
        assert_eq!(back["queue_depth"], Value::Null);
    }
}
