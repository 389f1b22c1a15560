//! Who a credential is, as the server knows it (`GET /whoami`): the names the desktop app
//! shows ("Connected to Acme Stores · Store 12") instead of client ids.

use serde::{Deserialize, Serialize};

use super::{failure_of, short_error, Failure, ServerClient};

/// A credential's names, as the server answered `GET /whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub client_id: String,
    /// The site's (or admin credential's) name.
    pub name: String,
    pub tenant_name: String,
    /// Space-separated scopes the credential holds.
    #[serde(default)]
    pub scopes: String,
}

impl ServerClient {
    /// The server's view of this credential (a token, then `GET /whoami`).
    pub async fn whoami(&self) -> Result<Profile, Failure> {
        let url = format!("{}/whoami", self.base);
        let response = self
            .authorized(|token| self.http.get(&url).bearer_auth(token))
            .await?;
        if !response.status().is_success() {
            return Err(failure_of(response, self.wall_time()).await);
        }
        response.json().await.map_err(|e| Failure::Transient {
            reason: format!(
                "the server's answer to /whoami could not be read: {}",
                short_error(&e)
            ),
            retry_after: None,
        })
    }
}
