//! The audit signing keys (Ed25519), which sign checkpoints of the audit chain: from
//! `KENDRIX_AUDIT_SIGNING_KEY` (one key) and the `audit_signing_key_file` setting (one key a
//! line), never from the database — someone who can rewrite the database must not be able
//! to sign. The environment's key, else the file's last line, signs new checkpoints; every
//! key is published and trusted, so to rotate, add a line and keep the old ones: checkpoints
//! signed before still verify.

use kendrix_core::checkpoint::{AuditSigningKey, CheckpointError, PublicAuditKey};

use crate::settings::Settings;

/// Environment variable holding the audit signing key (base64 of a 32-byte seed).
pub const AUDIT_KEY_ENV: &str = "KENDRIX_AUDIT_SIGNING_KEY";

/// Why the audit keys cannot be loaded; names the source, never the key.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("{AUDIT_KEY_ENV}: {0}")]
    Env(CheckpointError),
    #[error("audit signing key file {path}, line {line}: {error}")]
    File {
        path: String,
        line: usize,
        error: CheckpointError,
    },
    #[error("audit signing key file {path}: {error}")]
    Read { path: String, error: std::io::Error },
}

/// The keys this server signs with and trusts.
#[derive(Debug, Clone, Default)]
pub struct AuditKeys {
    signing: Option<AuditSigningKey>,
    trusted: Vec<PublicAuditKey>,
}

impl AuditKeys {
    /// `keys` oldest first: the last one signs.
    pub fn new(keys: Vec<AuditSigningKey>) -> Self {
        let mut trusted: Vec<PublicAuditKey> = Vec::new();
        for key in &keys {
            if !trusted.iter().any(|t| t.key_id == key.key_id()) {
                trusted.push(key.public());
            }
        }
        Self {
            signing: keys.into_iter().last(),
            trusted,
        }
    }

    /// Reads the file's keys in order, then the environment's (which therefore signs).
    pub fn load(settings: &Settings) -> Result<Self, AuditKeyError> {
        let mut keys = Vec::new();
        if let Some(path) = &settings.audit_signing_key_file {
            let text = std::fs::read_to_string(path).map_err(|error| AuditKeyError::Read {
                path: path.display().to_string(),
                error,
            })?;
            for (number, line) in crate::keys::key_lines(&text) {
                keys.push(AuditSigningKey::from_base64(line).map_err(|error| {
                    AuditKeyError::File {
                        path: path.display().to_string(),
                        line: number,
                        error,
                    }
                })?);
            }
        }
        if let Ok(text) = std::env::var(AUDIT_KEY_ENV) {
            keys.push(AuditSigningKey::from_base64(&text).map_err(AuditKeyError::Env)?);
        }
        Ok(Self::new(keys))
    }

    /// The key new checkpoints are signed with; `None`: checkpoints are off.
    pub fn signing(&self) -> Option<&AuditSigningKey> {
        self.signing.as_ref()
    }

    /// Every key a checkpoint may be signed with, the signing one last.
    pub fn trusted(&self) -> &[PublicAuditKey] {
        &self.trusted
    }
}
