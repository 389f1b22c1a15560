//! The admin's connection: its own credential (keychain entries apart from the site's, see
//! [`Keychain::for_admin`]), its own token, and only the admin API. The site's
//! [`ServerClient`] has no admin call and this one no sync call, so neither identity's token
//! ever goes with the other's requests.

use std::sync::Arc;
use std::time::Duration;

pub use kendrix_core::admin::SiteSummary;
use kendrix_core::Clock;
use serde::Deserialize;
use serde_json::Value;

use super::{failure_of, short_error, Failure, Identity, Profile, ServerClient};
use crate::keychain::Keychain;

/// One page of `GET /admin/sites`.
#[derive(Deserialize)]
struct SitePage {
    sites: Vec<SiteSummary>,
    next_after: Option<String>,
}

/// The largest page the server gives.
const SITES_PER_PAGE: &str = "500";

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

    /// Every site of the admin's tenant (`GET /admin/sites`, scope `clients:admin`, page by
    /// page), those needing attention first.
    pub async fn sites(&self) -> Result<Vec<SiteSummary>, Failure> {
        let client = &self.inner;
        let mut sites = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut url =
                reqwest::Url::parse(&format!("{}/admin/sites", client.base)).map_err(|e| {
                    Failure::Transient {
                        reason: format!("the server address is not a URL: {e}"),
                        retry_after: None,
                    }
                })?;
            url.query_pairs_mut().append_pair("limit", SITES_PER_PAGE);
            if let Some(after) = &after {
                url.query_pairs_mut().append_pair("after", after);
            }
            let response = client
                .authorized(|token| client.http.get(url.clone()).bearer_auth(token))
                .await?;
            if !response.status().is_success() {
                return Err(failure_of(response, client.wall_time()).await);
            }
            let page: SitePage = response.json().await.map_err(|e| Failure::Transient {
                reason: format!("the list of sites could not be read: {}", short_error(&e)),
                retry_after: None,
            })?;
            sites.extend(page.sites);
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(sites),
            }
        }
    }

    /// The admin credential's names (`GET /whoami`).
    pub async fn whoami(&self) -> Result<Profile, Failure> {
        self.inner.whoami().await
    }

    /// One admin API request (`path_and_query` starts with `/`); the answer's JSON, or
    /// `None` for an empty answer (204). A refusal is the server's problem detail.
    pub async fn request(
        &self,
        method: AdminMethod,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, Failure> {
        let client = &self.inner;
        let url = format!("{}{}", client.base, path_and_query);
        let response = client
            .authorized(|token| {
                let request = client
                    .http
                    .request(method.as_reqwest(), &url)
                    .bearer_auth(token);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(match failure_of(response, client.wall_time()).await {
                // A conflict is the admin's to resolve (a revoked site, a concurrent change), not a retry.
                Failure::Transient { reason, .. } if status == reqwest::StatusCode::CONFLICT => {
                    Failure::Refused {
                        status: 409,
                        detail: reason,
                    }
                }
                other => other,
            });
        }
        let text = response.text().await.map_err(|e| Failure::Transient {
            reason: format!("the answer was cut off: {}", short_error(&e)),
            retry_after: None,
        })?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Failure::Refused {
                status: 200,
                detail: format!("the server's answer is not JSON: {e}"),
            })
    }

    /// Starts a GET whose (possibly large) body the caller reads in chunks.
    pub async fn get_streamed(&self, path_and_query: &str) -> Result<reqwest::Response, Failure> {
        let client = &self.inner;
        let url = format!("{}{}", client.base, path_and_query);
        let response = client
            .authorized(|token| client.http.get(&url).bearer_auth(token))
            .await?;
        if !response.status().is_success() {
            return Err(failure_of(response, client.wall_time()).await);
        }
        Ok(response)
    }
}

/// The HTTP methods the admin console uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AdminMethod {
    Get,
    Post,
    Put,
    Delete,
}

impl AdminMethod {
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            AdminMethod::Get => reqwest::Method::GET,
            AdminMethod::Post => reqwest::Method::POST,
            AdminMethod::Put => reqwest::Method::PUT,
            AdminMethod::Delete => reqwest::Method::DELETE,
        }
    }
}
