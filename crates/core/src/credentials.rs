//! Client secrets and tokens: how they are made, stored and compared.
//!
//! Every credential is 256 bits from a cryptographic RNG, so a plain SHA-256 is a sufficient
//! stored form (no dictionary to attack, unlike a password); only the hash is ever stored.
//! Prefixes make a leaked credential recognisable to secret scanners and humans.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What kind of credential a string is; the prefix is part of the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    ClientSecret,
    AccessToken,
    RefreshToken,
}

impl CredentialKind {
    pub fn prefix(self) -> &'static str {
        match self {
            CredentialKind::ClientSecret => "kxs_",
            CredentialKind::AccessToken => "kxa_",
            CredentialKind::RefreshToken => "kxr_",
        }
    }
}

/// A fresh 256-bit credential: `<prefix><43 base64url chars>` (47 bytes, fits every keychain).
pub fn generate(kind: CredentialKind, rng: &mut (impl RngCore + CryptoRng)) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes))
}

/// A public client identifier: `kxc_` and 20 hex characters (80 random bits; not a secret).
pub fn generate_client_id(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 10];
    rng.fill_bytes(&mut bytes);
    format!("kxc_{}", hex::encode(bytes))
}

/// A random identifier for a token family or a batch (128 bits, hex).
pub fn generate_id(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The only form in which a credential is stored: lowercase hex SHA-256.
pub fn hash(credential: &str) -> String {
    hex::encode(Sha256::digest(credential.as_bytes()))
}

/// Lowercase hex SHA-256 of raw bytes (files, configuration rows, request bodies).
pub fn hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash a replay matches its request body by: BLAKE3, tagged `b3:`. A replay hashes the
/// whole body, and on a 250 kB batch BLAKE3 takes 40–90 µs where SHA-256 took 180–280 µs
/// (this machine). A key keeps it beside the body's [`hash_bytes`], which claims compare.
pub fn body_b3(bytes: &[u8]) -> String {
    format!("b3:{}", blake3::hash(bytes).to_hex())
}

/// A hash no credential has; compared against when a client id is unknown, so an unknown
/// id costs the same time as a wrong secret.
pub const DUMMY_HASH: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// Compares a presented credential with a stored hash in constant time.
pub fn matches(credential: &str, stored_hash: &str) -> bool {
    hash(credential)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_secret_has_256_bits_and_its_prefix() {
        let secret = generate(CredentialKind::ClientSecret, &mut StdRng::seed_from_u64(1));
        assert!(secret.starts_with("kxs_"));
        let raw = URL_SAFE_NO_PAD.decode(&secret[4..]).unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn only_the_right_secret_matches_its_hash() {
        let mut rng = StdRng::seed_from_u64(2);
        let secret = generate(CredentialKind::ClientSecret, &mut rng);
        let other = generate(CredentialKind::ClientSecret, &mut rng);
        let stored = hash(&secret);
        assert!(matches(&secret, &stored));
        assert!(!matches(&other, &stored));
        assert!(!stored.contains(&secret[4..]));
    }
}
