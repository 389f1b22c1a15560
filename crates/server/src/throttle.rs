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
    /// Expensive reads (a whole-chain verification) of one client.
    expensive_per_client: Limit,
    /// Failures of one (address, client) pair.
    failed_auth: Limit,
    /// Failures from one address, whatever client they name.
    failed_auth_per_address: Limit,
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
    /// Hits on their way to the database in a flush now under way (not in `shared` yet).
    in_flight: i64,
    /// Hits counted here and not yet flushed.
    pending: i64,
}

impl ApiCounts {
    fn hit(&self, bucket: String, window_start: UnixMillis) -> i64 {
        let mut windows = self.windows.lock().expect("api counts lock");
        let count = windows.entry((bucket, window_start)).or_default();
        count.pending += 1;
        // Hits of a flush under way count too: a slow database must not let more through.
        count.shared + count.in_flight + count.pending
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
                    count.in_flight = count.pending;
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
            count.in_flight = 0;
        }
        result.map(|_| ())
    }
}

impl Throttle {
    pub fn new(limits: &RateLimits) -> Self {
        // Reaching a maximum blocks: the next attempt would be one too many.
        let failures = |max: i64| Limit {
            max: max - 1,
            window_ms: limits.failed_auth_window_secs.max(1) * 1000,
        };
        Self {
            token_per_client: Limit::per_minute(limits.token_per_client_per_minute),
            token_per_address: Limit::per_minute(limits.token_per_address_per_minute),
            api_per_client: Limit::per_minute(limits.api_per_client_per_minute),
            expensive_per_client: Limit::per_minute(limits.verify_per_client_per_minute),
            failed_auth: failures(limits.failed_auth_max),
            failed_auth_per_address: failures(limits.failed_auth_max_per_address),
            api_counts: Arc::default(),
        }
    }

    /// Decides, before any secret is looked at, whether a login of `client_id` (an existing
    /// client; `None` for an id nobody has) from `address` may be tried. Failures are counted
    /// per (address, client) and per address — never per client alone, so a stranger cannot
    /// lock a site out by failing in its name. The pair blocked refuses; the address blocked
    /// refuses every client that has not logged in from it lately, and only slows down one
    /// that has (so one misbehaving machine behind a NAT does not stop its neighbours).
    pub async fn login_gate(
        &self,
        store: &dyn Store,
        address: &str,
        client_id: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<LoginGate> {
        let fail_start = self.failed_auth.window_start(now);
        let mut windows = vec![(address_failures(address), fail_start)];
        if let Some(client_id) = client_id {
            windows.push((pair_failures(address, client_id), fail_start));
            let known = known_pair(address, client_id);
            let current = KNOWN_LOGINS.window_start(now);
            windows.push((known.clone(), current));
            windows.push((known, current - KNOWN_LOGINS.window_ms));
        }
        let counts = store.rate_counts(&windows).await?;
        let blocked = LoginGate::Blocked {
            retry_after_secs: self.failed_auth.retry_after_secs(now),
        };
        if counts
            .get(1)
            .is_some_and(|&n| self.failed_auth.exceeded_by(n))
        {
            return Ok(blocked);
        }
        if self.failed_auth_per_address.exceeded_by(counts[0]) {
            let known = counts.get(2..).is_some_and(|c| c.iter().any(|&n| n > 0));
            return Ok(if known { LoginGate::SlowDown } else { blocked });
        }
        Ok(LoginGate::Open)
    }

    /// The counters a successful login touches, in the order of [`Self::oauth_limits`]: the
    /// token request counters of its address and client, the failures of the (address,
    /// client) pair (a hit of 0: read, to refuse atomically a pair blocked meanwhile), and
    /// the record that this client logs in from this address (which [`Self::login_gate`]
    /// reads). Give them to `Store::admit` together with the writes they guard.
    pub fn oauth_hits(&self, address: &str, client_id: &str, now: UnixMillis) -> Vec<LimitedHit> {
        let buckets = [
            (format!("tok:addr:{address}"), 1),
            (format!("tok:client:{client_id}"), 1),
            (pair_failures(address, client_id), 0),
            (known_pair(address, client_id), 1),
        ];
        buckets
            .into_iter()
            .zip(self.oauth_limits())
            .map(|((bucket, hits), limit)| LimitedHit {
                hit: RateHit {
                    bucket,
                    window_start: limit.window_start(now),
                    hits,
                },
                max: (limit.max != i64::MAX).then_some(limit.max),
            })
            .collect()
    }

    fn oauth_limits(&self) -> [Limit; 4] {
        [
            self.token_per_address,
            self.token_per_client,
            self.failed_auth,
            KNOWN_LOGINS,
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
        self.count_shared(format!("api:client:{client_pk}"), self.api_per_client, now)
    }

    /// Counts an expensive read (see `RateLimits::verify_per_client_per_minute`) of one
    /// client and decides it like [`Self::api_request`].
    pub fn expensive_read(&self, client_pk: i64, now: UnixMillis) -> Verdict {
        let bucket = format!("verify:client:{client_pk}");
        self.count_shared(bucket, self.expensive_per_client, now)
    }

    /// Counts a hit of `bucket` in [`ApiCounts`] and decides it against `limit`.
    fn count_shared(&self, bucket: String, limit: Limit, now: UnixMillis) -> Verdict {
        let count = self.api_counts.hit(bucket, limit.window_start(now));
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

    /// Records a failed authentication from `address` (and against the pair of `address`
    /// and `client_id`, when that names an existing client: ids nobody has leave no counter
    /// behind). Returns the verdict for the next attempt, and whether this failure is the one
    /// that crossed a line (so the block is audited once, not once per attempt).
    pub async fn failed_auth(
        &self,
        store: &dyn Store,
        address: &str,
        client_id: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<(Verdict, bool)> {
        let start = self.failed_auth.window_start(now);
        let mut hits = vec![RateHit {
            bucket: address_failures(address),
            window_start: start,
            hits: 1,
        }];
        let mut limits = vec![self.failed_auth_per_address];
        if let Some(client_id) = client_id {
            hits.push(RateHit {
                bucket: pair_failures(address, client_id),
                window_start: start,
                hits: 1,
            });
            limits.push(self.failed_auth);
        }
        let counts = store.count_hits(&hits).await?;
        let over = |(count, limit): (&i64, &Limit)| limit.exceeded_by(*count);
        let crossed = counts
            .iter()
            .zip(&limits)
            .any(|(count, limit)| *count == limit.max + 1);
        let verdict = if counts.iter().zip(&limits).any(over) {
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

/// What [`Throttle::login_gate`] lets a login do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    Open,
    /// The address is failing, but this client logs in from it: go on, after a pause.
    SlowDown,
    /// Refused whatever the secret; the secret is not even compared.
    Blocked {
        retry_after_secs: u64,
    },
}

/// How long a known client waits to log in from an address that is failing.
pub const SLOW_DOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// A client "logs in from an address" when it did in this window or the one before: 12–24
/// hours, inside the day that rate-limit windows are kept.
const KNOWN_LOGINS: Limit = Limit {
    max: i64::MAX,
    window_ms: 12 * 3600 * 1000,
};

fn address_failures(address: &str) -> String {
    format!("fail:addr:{address}")
}

fn pair_failures(address: &str, client_id: &str) -> String {
    format!("fail:pair:{address}|{client_id}")
}

fn known_pair(address: &str, client_id: &str) -> String {
    format!("ok:pair:{address}|{client_id}")
}
