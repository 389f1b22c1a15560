//! Enrollment: the secret to the OS keychain, the credentials checked against the server,
//! the server and client id remembered; and the client of the enrollment in force.

use std::sync::Arc;

use kendrix_core::enrollment::Enrollment;

use super::Engine;
use crate::client::{Failure, ServerClient};
use crate::keychain::{Keychain, KeychainError};
use crate::status::Enrolled;
use crate::{EngineError, EngineResult};

/// The result of enrolling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollReport {
    pub server: String,
    pub client_id: String,
    /// Whether the server accepted the credentials just now (false: it could not be
    /// reached; they are checked at the first sync).
    pub verified: bool,
    pub note: Option<String>,
}

/// A secret put in the keychain to be checked against the server, and what was there before
/// it: a refused secret is taken out again, and a secret it was to replace (a rotation of the
/// same client) is put back, so a mistyped string never costs the working credential.
pub(super) struct SecretTrial {
    keychain: Keychain,
    replaced: Option<String>,
}

impl SecretTrial {
    pub(super) async fn begin(keychain: Keychain, secret: &str) -> Result<Self, KeychainError> {
        let replaced = keychain.secret().await?.filter(|s| s != secret);
        keychain.store_secret(secret).await?;
        keychain.forget_token().await?;
        Ok(Self { keychain, replaced })
    }

    /// The server refused the secret: the keychain holds what it held before.
    pub(super) async fn undo(self) -> Result<(), KeychainError> {
        match self.replaced {
            Some(secret) => self.keychain.store_secret(&secret).await,
            None => self.keychain.forget_all().await,
        }
    }
}

impl Engine {
    /// The client of the enrollment in the database: another process (`kendrix enroll`
    /// while the daemon runs) may have enrolled this agent anew.
    pub(super) async fn current_client(&self) -> EngineResult<Arc<ServerClient>> {
        let enrolled = self.store.agent_state().await?.enrolled;
        let current = self.client.read().expect("client lock").clone();
        match (enrolled, current) {
            (Some(enrolled), Some(current))
                if current.server() == enrolled.server
                    && current.client_id() == enrolled.client_id =>
            {
                Ok(current)
            }
            (Some(enrolled), _) => {
                let fresh = self.client_for(&enrolled.server, &enrolled.client_id);
                *self.client.write().expect("client lock") = Some(fresh.clone());
                Ok(fresh)
            }
            (None, _) => Err(EngineError::NotEnrolled),
        }
    }

    fn client_for(&self, server: &str, client_id: &str) -> Arc<ServerClient> {
        Arc::new(ServerClient::new(
            server,
            client_id,
            self.settings().request_timeout,
            self.clock.clone(),
        ))
    }

    /// Whether this account's keychain holds the site's secret: `Ok(false)` when the agent
    /// is enrolled but the secret is missing (enrolled under another account, or the entry
    /// was removed), `Err` when the keychain cannot be used at all. Not enrolled: `Ok(true)`
    /// (there is nothing to read yet).
    pub async fn secret_readable(&self) -> EngineResult<bool> {
        let client = self.client.read().expect("client lock").clone();
        match client {
            Some(client) => Ok(client.keychain().secret().await?.is_some()),
            None => Ok(true),
        }
    }

    /// Enrolls this agent: the secret goes to the OS keychain (nothing is stored if that
    /// fails), the credentials are checked against the server when it answers, and the
    /// server URL and client id are remembered. The outbox and the dead letters stay as they
    /// are (a new secret for the same client is a rotation), and so does the admin
    /// credential.
    ///
    /// The server URL is checked first (no `http://` but to this machine) and kept without
    /// trailing slashes: nothing is sent or kept for an enrollment that fails the check.
    pub async fn enroll(&self, enrollment: &Enrollment) -> EngineResult<EnrollReport> {
        let enrollment = &enrollment.clone().checked()?;
        let keychain = Keychain::for_client(&enrollment.server, &enrollment.client_id);
        let trial = SecretTrial::begin(keychain, &enrollment.client_secret).await?;
        let client = self.client_for(&enrollment.server, &enrollment.client_id);
        let (verified, note) = match client.fetch_config(None).await {
            Ok(config) => {
                if let Some(config) = config {
                    self.apply_config(&client, &config).await?;
                }
                (true, None)
            }
            Err(failure @ (Failure::Auth(_) | Failure::Forbidden(_))) => {
                trial.undo().await?;
                return Err(EngineError::Enrollment(failure));
            }
            Err(failure @ Failure::Keychain(_)) => return Err(EngineError::Enrollment(failure)),
            Err(failure @ Failure::Refused { status: 404, .. }) => {
                trial.undo().await?;
                return Err(EngineError::NotAServer {
                    server: enrollment.server.clone(),
                    failure,
                });
            }
            Err(other) => (
                false,
                Some(format!(
                    "the server could not be checked now ({other}); the credentials are checked at the first sync"
                )),
            ),
        };
        let previous = self.client.read().expect("client lock").clone();
        if let Some(previous) = previous {
            if previous.client_id() != enrollment.client_id || previous.server() != client.server()
            {
                previous.keychain().forget_all().await?;
            }
        }
        self.store
            .update_state(|s| {
                s.enrolled = Some(Enrolled {
                    server: client.server().to_owned(),
                    client_id: enrollment.client_id.clone(),
                });
                s.site_names = None;
                s.last_outcome = None;
                s.last_problem = None;
                s.last_message = None;
            })
            .await?;
        let report = EnrollReport {
            server: client.server().to_owned(),
            client_id: enrollment.client_id.clone(),
            verified,
            note,
        };
        *self.client.write().expect("client lock") = Some(client);
        self.publish().await?;
        Ok(report)
    }
}
