//! Secret configuration values, sealed with AES-256-GCM under a master key.
//!
//! A sealed value is `kxs2:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`: a fresh random
//! 96-bit nonce per value, and the id of the key that sealed it, so keys can be rotated and
//! several kept during a rotation. The associated data binds the ciphertext to its format,
//! its key id and the caller's context — where it is stored and how it may be shown (the
//! server binds tenant, scope, setting name and the `reveal` flag): a sealed value copied to
//! another setting, or whose flags were changed beside it, does not open. `kxs1` values
//! (whose server context did not bind `reveal`) still open, under their own format, until
//! the server re-seals them. Master keys never come from the database (see the server's
//! `KENDRIX_MASTER_KEY` / key file).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// The format new values are sealed in.
pub const FORMAT: &str = "kxs2";
/// Formats that still open.
const FORMATS: [&str; 2] = ["kxs1", FORMAT];

/// A 256-bit master key and its id (the first 16 hex digits of its SHA-256).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a key or a sealed value cannot be used. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a master key is 32 bytes, written as base64 (44 characters); generate one with `openssl rand -base64 32`")]
    BadKey,
    #[error("this is not a sealed value")]
    NotSealed,
    #[error("no master key with id {0} is configured; it sealed this value")]
    UnknownKey(String),
    #[error("the sealed value does not open: it was altered, or moved to another setting")]
    Tampered,
}

impl MasterKey {
    /// A key from its base64 text (standard alphabet, as `openssl rand -base64 32` prints).
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let id = hex::encode(&Sha256::digest(bytes)[..8]);
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self { id, cipher })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` for the setting named by `context` (scope and key).
    pub fn seal(
        &self,
        plaintext: &str,
        context: &str,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> String {
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let aad = associated_data(FORMAT, &self.id, context);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for inputs this size");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{FORMAT}:{}:{}", self.id, URL_SAFE_NO_PAD.encode(sealed))
    }
}

fn associated_data(format: &str, key_id: &str, context: &str) -> String {
    format!("{format}|{key_id}|{context}")
}

/// The format (`kxs1`, `kxs2`) and key id of a sealed value, without opening it.
pub fn format_and_key_id(sealed: &str) -> Result<(&str, &str), SealError> {
    let mut parts = sealed.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(format), Some(id), Some(_)) if FORMATS.contains(&format) => Ok((format, id)),
        _ => Err(SealError::NotSealed),
    }
}

/// The id of the key that sealed a value, without opening it.
pub fn key_id_of(sealed: &str) -> Result<&str, SealError> {
    format_and_key_id(sealed).map(|(_, id)| id)
}

/// The master keys a server holds: the first seals, all open (during a rotation the old
/// key stays until every value is re-sealed).
#[derive(Debug, Clone, Default)]
pub struct KeyRing(Vec<MasterKey>);

impl KeyRing {
    pub fn new(keys: Vec<MasterKey>) -> Self {
        Self(keys)
    }

    /// The key new values are sealed with.
    pub fn current(&self) -> Option<&MasterKey> {
        self.0.first()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a key with this id is in the ring.
    pub fn has(&self, id: &str) -> bool {
        self.0.iter().any(|k| k.id == id)
    }

    /// Opens a sealed value stored for `context` (the context of its own format).
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let (format, id) = format_and_key_id(sealed)?;
        let key = self
            .0
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let body = sealed.rsplit(':').next().ok_or(SealError::NotSealed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Tampered)?;
        if bytes.len() < 12 + 16 {
            return Err(SealError::Tampered);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let aad = associated_data(format, id, context);
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plaintext).map_err(|_| SealError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn seals_with_a_fresh_nonce_and_opens_only_in_its_own_place() {
        let mut rng = StdRng::seed_from_u64(7);
        let ring = KeyRing::new(vec![key(1)]);
        let a = key(1).seal("p@ss;word", "tenant:1/db.password", &mut rng);
        let b = key(1).seal("p@ss;word", "tenant:1/db.password", &mut rng);
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains("p@ss"));
        assert_eq!(ring.open(&a, "tenant:1/db.password").unwrap(), "p@ss;word");
        assert_eq!(
            ring.open(&a, "tenant:2/db.password"),
            Err(SealError::Tampered)
        );
        let mut altered = a.clone();
        altered.pop();
        altered.push(if a.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            ring.open(&altered, "tenant:1/db.password"),
            Err(SealError::Tampered)
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable_until_resealed() {
        let mut rng = StdRng::seed_from_u64(8);
        let old = key(1).seal("secret", "global/k", &mut rng);
        let rotated = KeyRing::new(vec![key(2), key(1)]);
        assert_eq!(rotated.open(&old, "global/k").unwrap(), "secret");
        let resealed = rotated
            .current()
            .unwrap()
            .seal("secret", "global/k", &mut rng);
        assert_eq!(key_id_of(&resealed).unwrap(), key(2).id());
        let only_new = KeyRing::new(vec![key(2)]);
        assert_eq!(
            only_new.open(&old, "global/k"),
            Err(SealError::UnknownKey(key(1).id().to_owned()))
        );
    }

    #[test]
    fn a_value_opens_only_under_its_own_format() {
        let mut rng = StdRng::seed_from_u64(9);
        let ring = KeyRing::new(vec![key(1)]);
        let sealed = key(1).seal("secret", "global/k", &mut rng);
        assert!(sealed.starts_with("kxs2:"));
        let as_v1 = sealed.replacen("kxs2:", "kxs1:", 1);
        assert_eq!(ring.open(&as_v1, "global/k"), Err(SealError::Tampered));
        assert_eq!(format_and_key_id(&sealed).unwrap(), ("kxs2", key(1).id()));
        assert_eq!(format_and_key_id("kxs9:a:b"), Err(SealError::NotSealed));
    }

    #[test]
    fn keys_are_32_bytes_of_base64_and_never_printed() {
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
        let text = STANDARD.encode([9u8; 32]);
        let key = MasterKey::from_base64(&text).unwrap();
        assert!(!format!("{key:?}").contains(&text));
        assert_eq!(key.id().len(), 16);
    }
}
