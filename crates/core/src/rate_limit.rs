//! Fixed-window rate limiting rules. The counters live in the database (shared by every
//! server instance); this module only does the window arithmetic and the verdict.

use crate::UnixMillis;

/// A limit: at most `max` hits per `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_ms: i64,
}

impl Limit {
    pub fn per_minute(max: i64) -> Self {
        Self {
            max,
            window_ms: 60_000,
        }
    }

    /// Start of the window that `now` falls in; windows are aligned to the epoch so every
    /// instance agrees on them without talking to each other.
    pub fn window_start(&self, now: UnixMillis) -> UnixMillis {
        now - now.rem_euclid(self.window_ms)
    }

    /// Whole seconds until the current window ends (at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self, now: UnixMillis) -> u64 {
        let end = self.window_start(now) + self.window_ms;
        (((end - now) + 999) / 1000).max(1) as u64
    }

    /// Whether the `count`-th hit in a window is over the limit.
    pub fn exceeded_by(&self, count: i64) -> bool {
        count > self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_and_retry_after_counts_to_their_end() {
        let limit = Limit::per_minute(10);
        assert_eq!(limit.window_start(125_500), 120_000);
        assert_eq!(limit.retry_after_secs(125_500), 55);
        assert_eq!(limit.retry_after_secs(179_999), 1);
        assert!(!limit.exceeded_by(10));
        assert!(limit.exceeded_by(11));
    }
}
