//! How long to wait before trying the server again.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … up to `cap`, each drawn between half
/// and all of that step, so many agents recovering at once do not return in lockstep. A
/// server's `Retry-After` wins when given.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    cap: Duration,
}

impl Backoff {
    pub fn new(cap: Duration) -> Self {
        Self { failures: 0, cap }
    }

    pub fn next_delay(&mut self, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if let Some(wait) = retry_after {
            // A little spread after the server's time, never before it.
            return wait + Duration::from_millis(rng.gen_range(0..250));
        }
        let step = Duration::from_secs(1)
            .saturating_mul(1u32 << self.failures.min(16).saturating_sub(1))
            .min(self.cap);
        let millis = step.as_millis() as u64;
        Duration::from_millis(rng.gen_range(millis / 2..=millis.max(1)))
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::new(Duration::from_secs(8));
        let delays: Vec<u128> = (0..6)
            .map(|_| backoff.next_delay(None, &mut rng).as_millis())
            .collect();
        for (delay, step) in delays.iter().zip([1000u128, 2000, 4000, 8000, 8000, 8000]) {
            assert!(
                *delay >= step / 2 && *delay <= step,
                "{delay} not in [{}, {step}]",
                step / 2
            );
        }
        let wait = backoff.next_delay(Some(Duration::from_secs(30)), &mut rng);
        assert!(wait >= Duration::from_secs(30) && wait < Duration::from_millis(30_250));
        backoff.reset();
        assert!(backoff.next_delay(None, &mut rng) <= Duration::from_secs(1));
    }
}
