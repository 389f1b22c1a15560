//! The OS keychain (Secret Service on Linux, Credential Manager on Windows, Keychain on
//! macOS) through `keyring`: the only place the client secret and the current access token
//! are kept. There is deliberately no fallback: if the keychain cannot be used, the agent
//! says so and stores nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use kendrix_core::UnixMillis;

const SERVICE: &str = "kendrix-sync";

/// Why the keychain could not be used, in words staff can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeychainError {
    #[error("the OS keychain is unavailable ({0}); Kendrix keeps secrets only there, never in a file — start or unlock the keychain (on Linux: a Secret Service such as gnome-keyring in a desktop session) and try again")]
    Unavailable(String),
}

/// An access token and when it stops working.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredToken {
    pub access_token: String,
    pub expires_at: UnixMillis,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The keychain entries of one enrollment (one client of one server).
#[derive(Debug, Clone)]
pub struct Keychain {
    account: String,
    /// The name earlier agents used when enrolled with a trailing-slash URL: the secret went
    /// there while every later start looked under `account` (and found nothing).
    legacy_account: String,
}

impl Keychain {
    /// The entries of the site's enrollment (`client_id@server`; `server` without trailing
    /// slashes, however it was spelt).
    pub fn for_client(server: &str, client_id: &str) -> Self {
        Self::named(&format!("{client_id}@"), server)
    }

    /// The entries of the admin credential (`admin:client_id@server`): apart from the
    /// site's even when both name the same client, so forgetting one never removes the other.
    pub fn for_admin(server: &str, client_id: &str) -> Self {
        Self::named(&format!("admin:{client_id}@"), server)
    }

    fn named(prefix: &str, server: &str) -> Self {
        let server = server.trim_end_matches('/');
        Self {
            account: format!("{prefix}{server}"),
            legacy_account: format!("{prefix}{server}/"),
        }
    }

    pub async fn store_secret(&self, secret: &str) -> Result<(), KeychainError> {
        self.set("secret", secret.to_owned()).await
    }

    /// The secret; one an earlier agent kept under the trailing-slash name is moved to the
    /// one name first, so such an enrollment keeps working.
    pub async fn secret(&self) -> Result<Option<String>, KeychainError> {
        if let Some(secret) = self.get("secret").await? {
            return Ok(Some(secret));
        }
        let legacy = self.legacy();
        let Some(secret) = legacy.get("secret").await? else {
            return Ok(None);
        };
        self.set("secret", secret.clone()).await?;
        legacy.delete("secret").await?;
        legacy.delete("token").await?;
        Ok(Some(secret))
    }

    fn legacy(&self) -> Self {
        Self {
            account: self.legacy_account.clone(),
            legacy_account: self.legacy_account.clone(),
        }
    }

    pub async fn store_token(&self, token: &StoredToken) -> Result<(), KeychainError> {
        let text = serde_json::to_string(token).expect("a token serializes");
        self.set("token", text).await
    }

    pub async fn token(&self) -> Result<Option<StoredToken>, KeychainError> {
        Ok(self
            .get("token")
            .await?
            .and_then(|t| serde_json::from_str(&t).ok()))
    }

    pub async fn forget_token(&self) -> Result<(), KeychainError> {
        self.delete("token").await
    }

    /// Removes everything this enrollment kept in the keychain.
    pub async fn forget_all(&self) -> Result<(), KeychainError> {
        self.delete("token").await?;
        self.delete("secret").await?;
        let legacy = self.legacy();
        legacy.delete("token").await?;
        legacy.delete("secret").await
    }

    fn user(&self, item: &str) -> String {
        format!("{}#{item}", self.account)
    }

    // The keyring stores block on D-Bus: keep them off the async workers.
    async fn set(&self, item: &str, value: String) -> Result<(), KeychainError> {
        let user = self.user(item);
        blocking(move || keyring::Entry::new(SERVICE, &user)?.set_password(&value)).await
    }

    async fn get(&self, item: &str) -> Result<Option<String>, KeychainError> {
        let user = self.user(item);
        blocking(
            move || match keyring::Entry::new(SERVICE, &user)?.get_password() {
                Ok(v) => Ok(Some(v)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(e),
            },
        )
        .await
    }

    async fn delete(&self, item: &str) -> Result<(), KeychainError> {
        let user = self.user(item);
        blocking(
            move || match keyring::Entry::new(SERVICE, &user)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(e),
            },
        )
        .await
    }
}

/// How long one keychain call may take: time enough to type a password into an unlock
/// prompt, while a keychain that never answers (a frozen daemon) ends the run with a
/// message instead of leaving it "syncing" forever.
pub const KEYCHAIN_DEADLINE: Duration = Duration::from_secs(60);
/// A call past its deadline still holds its thread (a blocked D-Bus call cannot be
/// cancelled): at most this many run at once, so stuck ones cannot pile up in a process that
/// runs for months; a call waits for a free one within its own deadline.
static SLOTS: Semaphore = Semaphore::const_new(4);

/// Runs one keyring call on a blocking thread, at most [`KEYCHAIN_DEADLINE`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<T, KeychainError> {
    let call = async {
        let slot = SLOTS
            .acquire()
            .await
            .expect("the keychain's slots are never closed");
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
    };
    match tokio::time::timeout(KEYCHAIN_DEADLINE, call).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(e))) => Err(KeychainError::Unavailable(describe(&e))),
        Ok(Err(e)) => Err(KeychainError::Unavailable(e.to_string())),
        Err(_) => Err(KeychainError::Unavailable(format!(
            "it did not answer within {} s",
            KEYCHAIN_DEADLINE.as_secs()
        ))),
    }
}

/// keyring's errors can carry the secret's bytes (BadEncoding); never show those.
fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::NoDefaultStore => "no keychain service answers".into(),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => {
            "a stored item is not readable".into()
        }
        other => other.to_string(),
    }
}
