//! Where ids, secrets and nonces come from. Every client id and secret, token, token family,
//! batch id and sealing nonce the services make is drawn from an [`Entropy`], so a test can
//! make them reproducible ([`SeededEntropy`]) while the server uses [`SystemEntropy`].

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{CryptoRng, RngCore, SeedableRng};

/// A source of unpredictable bytes.
pub trait Entropy: Send + Sync {
    /// Fills `bytes` with random bytes.
    fn fill(&self, bytes: &mut [u8]);
}

impl<'e> dyn Entropy + 'e {
    /// This source as a random number generator, for `kendrix_core`'s generators.
    pub fn rng(&self) -> EntropyRng<'_> {
        EntropyRng(self)
    }
}

/// The operating system's randomness, through `rand`'s thread-local generator (ChaCha,
/// seeded and reseeded from the OS): what every id and secret was made with before.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, bytes: &mut [u8]) {
        rand::thread_rng().fill_bytes(bytes);
    }
}

/// A reproducible source for tests: the same seed gives the same ids and secrets.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<StdRng>);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, bytes: &mut [u8]) {
        self.0.lock().expect("entropy lock").fill_bytes(bytes);
    }
}

/// An [`Entropy`] seen as an `RngCore`; cryptographically strong when its source is.
pub struct EntropyRng<'a>(&'a dyn Entropy);

impl RngCore for EntropyRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.0.fill(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.0.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

// Every implementation of `Entropy` is required to be unpredictable (see its docs); the
// seeded one exists for tests only.
impl CryptoRng for EntropyRng<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use kendrix_core::credentials::{self, CredentialKind};

    #[test]
    fn the_same_seed_makes_the_same_credentials() {
        let make = || {
            let entropy: &dyn Entropy = &SeededEntropy::new(7);
            (
                credentials::generate_client_id(&mut entropy.rng()),
                credentials::generate(CredentialKind::ClientSecret, &mut entropy.rng()),
            )
        };
        assert_eq!(make(), make());
        let system: &dyn Entropy = &SystemEntropy;
        assert_ne!(
            credentials::generate_id(&mut system.rng()),
            credentials::generate_id(&mut system.rng())
        );
    }
}
