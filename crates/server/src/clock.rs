//! The wall clock the server runs on; tests pass their own `kendrix_core::Clock`.

use std::time::{SystemTime, UNIX_EPOCH};

use kendrix_core::{Clock, UnixMillis};

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
