//! The admin's connection: its own credential (keychain entries apart from the site's, see
//! [`Keychain::for_admin`]), its own token, and only the admin API. The site's
//! [`ServerClient`] has no admin call and this one no sync call, so neither identity's token
//! ever goes with the other's requests.

use std::sync::Arc;
use std::time::Duration;

pub use kendrix_core::admin::SiteSummary;
use kendrix_core::Clock;
use serde::Deserialize;

use super::{failure_of, short_error, Failure, Identity, ServerClient};
use crate::keychain::Keychain;

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
