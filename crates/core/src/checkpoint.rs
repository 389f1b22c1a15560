//! Signed checkpoints of the audit chain. The chain's hashes catch an entry changed in place,
//! but someone with write access to the database can rewrite history and compute every hash
//! again, or cut the tail off. A checkpoint — the head `{seq, hash}` at a moment, signed
//! with the server's Ed25519 audit key, which never lives in the database — catches both:
//! the entry at `seq` must still have `hash`, and the chain must still reach `seq`.
//!
//! The signed message is the UTF-8 text
//! `kendrix-audit-checkpoint:v1:{seq}:{hash}:{signed_at_ms}` (the hash as stored, lowercase
//! hex); signatures and public keys travel as standard base64 (a raw 32-byte key).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::UnixMillis;

/// One signed checkpoint of the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedCheckpoint {
    pub seq: i64,
    pub hash: String,
    pub signed_at_ms: UnixMillis,
    pub key_id: String,
    /// Ed25519 over [`message`], base64.
    pub signature: String,
}

/// A public audit key as the server publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicAuditKey {
    pub key_id: String,
    /// The raw 32-byte Ed25519 public key, base64.
    pub public_key: String,
}

/// Why a checkpoint cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint #{seq} is signed with key {key_id}, which is not among the audit keys")]
    UnknownKey { seq: i64, key_id: String },
    #[error("checkpoint #{seq}'s signature does not match (key {key_id})")]
    BadSignature { seq: i64, key_id: String },
    #[error("audit signing key: {0}")]
    BadKey(String),
}

/// The bytes a checkpoint's signature covers.
pub fn message(seq: i64, hash: &str, signed_at_ms: UnixMillis) -> String {
    format!("kendrix-audit-checkpoint:v1:{seq}:{hash}:{signed_at_ms}")
}

/// A key's id: `ed25519:` and the first 8 bytes of the SHA-256 of its public key, in hex —
/// the same for everyone who holds the public key.
pub fn key_id_of(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    format!("ed25519:{}", hex::encode(&digest[..8]))
}

/// The server's signing key (the private half never leaves the server's key file or
/// environment).
#[derive(Clone)]
pub struct AuditSigningKey {
    key: ed25519_dalek::SigningKey,
    key_id: String,
}

impl std::fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditSigningKey {
    /// From the base64 of its 32-byte seed (what `kendrix-server audit keygen` prints).
    pub fn from_base64(text: &str) -> Result<Self, CheckpointError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| CheckpointError::BadKey("not base64".into()))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| {
            CheckpointError::BadKey("a key is the base64 of 32 random bytes".into())
        })?;
        Ok(Self::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let key_id = key_id_of(key.verifying_key().as_bytes());
        Self { key, key_id }
    }

    /// A new key from 32 bytes of the caller's randomness, as base64 for the key file.
    pub fn seed_base64(seed: [u8; 32]) -> String {
        B64.encode(seed)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public(&self) -> PublicAuditKey {
        PublicAuditKey {
            key_id: self.key_id.clone(),
            public_key: B64.encode(self.key.verifying_key().as_bytes()),
        }
    }

    /// Signs any message (an evidence file's); the signature as base64.
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        B64.encode(self.key.sign(message).to_bytes())
    }

    pub fn sign(&self, seq: i64, hash: &str, signed_at_ms: UnixMillis) -> SignedCheckpoint {
        let signature = self.key.sign(message(seq, hash, signed_at_ms).as_bytes());
        SignedCheckpoint {
            seq,
            hash: hash.to_owned(),
            signed_at_ms,
            key_id: self.key_id.clone(),
            signature: B64.encode(signature.to_bytes()),
        }
    }
}

/// Whether `signature` (base64) is `key`'s over `message`; a key whose id does not match its
/// bytes verifies nothing.
pub fn verify_bytes(key: &PublicAuditKey, message: &[u8], signature: &str) -> bool {
    let Some(public) = B64
        .decode(&key.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
    else {
        return false;
    };
    let Some(signature) = B64
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key_id_of(&public) == key.key_id
        && ed25519_dalek::VerifyingKey::from_bytes(&public).is_ok_and(|v| {
            v.verify(message, &ed25519_dalek::Signature::from_bytes(&signature))
                .is_ok()
        })
}

impl SignedCheckpoint {
    /// Checks the signature with the key it names, which must be among `keys`.
    pub fn verify(&self, keys: &[PublicAuditKey]) -> Result<(), CheckpointError> {
        let key = keys
            .iter()
            .find(|k| k.key_id == self.key_id)
            .ok_or_else(|| CheckpointError::UnknownKey {
                seq: self.seq,
                key_id: self.key_id.clone(),
            })?;
        let message = message(self.seq, &self.hash, self.signed_at_ms);
        if verify_bytes(key, message.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(CheckpointError::BadSignature {
                seq: self.seq,
                key_id: self.key_id.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_with_its_key_and_fails_when_any_part_changes() {
        let key = AuditSigningKey::from_seed([7; 32]);
        let keys = [key.public()];
        let checkpoint = key.sign(42, "ab12", 1_800_000_000_000);
        assert_eq!(checkpoint.verify(&keys), Ok(()));
        for changed in [
            SignedCheckpoint {
                seq: 43,
                ..checkpoint.clone()
            },
            SignedCheckpoint {
                hash: "ab13".into(),
                ..checkpoint.clone()
            },
            SignedCheckpoint {
                signed_at_ms: 1_800_000_000_001,
                ..checkpoint.clone()
            },
        ] {
            assert!(matches!(
                changed.verify(&keys),
                Err(CheckpointError::BadSignature { .. })
            ));
        }
        let other = AuditSigningKey::from_seed([8; 32]);
        assert!(matches!(
            checkpoint.verify(&[other.public()]),
            Err(CheckpointError::UnknownKey { .. })
        ));
        // Another key published under this key's id is not taken for it.
        let impostor = PublicAuditKey {
            key_id: key.key_id().to_owned(),
            public_key: other.public().public_key,
        };
        assert!(checkpoint.verify(&[impostor]).is_err());
    }

    #[test]
    fn a_seed_round_trips_through_base64_and_bad_keys_are_named() {
        let text = AuditSigningKey::seed_base64([9; 32]);
        let key = AuditSigningKey::from_base64(&text).unwrap();
        assert_eq!(key.key_id(), AuditSigningKey::from_seed([9; 32]).key_id());
        assert!(key.key_id().starts_with("ed25519:"));
        assert!(AuditSigningKey::from_base64("short").is_err());
        assert!(AuditSigningKey::from_base64(&B64.encode([1u8; 16])).is_err());
    }
}
