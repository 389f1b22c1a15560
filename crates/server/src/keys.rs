//! Master keys for secret configuration values: from `KENDRIX_MASTER_KEY` and the key file,
//! never from the database. The key ring is re-read when a value sealed with a key it does
//! not know turns up, so `config rotate-key` works while servers run.

use std::sync::RwLock;

use kendrix_core::sealed::{KeyRing, MasterKey, SealError};

use crate::settings::Settings;

/// Environment variable holding the current master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "KENDRIX_MASTER_KEY";

/// Why the master keys cannot be loaded; names the source, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{MASTER_KEY_ENV}: {0}")]
    Env(SealError),
    #[error("master key file {path}, line {line}: {error}")]
    File {
        path: String,
        line: usize,
        error: SealError,
    },
    #[error("master key file {path}: {error}")]
    Read { path: String, error: std::io::Error },
}

/// Reads the keys: the environment's first, then the key file's in order.
pub fn load(settings: &Settings) -> Result<KeyRing, KeyError> {
    let mut keys = Vec::new();
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        keys.push(MasterKey::from_base64(&text).map_err(KeyError::Env)?);
    }
    if let Some(path) = &settings.master_key_file {
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::Read {
            path: path.display().to_string(),
            error,
        })?;
        for (number, line) in key_lines(&text) {
            let key = MasterKey::from_base64(line).map_err(|error| KeyError::File {
                path: path.display().to_string(),
                line: number,
                error,
            })?;
            if !keys.iter().any(|k: &MasterKey| k.id() == key.id()) {
                keys.push(key);
            }
        }
    }
    Ok(KeyRing::new(keys))
}

/// The keys of a key file (master or audit): each non-empty line that is not a `#` comment,
/// trimmed, with its line number (from 1) for error messages.
pub(crate) fn key_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// The server's key ring, reloadable.
#[derive(Debug, Default)]
pub struct Keys(RwLock<KeyRing>);

impl Keys {
    pub fn new(ring: KeyRing) -> Self {
        Self(RwLock::new(ring))
    }

    pub fn ring(&self) -> KeyRing {
        self.0.read().expect("keys lock").clone()
    }

    /// Opens a sealed value stored `at`, re-reading the keys once if it was sealed with an
    /// unknown key.
    pub fn open(
        &self,
        settings: &Settings,
        sealed: &str,
        at: &SealedAt<'_>,
    ) -> Result<String, SealError> {
        let context = at.context_of(sealed);
        match self.ring().open(sealed, &context) {
            Err(SealError::UnknownKey(id)) => match load(settings) {
                Ok(fresh) => {
                    let result = fresh.open(sealed, &context);
                    *self.0.write().expect("keys lock") = fresh;
                    result
                }
                Err(_) => Err(SealError::UnknownKey(id)),
            },
            other => other,
        }
    }
}

/// Where a sealed value lives and how it may be shown, bound into its ciphertext: moving it
/// elsewhere, or flipping its `reveal` flag in the database, makes it refuse to open.
#[derive(Debug, Clone, Copy)]
pub struct SealedAt<'a> {
    pub tenant_id: i64,
    pub scope: &'a str,
    pub key: &'a str,
    /// Whether sites see the value itself (else they see it masked).
    pub reveal: bool,
}

impl SealedAt<'_> {
    /// The context to seal a new value with (the current format's).
    pub fn context(&self) -> String {
        let reveal = if self.reveal { "revealed" } else { "masked" };
        format!("{}/{}/{}#{reveal}", self.tenant_id, self.scope, self.key)
    }

    /// The context `sealed` was sealed with: `kxs1` values bound only where they live.
    pub fn context_of(&self, sealed: &str) -> String {
        match kendrix_core::sealed::format_and_key_id(sealed) {
            Ok(("kxs1", _)) => format!("{}/{}/{}", self.tenant_id, self.scope, self.key),
            _ => self.context(),
        }
    }
}
