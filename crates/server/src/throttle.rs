//! Rate limiting and failed-authentication throttling, counted in the database so every
//! server instance sees the same counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kendrix_core::rate_limit::Limit;
use kendrix_core::UnixMillis;
use kendrix_store::{Admission, LimitedHit, RateHit, Store, StoreResult};

use crate::settings::RateLimits;

/// A verdict: go on, or wait this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over a limit; `failed_auth` tells whether it is the harsher failed-authentication block.
    Limited {
        retry_after_secs: u64,
        failed_auth: bool,
    },
}

/// The limits in force, as window rules, and this instance's share of the API counts.
#[derive(Debug, Clone)]
pub struct Throttle {
    token_per_client: Limit,
    token_per_address: Limit,
    api_per_client: Limit,
    failed_auth: Limit,
    api_counts: Arc<ApiCounts>,
}

/// API request counts: every request is counted here at once and sent to the database in
/// one batch every [`API_FLUSH_INTERVAL`], which answers with the total of all instances.
/// The token endpoint and failed authentications are counted in the database on each
/// request (they are rare and security-relevant); ordinary API traffic would otherwise cost
/// a write per request. Across instances the API limit therefore holds to within one flush
/// interval of the other instances' traffic; within one instance it is exact.
#[derive(Debug, Default)]
pub struct ApiCounts {
    windows: Mutex<HashMap<(String, UnixMillis), WindowCount>>,
}

/// How often API counts are exchanged with the database.
pub const API_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, Default, Clone, Copy)]
struct WindowCount {
    /// The shared total as of the last flush (this instance's flushed hits included).
    shared: i64,
    /// Hits counted here and not yet flushed.
    pending: i64,
}

impl ApiCounts {
    fn hit(&self, bucket: String, window_start: UnixMillis) -> i64 {
        let mut windows = self.windows.lock().expect("api counts lock");
        let count = windows.entry((bucket, window_start)).or_default();
        count.pending += 1;
        count.shared + count.pending
    }

    async fn flush(&self, store: &dyn Store, current_window: UnixMillis) -> StoreResult<()> {
        let hits: Vec<RateHit> = {
            let mut windows = self.windows.lock().expect("api counts lock");
            windows.retain(|(_, start), _| *start >= current_window);
            windows
                .iter_mut()
                .map(|((bucket, start), count)| {
                    let hit = RateHit {
                        bucket: bucket.clone(),
                        window_start: *start,
                        hits: count.pending,
                    };
                    count.pending = 0;
                    hit
                })
                .collect()
        };
        if hits.is_empty() {
            return Ok(());
        }
        let result = store.count_hits(&hits).await;
        let mut windows = self.windows.lock().expect("api counts lock");
        for (i, hit) in hits.iter().enumerate() {
            let count = windows
                .entry((hit.bucket.clone(), hit.window_start))
                .or_default();
            match &result {
                Ok(totals) => count.shared = totals[i],
                // Keep the hits for the next flush.
                Err(_) => count.pending += hit.hits,
            }
        }
        result.map(|_| ())
    }
}

impl Throttle {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            token_per_client: Limit::per_minute(limits.token_per_client_per_minute),
            token_per_address: Limit::per_minute(limits.token_per_address_per_minute),
            api_per_client: Limit::per_minute(limits.api_per_client_per_minute),
            failed_auth: Limit {
                // Reaching the maximum blocks: the next attempt would be one too many.
                max: limits.failed_auth_max - 1,
                window_ms: limits.failed_auth_window_secs.max(1) * 1000,
            },
            api_counts: Arc::default(),
        }
    }

    /// The counters one request to an OAuth endpoint touches, in the order of
    /// [`Self::oauth_limits`]: it adds to the request counters of its address and client id,
    /// and reads their failed-authentication counters (a hit of 0) to enforce the block.
    /// Give them to `Store::admit` together with the writes they guard.
    pub fn oauth_hits(&self, address: &str, client_id: &str, now: UnixMillis) -> Vec<LimitedHit> {
        let buckets = [
            format!("tok:addr:{address}"),
            format!("tok:client:{client_id}"),
            format!("fail:addr:{address}"),
            format!("fail:client:{client_id}"),
        ];
        buckets
            .into_iter()
            .zip(self.oauth_limits())
            .enumerate()
            .map(|(i, (bucket, limit))| LimitedHit {
                hit: RateHit {
                    bucket,
                    window_start: limit.window_start(now),
                    hits: if i < 2 { 1 } else { 0 },
                },
                max: Some(limit.max),
            })
            .collect()
    }

    fn oauth_limits(&self) -> [Limit; 4] {
        [
            self.token_per_address,
            self.token_per_client,
            self.failed_auth,
            self.failed_auth,
        ]
    }

    /// `Retry-After` for an OAuth request that `Store::admit` refused: the end of the
    /// longest window it is over.
    pub fn oauth_retry_after(&self, admission: &Admission, now: UnixMillis) -> u64 {
        admission
            .counts
            .iter()
            .zip(self.oauth_limits())
            .filter(|(count, limit)| limit.exceeded_by(**count))
            .map(|(_, limit)| limit.retry_after_secs(now))
            .max()
            .unwrap_or(1)
    }

    /// Counts an authenticated API request of one client and decides it from this
    /// instance's view of the shared count (see [`ApiCounts`]); no database round trip.
    pub fn api_request(&self, client_pk: i64, now: UnixMillis) -> Verdict {
        let limit = self.api_per_client;
        let count = self
            .api_counts
            .hit(format!("api:client:{client_pk}"), limit.window_start(now));
        if limit.exceeded_by(count) {
            Verdict::Limited {
                retry_after_secs: limit.retry_after_secs(now),
                failed_auth: false,
            }
        } else {
            Verdict::Allowed
        }
    }

    /// Sends this instance's API hits to the database and learns the other instances'.
    pub async fn flush_api_counts(&self, store: &dyn Store, now: UnixMillis) -> StoreResult<()> {
        self.api_counts
            .flush(store, self.api_per_client.window_start(now))
            .await
    }

    /// Records a failed authentication from `address` (and against `client_id`, if one was
    /// named). Returns the verdict for the next attempt, and whether this failure is the one
    /// that crossed the line (so the block is audited once, not once per attempt).
    pub async fn failed_auth(
        &self,
        store: &dyn Store,
        address: &str,
        client_id: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<(Verdict, bool)> {
        let start = self.failed_auth.window_start(now);
        let mut hits = vec![RateHit {
            bucket: format!("fail:addr:{address}"),
            window_start: start,
            hits: 1,
        }];
        if let Some(client_id) = client_id {
            hits.push(RateHit {
                bucket: format!("fail:client:{client_id}"),
                window_start: start,
                hits: 1,
            });
        }
        let counts = store.count_hits(&hits).await?;
        let max = self.failed_auth.max;
        let crossed = counts.iter().any(|&c| c == max + 1);
        let verdict = if counts.iter().any(|&c| self.failed_auth.exceeded_by(c)) {
            Verdict::Limited {
                retry_after_secs: self.failed_auth.retry_after_secs(now),
                failed_auth: true,
            }
        } else {
            Verdict::Allowed
        };
        Ok((verdict, crossed))
    }
}
