//! Time as data: milliseconds since the Unix epoch, read through an injected [`Clock`].

/// Milliseconds since 1970-01-01T00:00:00Z. Stored as `BIGINT` on every backend.
pub type UnixMillis = i64;

/// Where the current time comes from; tests pass a fixed or stepped clock.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> UnixMillis;
}

/// The operating system's wall clock: what binaries inject (rules never read it themselves).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as UnixMillis)
            .unwrap_or(0)
    }
}

/// A clock tests can set and advance.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(start: UnixMillis) -> Self {
        Self(std::sync::atomic::AtomicI64::new(start))
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`, for command-line output.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_732_838_400_123), "2024-11-29 00:00:00 UTC");
        assert_eq!(format_utc(951_825_600_000), "2000-02-29 12:00:00 UTC");
    }

    #[test]
    fn the_system_clock_reads_the_present_and_a_manual_clock_moves_when_told() {
        // 2024-01-01 and 2100-01-01: any machine running this is in between.
        let now = SystemClock.now_ms();
        assert!(
            (1_704_067_200_000..4_102_444_800_000).contains(&now),
            "{now}"
        );
        let manual = ManualClock::new(1_000);
        manual.advance(500);
        assert_eq!(manual.now_ms(), 1_500);
    }
}
