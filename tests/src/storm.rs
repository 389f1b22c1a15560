//! A boot storm: many sites coming back at once after an outage. Each simulated site is a
//! thin HTTP client doing what the agent does — a token by client credentials, then its
//! batches under fixed Idempotency-Keys — and, on 503, 429 or 409, waiting the server's
//! `Retry-After` plus a full-jitter backoff before sending the same batch again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kendrix_core::{ScopeSet, SystemClock};
use kendrix_server::{App, RequestContext};
use rand::Rng;
use serde_json::{json, Value};

use crate::{test_settings, TestDb};

/// A registered site's credentials.
#[derive(Debug, Clone)]
pub struct StormSite {
    pub index: usize,
    pub client_id: String,
    pub secret: String,
}

/// Registers `count` sites in a new tenant of the database; the tenant's id and the sites.
pub async fn register_sites(db: &TestDb, count: usize) -> (i64, Vec<StormSite>) {
    let app = App::new(
        db.store().await,
        test_settings(&db.url),
        Arc::new(SystemClock),
    );
    let ctx = RequestContext::cli();
    let tenant = app.sites.create_tenant(&ctx, "Storm").await.unwrap();
    let scopes = ScopeSet::site_default();
    let mut sites = Vec::with_capacity(count);
    for index in 0..count {
        let reg = app
            .sites
            .register_client(&ctx, tenant.id, &format!("Store {index}"), &scopes)
            .await
            .expect("register site");
        sites.push(StormSite {
            index,
            client_id: reg.client_id,
            secret: reg.client_secret,
        });
    }
    (tenant.id, sites)
}

/// The rows of one site's batch: `per_batch` orders with `pad` bytes of text each.
pub fn batch_rows(site: usize, batch: usize, per_batch: usize, pad: usize) -> Vec<Value> {
    (0..per_batch)
        .map(|n| {
            json!({
                "id": format!("s{site}-b{batch}-{n}"),
                "site": site,
                "total": (site * 7 + n) % 1000,
                "note": "x".repeat(pad),
            })
        })
        .collect()
}

fn batch_body(rows: &[Value]) -> String {
    let records: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({"entity": "orders", "id": row["id"], "op": "upsert",
                   "version": "1732838400123-0000-storm", "data": row})
        })
        .collect();
    json!({ "records": records }).to_string()
}

/// What one simulated site saw.
#[derive(Debug, Default, Clone)]
pub struct SiteTally {
    /// Records the server reported applied (in first answers, not replays).
    pub applied: u64,
    /// 503 answers to a batch, each with a `Retry-After`.
    pub shed: u64,
    /// 503 answers without a `Retry-After` header (should be none).
    pub shed_without_retry_after: u64,
    /// Latencies of the batch requests the server admitted (2xx), in microseconds.
    pub admitted_us: Vec<u64>,
}

/// Waits the server's `Retry-After` (if any) plus a full-jitter backoff for `attempt`.
async fn back_off(retry_after: Option<u64>, attempt: u32) {
    let window_ms = (100u64 << attempt.min(5)).min(2_000);
    let jitter = rand::thread_rng().gen_range(0..=window_ms);
    let floor = retry_after.unwrap_or(0) * 1000;
    tokio::time::sleep(Duration::from_millis(floor + jitter)).await;
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Whether a status is one a site retries: load shed, rate limited, key in flight, or a
/// server that is not answering properly yet.
fn retryable(status: u16) -> bool {
    matches!(status, 409 | 429 | 502 | 503 | 504)
}

/// Runs one site: a token, then `batches` batches of `per_batch` rows, each sent until it is
/// answered 200. Panics if the server refuses anything outright or it takes over `deadline`.
pub async fn run_site(
    base: &str,
    site: &StormSite,
    batches: usize,
    per_batch: usize,
    pad: usize,
    deadline: Instant,
) -> SiteTally {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut tally = SiteTally::default();
    let mut attempt = 0;
    let token = loop {
        assert!(
            Instant::now() < deadline,
            "site {} got no token",
            site.index
        );
        match http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&site.client_id, Some(&site.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => {
                let body: Value = r.json().await.unwrap();
                break body["access_token"].as_str().unwrap().to_owned();
            }
            Ok(r) if retryable(r.status().as_u16()) => back_off(retry_after(&r), attempt).await,
            Ok(r) => panic!(
                "token refused with {}: {}",
                r.status(),
                r.text().await.unwrap()
            ),
            Err(_) => back_off(None, attempt).await,
        }
        attempt += 1;
    };
    for batch in 0..batches {
        let body = batch_body(&batch_rows(site.index, batch, per_batch, pad));
        let key = format!("storm-{}-{batch}", site.index);
        let mut attempt = 0;
        loop {
            assert!(
                Instant::now() < deadline,
                "site {} batch {batch} was never applied",
                site.index
            );
            let started = Instant::now();
            let sent = http
                .post(format!("{base}/sync/batches"))
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 200 => {
                    let replayed = r.headers().contains_key("idempotent-replayed");
                    let answer: Value = r.json().await.unwrap();
                    tally.admitted_us.push(started.elapsed().as_micros() as u64);
                    if !replayed {
                        tally.applied += answer["counts"]["applied"].as_u64().unwrap();
                    }
                    break;
                }
                Ok(r) if retryable(r.status().as_u16()) => {
                    let wait = retry_after(&r);
                    if r.status() == 503 {
                        match wait {
                            Some(_) => tally.shed += 1,
                            None => tally.shed_without_retry_after += 1,
                        }
                    }
                    back_off(wait, attempt).await;
                }
                Ok(r) => panic!(
                    "batch refused with {}: {}",
                    r.status(),
                    r.text().await.unwrap()
                ),
                // A connection reset under load: the same key and body again.
                Err(_) => back_off(None, attempt).await,
            }
            attempt += 1;
        }
    }
    tally
}

/// The peak resident set of a process so far (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_field_kib(pid, "VmHWM:")
}

/// The current resident set of a process (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_field_kib(pid, "VmRSS:")
}

fn status_field_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
