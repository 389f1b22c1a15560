//! Statistics over time (`GET /stats/series`): a tenant's batches, record outcomes, tokens
//! issued and failed authentications per time bucket over the last hour, day or week. Every
//! bucket is present, oldest first, aligned to multiples of its length since the Unix epoch;
//! the last one holds "now". The store counts each source in one grouped read.

use kendrix_core::UnixMillis;
use kendrix_store::{AuthBucket, BatchBucket, SeriesQuery};
use serde::Serialize;
use utoipa::ToSchema;

use super::Reports;
use crate::services::authorizer::Caller;
use crate::services::{Failure, Within};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// The windows a series covers, each with its bucket length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesWindow {
    /// The last hour in 5-minute buckets (12).
    Hour,
    /// The last 24 hours, hourly (24).
    Day,
    /// The last 7 days in 6-hour buckets (28).
    Week,
}

impl SeriesWindow {
    pub const LABELS: &'static str = "1h, 24h or 7d";

    /// `1h`, `24h` or `7d`.
    pub fn parse(label: &str) -> Option<Self> {
        match label {
            "1h" => Some(SeriesWindow::Hour),
            "24h" => Some(SeriesWindow::Day),
            "7d" => Some(SeriesWindow::Week),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SeriesWindow::Hour => "1h",
            SeriesWindow::Day => "24h",
            SeriesWindow::Week => "7d",
        }
    }

    pub fn bucket_ms(self) -> i64 {
        match self {
            SeriesWindow::Hour => 5 * MINUTE_MS,
            SeriesWindow::Day => HOUR_MS,
            SeriesWindow::Week => 6 * HOUR_MS,
        }
    }

    pub fn buckets(self) -> i64 {
        match self {
            SeriesWindow::Hour => 12,
            SeriesWindow::Day => 24,
            SeriesWindow::Week => 28,
        }
    }

    /// The first bucket's start and the last one's end, for a series ending in `now`'s bucket.
    pub fn span(self, now: UnixMillis) -> (UnixMillis, UnixMillis) {
        let bucket = self.bucket_ms();
        let last = now.div_euclid(bucket) * bucket;
        (last - (self.buckets() - 1) * bucket, last + bucket)
    }
}

/// What happened in one bucket, `[at, at + bucket_ms)`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SeriesBucket {
    /// The bucket's start, Unix milliseconds (a multiple of `bucket_ms`).
    pub at: UnixMillis,
    /// Batches applied.
    pub batches: i64,
    /// Batches refused as a whole (invalid records).
    pub refused_batches: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
    pub tokens_issued: i64,
    /// Refused client authentications and bearer tokens (as `/auth/stats` counts `failed`).
    pub auth_failed: i64,
}

/// A tenant's (or one client's) activity per bucket over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsSeries {
    /// `1h`, `24h` or `7d`.
    pub window: &'static str,
    /// The first bucket's start, Unix milliseconds.
    pub since: UnixMillis,
    /// 300000 (1h), 3600000 (24h) or 21600000 (7d).
    pub bucket_ms: i64,
    /// Every bucket of the window, oldest first; the last one holds the server's "now".
    pub buckets: Vec<SeriesBucket>,
}

/// Why a series cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// No such client in the caller's tenant (another tenant's client is "not found" too).
    #[error("no client with this id in your tenant")]
    NotFound,
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl Reports {
    /// The caller's tenant's activity over `window`, of one client of it if `client_id`
    /// names one.
    pub async fn series(
        &self,
        caller: &Caller,
        window: SeriesWindow,
        client_id: Option<&str>,
    ) -> Result<StatsSeries, SeriesError> {
        let ctx = &caller.ctx;
        let client = match client_id {
            None => None,
            Some(id) => match self.store.client(id).await.within(ctx)? {
                Some(c) if c.tenant_id == caller.tenant_id => Some((c.pk, c.client_id)),
                _ => return Err(SeriesError::NotFound),
            },
        };
        let (since, until) = window.span(self.clock.now_ms());
        let query = SeriesQuery {
            tenant_id: caller.tenant_id,
            since,
            until,
            bucket_ms: window.bucket_ms(),
            client,
        };
        let batches = self.store.batch_series(&query).await.within(ctx)?;
        let auth = self.store.auth_series(&query).await.within(ctx)?;
        Ok(StatsSeries {
            window: window.label(),
            since,
            bucket_ms: query.bucket_ms,
            buckets: fill(window, since, &batches, &auth),
        })
    }
}

/// Every bucket of the window from the non-empty ones the store counted.
fn fill(
    window: SeriesWindow,
    since: UnixMillis,
    batches: &[BatchBucket],
    auth: &[AuthBucket],
) -> Vec<SeriesBucket> {
    let bucket_ms = window.bucket_ms();
    let mut buckets: Vec<SeriesBucket> = (0..window.buckets())
        .map(|i| SeriesBucket {
            at: since + i * bucket_ms,
            ..SeriesBucket::default()
        })
        .collect();
    let index = |at: UnixMillis| usize::try_from((at - since) / bucket_ms).ok();
    for b in batches {
        if let Some(slot) = index(b.bucket_at).and_then(|i| buckets.get_mut(i)) {
            slot.batches += b.batches;
            slot.refused_batches += b.refused_batches;
            slot.applied += b.applied;
            slot.duplicate += b.duplicate;
            slot.stale += b.stale;
            slot.rejected += b.rejected;
        }
    }
    for a in auth {
        if let Some(slot) = index(a.bucket_at).and_then(|i| buckets.get_mut(i)) {
            slot.tokens_issued += a.tokens_issued;
            slot.auth_failed += a.auth_failed;
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_window_ends_in_the_bucket_of_now_aligned_to_the_epoch() {
        let now = 1_800_000_123_456;
        for (window, count, bucket) in [
            (SeriesWindow::Hour, 12, 300_000),
            (SeriesWindow::Day, 24, 3_600_000),
            (SeriesWindow::Week, 28, 21_600_000),
        ] {
            let (since, until) = window.span(now);
            assert_eq!(since % bucket, 0, "{window:?} starts on a bucket boundary");
            assert_eq!((until - since) / bucket, count);
            assert!(
                until - bucket <= now && now < until,
                "now is in the last bucket"
            );
        }
    }

    #[test]
    fn every_bucket_is_present_with_zeros_where_nothing_happened() {
        let window = SeriesWindow::Hour;
        let (since, _) = window.span(1_800_000_000_000);
        let batches = [BatchBucket {
            bucket_at: since + 2 * 300_000,
            batches: 3,
            applied: 30,
            ..BatchBucket::default()
        }];
        let auth = [AuthBucket {
            bucket_at: since + 11 * 300_000,
            tokens_issued: 2,
            auth_failed: 1,
        }];
        let buckets = fill(window, since, &batches, &auth);
        assert_eq!(buckets.len(), 12);
        assert!(buckets.windows(2).all(|w| w[1].at - w[0].at == 300_000));
        assert_eq!((buckets[2].batches, buckets[2].applied), (3, 30));
        assert_eq!((buckets[11].tokens_issued, buckets[11].auth_failed), (2, 1));
        let busy = buckets.iter().filter(|b| {
            **b != SeriesBucket {
                at: b.at,
                ..Default::default()
            }
        });
        assert_eq!(busy.count(), 2);
    }

    #[test]
    fn only_the_three_windows_parse() {
        for label in ["1h", "24h", "7d"] {
            assert_eq!(SeriesWindow::parse(label).map(|w| w.label()), Some(label));
        }
        for bad in ["", "1d", "7D", "30d"] {
            assert_eq!(SeriesWindow::parse(bad), None);
        }
    }
}
