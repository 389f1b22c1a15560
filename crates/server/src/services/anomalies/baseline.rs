//! What "unusual" means for a count: a threshold learned from a site's own history — the
//! median of its hourly counts and their spread (median absolute deviation, scaled to a
//! standard deviation), with Poisson noise for short windows — never below a floor, so a
//! quiet site does not page over a handful of events. Until a site has a day of history the
//! floor alone stands in (a fixed limit: 20 failed logins in 5 minutes is a burst on day one).

/// How many spreads above the expected count a window must be to be unusual.
const SPREADS: f64 = 6.0;
/// History a site needs before its own baseline counts (one day of hourly buckets).
pub const MIN_HISTORY_HOURS: usize = 24;

/// A learned baseline for one site and metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Expected count per window.
    pub expected: f64,
    /// The count above which a window is unusual (never below the floor).
    pub threshold: f64,
}

/// The baseline of a count over `window_hours` (e.g. 5 min = 1/12), from the site's hourly
/// counts over `history_hours` (the buckets given are the non-zero ones; the rest are
/// zeros) and a `floor`.
pub fn learn(
    nonzero_hourly: &[i64],
    history_hours: usize,
    window_hours: f64,
    floor: f64,
) -> Baseline {
    if history_hours < MIN_HISTORY_HOURS {
        return Baseline {
            expected: 0.0,
            threshold: floor,
        };
    }
    let mut counts: Vec<f64> = nonzero_hourly.iter().map(|&c| c as f64).collect();
    counts.resize(history_hours.max(counts.len()), 0.0);
    let median = median_of(&mut counts);
    let mut deviations: Vec<f64> = counts.iter().map(|c| (c - median).abs()).collect();
    let mad = median_of(&mut deviations);
    let expected = median * window_hours;
    // A window's spread: the history's (MAD as a standard deviation, scaled to the window)
    // and the Poisson noise of a count of that size.
    let spread = 1.4826 * mad * window_hours + expected.sqrt();
    Baseline {
        expected,
        threshold: (expected + SPREADS * spread).max(floor),
    }
}

fn median_of(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_young_site_has_the_floor_as_its_threshold() {
        let b = learn(&[3, 4], 5, 1.0 / 12.0, 20.0);
        assert_eq!(b.threshold, 20.0);
    }

    #[test]
    fn a_quiet_site_keeps_the_floor_and_a_busy_one_learns_a_higher_threshold() {
        let quiet = learn(&[], 14 * 24, 1.0 / 12.0, 20.0);
        assert_eq!(quiet.threshold, 20.0, "nothing in two weeks: the floor");
        // A busy site: about 600 grants an hour, give or take.
        let busy: Vec<i64> = (0..14 * 24).map(|h| 600 + (h % 7) * 20 - 60).collect();
        let b = learn(&busy, 14 * 24, 1.0 / 12.0, 30.0);
        assert!(b.expected > 45.0 && b.expected < 55.0, "{b:?}");
        assert!(b.threshold > b.expected + 20.0, "{b:?}");
        assert!(b.threshold < 200.0, "{b:?}");
    }

    #[test]
    fn the_median_ignores_a_few_wild_hours() {
        let mut hours: Vec<i64> = vec![10; 14 * 24];
        hours[5] = 5_000;
        hours[77] = 9_000;
        let b = learn(&hours, 14 * 24, 1.0, 5.0);
        assert!(b.expected == 10.0, "{b:?}");
        assert!(b.threshold < 40.0, "{b:?}");
    }
}
