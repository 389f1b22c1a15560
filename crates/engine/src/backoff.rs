//! How long to wait before trying the server again, and how many times one run may.

use std::time::Duration;

use rand::Rng;

/// The first step of the backoff; each failure doubles it up to the cap.
const BASE: Duration = Duration::from_secs(1);

/// The spread added after a server's `Retry-After`: at least this much…
const RETRY_AFTER_SPREAD_MIN: Duration = Duration::from_millis(250);
/// …or this share of the server's wait, whichever is larger.
const RETRY_AFTER_SPREAD_SHARE: u32 = 4;

/// Exponential backoff with "full jitter" (AWS's name): after the n-th failure in a row the
/// wait is drawn uniformly from 0 to `min(cap, 1 s · 2^(n-1))`, so a fleet coming back after
/// an outage spreads over the whole window instead of returning in waves. A server's
/// `Retry-After` wins when given: the wait is never shorter than it, and spread after it.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    cap: Duration,
}

impl Backoff {
    pub fn new(cap: Duration) -> Self {
        Self { failures: 0, cap }
    }

    /// The longest wait the next failure may draw (without `Retry-After`).
    pub fn ceiling(&self) -> Duration {
        let doublings = self.failures.min(30);
        BASE.saturating_mul(1u32 << doublings).min(self.cap)
    }

    pub fn next_delay(&mut self, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        if let Some(wait) = retry_after {
            let spread = (wait / RETRY_AFTER_SPREAD_SHARE).max(RETRY_AFTER_SPREAD_MIN);
            return wait + random_up_to(spread, rng);
        }
        random_up_to(ceiling, rng)
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

fn random_up_to(limit: Duration, rng: &mut impl Rng) -> Duration {
    Duration::from_millis(rng.gen_range(0..=limit.as_millis() as u64))
}

/// How many retries one run may still make: `limit` at the start, one spent per retry, and
/// a tenth of one earned back per batch the server answered (up to `limit`), so a long run
/// with a rare hiccup goes on while a run against a server that keeps failing stops early
/// and leaves the next try to the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudget {
    /// In tenths of a retry.
    tenths: u64,
    limit_tenths: u64,
}

impl RetryBudget {
    pub fn new(limit: u32) -> Self {
        let limit_tenths = u64::from(limit) * 10;
        Self {
            tenths: limit_tenths,
            limit_tenths,
        }
    }

    /// Takes one retry; false when none is left.
    pub fn try_spend(&mut self) -> bool {
        if self.tenths < 10 {
            return false;
        }
        self.tenths -= 10;
        true
    }

    /// A batch went through.
    pub fn earn(&mut self) {
        self.tenths = (self.tenths + 1).min(self.limit_tenths);
    }

    /// Whole retries left.
    pub fn left(&self) -> u64 {
        self.tenths / 10
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn each_wait_is_drawn_from_zero_to_the_doubling_step_up_to_the_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::new(Duration::from_secs(8));
        let ceilings = [1000u128, 2000, 4000, 8000, 8000, 8000];
        let mut below_half = 0;
        for _ in 0..200 {
            backoff.reset();
            for ceiling in ceilings {
                assert_eq!(backoff.ceiling().as_millis(), ceiling);
                let delay = backoff.next_delay(None, &mut rng).as_millis();
                assert!(delay <= ceiling, "{delay} above {ceiling}");
                if delay < ceiling / 2 {
                    below_half += 1;
                }
            }
        }
        // Full jitter: about half of the waits fall below half the step (the old "equal
        // jitter" never did), so returning agents spread over the whole window.
        assert!(
            (450..=750).contains(&below_half),
            "{below_half} of 1200 below half"
        );
    }

    #[test]
    fn retry_after_is_a_floor_with_spread_after_it() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut backoff = Backoff::new(Duration::from_secs(300));
        for _ in 0..500 {
            let wait = backoff.next_delay(Some(Duration::from_secs(20)), &mut rng);
            assert!(wait >= Duration::from_secs(20) && wait <= Duration::from_secs(25));
            let short = backoff.next_delay(Some(Duration::ZERO), &mut rng);
            assert!(short <= Duration::from_millis(250));
        }
        backoff.reset();
        assert!(backoff.next_delay(None, &mut rng) <= Duration::from_secs(1));
        assert_eq!(backoff.failures(), 1);
    }

    #[test]
    fn the_ceiling_never_overflows() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut backoff = Backoff::new(Duration::from_secs(86_400));
        for _ in 0..100 {
            assert!(backoff.next_delay(None, &mut rng) <= Duration::from_secs(86_400));
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(86_400));
    }

    #[test]
    fn a_run_may_retry_its_budget_and_earns_retries_back_slowly() {
        let mut budget = RetryBudget::new(3);
        assert!(budget.try_spend() && budget.try_spend() && budget.try_spend());
        assert!(!budget.try_spend(), "the fourth retry is refused");
        for _ in 0..9 {
            budget.earn();
        }
        assert!(
            !budget.try_spend(),
            "nine answered batches earn less than one"
        );
        budget.earn();
        assert!(budget.try_spend(), "ten earn one retry");
        for _ in 0..1000 {
            budget.earn();
        }
        assert_eq!(budget.left(), 3, "never more than the limit");
        assert!(!RetryBudget::new(0).try_spend());
    }
}
