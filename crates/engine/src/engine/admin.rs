//! The admin identity, kept apart from the site's enrollment: keychain entries of its own
//! (`Keychain::for_admin`), its own record in the agent state (`AgentState::admin`), its own
//! client ([`AdminClient`], which has admin calls only). Enrolling or signing out the admin
//! never touches the site enrollment, its secret or the outbox, and enrolling the site never
//! touches the admin's.

use std::path::Path;
use std::sync::Arc;

use kendrix_core::enrollment::Enrollment;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::enrollment::SecretTrial;
use super::Engine;
use crate::client::{AdminClient, AdminMethod, Failure, Profile, SiteSummary};
use crate::keychain::Keychain;
use crate::local_store::Names;
use crate::status::Enrolled;
use crate::{EngineError, EngineResult};

/// The result of enrolling the admin credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEnrollReport {
    pub server: String,
    pub client_id: String,
    /// How many sites the credential sees (`None`: the server could not be reached; the
    /// credential is checked at its first use).
    pub sites: Option<usize>,
    pub note: Option<String>,
}

impl Engine {
    /// Enrolls an admin credential (one with the `clients:admin` scope) beside the site's
    /// enrollment: its secret goes to keychain entries of its own, it is checked against the
    /// server (a token, then `GET /admin/sites`), and its server and client id are
    /// remembered. A credential the server refuses, or one without `clients:admin`, is not
    /// kept; a previous admin credential of another client is forgotten.
    /// The server URL is checked first, as for the site's enrollment.
    pub async fn admin_enroll(&self, enrollment: &Enrollment) -> EngineResult<AdminEnrollReport> {
        let enrollment = &enrollment.clone().checked()?;
        let keychain = Keychain::for_admin(&enrollment.server, &enrollment.client_id);
        let trial = SecretTrial::begin(keychain, &enrollment.client_secret).await?;
        let client = Arc::new(self.admin_client_for(&enrollment.server, &enrollment.client_id));
        let (sites, note) = match client.sites().await {
            Ok(sites) => (Some(sites.len()), None),
            Err(other @ Failure::Transient { .. }) => (
                None,
                Some(format!(
                    "the server could not be checked now ({other}); the credential is checked at its first use"
                )),
            ),
            Err(failure @ Failure::Keychain(_)) => {
                return Err(EngineError::AdminEnrollment(failure))
            }
            Err(refused) => {
                trial.undo().await?;
                return Err(admin_error(client.server(), refused, true));
            }
        };
        let previous = self.store.agent_state().await?.admin;
        if let Some(previous) = previous {
            if previous.client_id != enrollment.client_id || previous.server != client.server() {
                Keychain::for_admin(&previous.server, &previous.client_id)
                    .forget_all()
                    .await?;
            }
        }
        self.store
            .update_state(|s| {
                s.admin = Some(Enrolled {
                    server: client.server().to_owned(),
                    client_id: enrollment.client_id.clone(),
                });
                s.admin_names = None;
            })
            .await?;
        let report = AdminEnrollReport {
            server: client.server().to_owned(),
            client_id: enrollment.client_id.clone(),
            sites,
            note,
        };
        *self.admin.write().expect("admin lock") = Some(client);
        Ok(report)
    }

    /// Forgets the admin credential: its keychain entries and its record. The site
    /// enrollment, its secret and the outbox stay. Returns who was signed out (`None`: no
    /// admin credential was kept).
    pub async fn admin_sign_out(&self) -> EngineResult<Option<Enrolled>> {
        let admin = self.store.agent_state().await?.admin;
        if let Some(admin) = &admin {
            Keychain::for_admin(&admin.server, &admin.client_id)
                .forget_all()
                .await?;
            self.store
                .update_state(|s| {
                    s.admin = None;
                    s.admin_names = None;
                })
                .await?;
        }
        *self.admin.write().expect("admin lock") = None;
        Ok(admin)
    }

    /// The admin credential kept on this PC (its server and client id), if any.
    pub async fn admin_identity(&self) -> EngineResult<Option<Enrolled>> {
        Ok(self.store.agent_state().await?.admin)
    }

    /// The sites of the admin's tenant as the server sees them (those needing attention
    /// first), read with the admin credential.
    pub async fn admin_sites(&self) -> EngineResult<Vec<SiteSummary>> {
        let client = self.current_admin_client().await?;
        client
            .sites()
            .await
            .map_err(|failure| admin_error(client.server(), failure, false))
    }

    /// The admin credential's names as the server knows them; remembered for
    /// [`AgentState::admin_names`](crate::AgentState).
    pub async fn admin_profile(&self) -> EngineResult<Profile> {
        let client = self.current_admin_client().await?;
        let profile = client
            .whoami()
            .await
            .map_err(|failure| admin_error(client.server(), failure, false))?;
        self.remember_names(true, &profile).await?;
        Ok(profile)
    }

    /// One request of the admin console with the admin credential: only the admin API's
    /// paths go out ([`ADMIN_PATHS`]), so the webview cannot borrow the credential for
    /// anything else. Answers the parsed JSON (`None`: an empty answer).
    pub async fn admin_request(
        &self,
        method: AdminMethod,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> EngineResult<Option<Value>> {
        check_admin_path(path_and_query)?;
        let client = self.current_admin_client().await?;
        client
            .request(method, path_and_query, body)
            .await
            .map_err(EngineError::Server)
    }

    /// Streams an admin GET (an audit export) into `dest`: written to a temporary file
    /// beside it and renamed when complete, so a failed download never leaves half a file
    /// under the chosen name. `progress` hears the bytes written so far. Returns the size.
    pub async fn admin_download(
        &self,
        path_and_query: &str,
        dest: &Path,
        progress: impl Fn(u64),
    ) -> EngineResult<u64> {
        check_admin_path(path_and_query)?;
        let client = self.current_admin_client().await?;
        let mut response = client
            .get_streamed(path_and_query)
            .await
            .map_err(EngineError::Server)?;
        let partial = dest.with_extension("part");
        let local = |source| EngineError::File {
            path: dest.to_owned(),
            source,
        };
        // An audit export is the tenant's evidence: its owner's alone.
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&partial).await.map_err(local)?;
        let mut written = 0u64;
        let outcome: EngineResult<()> = async {
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                EngineError::Server(Failure::Transient {
                    reason: format!("the download was cut off: {e}"),
                    retry_after: None,
                })
            })? {
                file.write_all(&chunk).await.map_err(local)?;
                written += chunk.len() as u64;
                progress(written);
            }
            file.flush().await.map_err(local)?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = outcome {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, dest).await.map_err(local)?;
        Ok(written)
    }

    /// The site's names as the server knows them (`GET /whoami` with the site's
    /// credential); remembered for [`AgentState::site_names`](crate::AgentState).
    pub async fn site_profile(&self) -> EngineResult<Profile> {
        let profile = self.current_client().await?.whoami().await?;
        self.remember_names(false, &profile).await?;
        Ok(profile)
    }

    async fn remember_names(&self, admin: bool, profile: &Profile) -> EngineResult<()> {
        let names = Names {
            name: profile.name.clone(),
            tenant: profile.tenant_name.clone(),
        };
        self.store
            .update_state(|s| {
                let slot = if admin {
                    &mut s.admin_names
                } else {
                    &mut s.site_names
                };
                *slot = Some(names);
            })
            .await?;
        Ok(())
    }

    /// The admin client of the credential in the database: another process may have
    /// enrolled or signed out the admin meanwhile.
    async fn current_admin_client(&self) -> EngineResult<Arc<AdminClient>> {
        let Some(admin) = self.store.agent_state().await?.admin else {
            *self.admin.write().expect("admin lock") = None;
            return Err(EngineError::NoAdmin);
        };
        let current = self.admin.read().expect("admin lock").clone();
        match current {
            Some(current)
                if current.server() == admin.server && current.client_id() == admin.client_id =>
            {
                Ok(current)
            }
            _ => {
                let fresh = Arc::new(self.admin_client_for(&admin.server, &admin.client_id));
                *self.admin.write().expect("admin lock") = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }

    fn admin_client_for(&self, server: &str, client_id: &str) -> AdminClient {
        AdminClient::new(
            server,
            client_id,
            self.settings().request_timeout,
            self.clock.clone(),
        )
    }
}

/// An admin call's failure in the engine's terms: a 403 is a credential without
/// `clients:admin`, a 404 a server without the admin API.
fn admin_error(server: &str, failure: Failure, enrolling: bool) -> EngineError {
    match failure {
        Failure::Forbidden(detail) => EngineError::NotAdmin(detail),
        Failure::Refused { status: 404, .. } => EngineError::NoAdminApi {
            server: server.to_owned(),
        },
        other if enrolling => EngineError::AdminEnrollment(other),
        other => EngineError::Server(other),
    }
}

/// The paths the admin console may call with the admin credential.
pub const ADMIN_PATHS: [&str; 8] = [
    "/admin/",
    "/alerts",
    "/config",
    "/audit/",
    "/sync/stats",
    "/auth/stats",
    "/stats/",
    "/whoami",
];

fn check_admin_path(path_and_query: &str) -> EngineResult<()> {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let allowed = ADMIN_PATHS.iter().any(|p| {
        path.strip_prefix(p.trim_end_matches('/'))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || p.ends_with('/'))
    });
    if !allowed || path.contains("..") || path.contains("//") {
        return Err(EngineError::NotAdminPath(path.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_admin_path;

    #[test]
    fn only_the_admin_apis_paths_go_out_with_the_admin_credential() {
        for ok in [
            "/admin/sites",
            "/admin/sites/kxc_1/revoke",
            "/config/versions/3",
            "/config?format=ini",
            "/config/entries?dry_run=true",
            "/audit/logs?limit=5",
            "/stats/series?window=24h",
            "/whoami",
        ] {
            assert!(check_admin_path(ok).is_ok(), "{ok}");
        }
        for refused in [
            "/sync/batches",
            "/oauth/token",
            "/configx",
            "/admin/../oauth/token",
            "http://elsewhere/admin/sites",
            "//elsewhere/admin",
            "/metrics",
        ] {
            assert!(check_admin_path(refused).is_err(), "{refused}");
        }
    }
}
