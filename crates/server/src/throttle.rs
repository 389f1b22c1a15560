//! Rate limiting and failed-authentication throttling, counted in the database so every
//! server instance sees the same counts. One `count_hits` round trip per decision.

use kendrix_core::rate_limit::Limit;
use kendrix_core::UnixMillis;
use kendrix_store::{RateHit, Store, StoreResult};

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

/// The limits in force, as window rules.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    token_per_client: Limit,
    token_per_address: Limit,
    api_per_client: Limit,
    failed_auth: Limit,
}

struct Check {
    hit: RateHit,
    limit: Limit,
    failed_auth: bool,
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
        }
    }

    fn check(bucket: String, limit: Limit, now: UnixMillis, hits: i64, failed_auth: bool) -> Check {
        Check {
            hit: RateHit {
                bucket,
                window_start: limit.window_start(now),
                hits,
            },
            limit,
            failed_auth,
        }
    }

    async fn decide(
        store: &dyn Store,
        checks: Vec<Check>,
        now: UnixMillis,
    ) -> StoreResult<Verdict> {
        let hits: Vec<RateHit> = checks.iter().map(|c| c.hit.clone()).collect();
        let counts = store.count_hits(&hits).await?;
        // The failed-authentication block wins: it is the longer wait.
        let mut verdict = Verdict::Allowed;
        for (check, count) in checks.iter().zip(counts) {
            if check.limit.exceeded_by(count) {
                let limited = Verdict::Limited {
                    retry_after_secs: check.limit.retry_after_secs(now),
                    failed_auth: check.failed_auth,
                };
                if check.failed_auth || verdict == Verdict::Allowed {
                    verdict = limited;
                }
            }
        }
        Ok(verdict)
    }

    /// Counts a request to an OAuth endpoint from `address` claiming to be `client_id`, and
    /// checks whether either has failed authentication too often.
    pub async fn oauth_request(
        &self,
        store: &dyn Store,
        address: &str,
        client_id: &str,
        now: UnixMillis,
    ) -> StoreResult<Verdict> {
        let checks = vec![
            Self::check(
                format!("tok:addr:{address}"),
                self.token_per_address,
                now,
                1,
                false,
            ),
            Self::check(
                format!("tok:client:{client_id}"),
                self.token_per_client,
                now,
                1,
                false,
            ),
            Self::check(
                format!("fail:addr:{address}"),
                self.failed_auth,
                now,
                0,
                true,
            ),
            Self::check(
                format!("fail:client:{client_id}"),
                self.failed_auth,
                now,
                0,
                true,
            ),
        ];
        Self::decide(store, checks, now).await
    }

    /// Counts an authenticated API request of one client.
    pub async fn api_request(
        &self,
        store: &dyn Store,
        client_pk: i64,
        address: &str,
        now: UnixMillis,
    ) -> StoreResult<Verdict> {
        let checks = vec![
            Self::check(
                format!("api:client:{client_pk}"),
                self.api_per_client,
                now,
                1,
                false,
            ),
            Self::check(
                format!("fail:addr:{address}"),
                self.failed_auth,
                now,
                0,
                true,
            ),
        ];
        Self::decide(store, checks, now).await
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
        let mut checks = vec![Self::check(
            format!("fail:addr:{address}"),
            self.failed_auth,
            now,
            1,
            true,
        )];
        if let Some(client_id) = client_id {
            checks.push(Self::check(
                format!("fail:client:{client_id}"),
                self.failed_auth,
                now,
                1,
                true,
            ));
        }
        let hits: Vec<RateHit> = checks.iter().map(|c| c.hit.clone()).collect();
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
