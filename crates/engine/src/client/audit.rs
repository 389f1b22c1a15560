//! The audit calls of a site's client: the chain's head for the agent's witness, and the
//! server's public audit keys that check a signed checkpoint.

use kendrix_core::checkpoint::PublicAuditKey;
use serde::Deserialize;

use super::{failure_of, short_error, Failure, ServerClient};

/// The head of the server's audit chain, and (when asked) the hash of an earlier entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
    #[serde(default)]
    pub witness: Option<WitnessedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WitnessedEntry {
    pub seq: i64,
    /// The entry's hash now; `None` when no entry has that number any more.
    pub hash: Option<String>,
    /// Pruned by retention: it can no longer be compared.
    #[serde(default)]
    pub pruned: bool,
    /// With `pruned`: the signed checkpoint where the pruned part ends (checked with the
    /// server's public keys; a claim of pruning without one is not taken on trust).
    #[serde(default)]
    pub checkpoint: Option<kendrix_core::checkpoint::SignedCheckpoint>,
}

impl ServerClient {
    /// The audit chain's head, and the hash the chain now has at `witness_seq`.
    pub async fn audit_head(&self, witness_seq: Option<i64>) -> Result<ChainHead, Failure> {
        let mut url = format!("{}/audit/head", self.base);
        if let Some(seq) = witness_seq {
            url.push_str(&format!("?witness={seq}"));
        }
        let response = self
            .authorized(|token| self.http.get(&url).bearer_auth(token))
            .await?;
        if !response.status().is_success() {
            return Err(failure_of(response, self.wall_time()).await);
        }
        response.json().await.map_err(|e| Failure::Transient {
            reason: format!("the audit head could not be read: {}", short_error(&e)),
            retry_after: None,
        })
    }

    /// The server's audit public keys (`GET /audit/public-key`, no token needed).
    pub async fn audit_public_keys(&self) -> Result<Vec<PublicAuditKey>, Failure> {
        #[derive(Deserialize)]
        struct Keys {
            keys: Vec<PublicAuditKey>,
        }
        let url = format!("{}/audit/public-key", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Failure::Transient {
                reason: format!(
                    "the audit public keys could not be read: {}",
                    short_error(&e)
                ),
                retry_after: None,
            })?;
        if !response.status().is_success() {
            return Err(failure_of(response, self.wall_time()).await);
        }
        let keys: Keys = response.json().await.map_err(|e| Failure::Transient {
            reason: format!(
                "the audit public keys could not be read: {}",
                short_error(&e)
            ),
            retry_after: None,
        })?;
        Ok(keys.keys)
    }
}
