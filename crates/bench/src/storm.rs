//! S10, the boot storm: 200 sites released at once, each sending its backlog, against one
//! server that admits `max_concurrent_batches` batches and answers the rest 503 with
//! `Retry-After` (the sites wait that plus full jitter). What an admitted site feels is the
//! point: the p99 latency of the batches the server took, during the storm, against the p99
//! of the same batches sent one at a time to an idle server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kendrix_core::{ScopeSet, SystemClock};
use kendrix_server::{App, RequestContext, Settings};
use rand::Rng;
use serde_json::{json, Value};

use crate::harness::{percentile, Bench};

pub const SITES: usize = 200;
const BATCHES_PER_SITE: usize = 2;
const RECORDS_PER_BATCH: usize = 100;

/// A site's batch bodies, formed before the clock starts.
fn bodies(site: usize) -> Vec<String> {
    (0..BATCHES_PER_SITE)
        .map(|batch| {
            let records: Vec<Value> = (0..RECORDS_PER_BATCH)
                .map(|n| {
                    json!({"entity": "orders", "id": format!("s{site}-{batch}-{n}"), "op": "upsert",
                           "version": "1800000000000-0000-storm",
                           "data": {"site": site, "n": n, "total": n as f64 * 1.25}})
                })
                .collect();
            json!({ "records": records }).to_string()
        })
        .collect()
}

/// Registers `count` sites on the bench server's tenant; their client ids and secrets.
pub async fn register_sites(bench: &Bench, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let app = App::new(
        bench.store.clone(),
        Settings::default(),
        Arc::new(SystemClock),
    );
    let ctx = RequestContext::cli();
    let mut sites = Vec::with_capacity(count);
    for n in 0..count {
        let reg = app
            .sites
            .register_client(
                &ctx,
                bench.tenant_id,
                &format!("Storm {n}"),
                &ScopeSet::site_default(),
            )
            .await?;
        sites.push((reg.client_id, reg.client_secret));
    }
    Ok(sites)
}

async fn token(
    http: &reqwest::Client,
    bench: &Bench,
    id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    loop {
        let response = http
            .post(bench.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?;
        if response.status().is_success() {
            let body: Value = response.json().await?;
            return Ok(body["access_token"].as_str().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(0..200))).await;
    }
}

/// What one site saw: admitted latencies (µs) and records applied.
struct SiteRun {
    admitted_us: Vec<f64>,
    applied: u64,
    shed: u64,
}

/// Sends each body until it is answered 200, honouring `Retry-After` plus full jitter.
async fn send_all(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    prefix: &str,
    bodies: &[String],
) -> anyhow::Result<SiteRun> {
    let mut run = SiteRun {
        admitted_us: Vec::new(),
        applied: 0,
        shed: 0,
    };
    for (n, body) in bodies.iter().enumerate() {
        let key = format!("{prefix}-{n}");
        for attempt in 0u32.. {
            let started = Instant::now();
            let response = http
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", &key)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await?;
            let status = response.status().as_u16();
            if status == 200 {
                let answer: Value = response.json().await?;
                run.admitted_us.push(started.elapsed().as_secs_f64() * 1e6);
                run.applied += answer["counts"]["applied"].as_u64().unwrap_or(0);
                break;
            }
            anyhow::ensure!(matches!(status, 409 | 429 | 503), "batch answered {status}");
            run.shed += u64::from(status == 503);
            let floor_ms = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1000;
            let window_ms = (100u64 << attempt.min(5)).min(2_000);
            let wait = floor_ms + rand::thread_rng().gen_range(0..=window_ms);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
    Ok(run)
}

/// The idle p99 and the storm's admitted p99 (µs), records applied, batches shed.
pub async fn measure(bench: &Bench) -> anyhow::Result<(f64, f64, u64, u64)> {
    let sites = register_sites(bench, SITES + 1).await?;
    let url = bench.url("/sync/batches");
    // Idle: one site sends 50 batches of the same size, one at a time.
    let http = reqwest::Client::new();
    let (idle_id, idle_secret) = &sites[SITES];
    let idle_token = token(&http, bench, idle_id, idle_secret).await?;
    let idle_bodies: Vec<String> = (0..25).flat_map(|n| bodies(SITES + 1 + n)).collect();
    let mut idle = send_all(&http, &url, &idle_token, "idle", &idle_bodies)
        .await?
        .admitted_us;
    idle.sort_by(f64::total_cmp);

    // The storm: every site gets its token, then all are released at once.
    let release = Arc::new(tokio::sync::Barrier::new(SITES));
    let mut tasks = Vec::with_capacity(SITES);
    for (n, (id, secret)) in sites.into_iter().take(SITES).enumerate() {
        let http = reqwest::Client::new();
        let token = token(&http, bench, &id, &secret).await?;
        let (url, release, bodies) = (url.clone(), release.clone(), bodies(n));
        tasks.push(tokio::spawn(async move {
            release.wait().await;
            send_all(&http, &url, &token, &format!("storm-{n}"), &bodies).await
        }));
    }
    let (mut admitted, mut applied, mut shed) = (Vec::new(), 0, 0);
    for task in tasks {
        let run = task.await??;
        admitted.extend(run.admitted_us);
        applied += run.applied;
        shed += run.shed;
    }
    admitted.sort_by(f64::total_cmp);
    Ok((
        percentile(&idle, 0.99),
        percentile(&admitted, 0.99),
        applied,
        shed,
    ))
}

/// Records the storm must apply: every site's batches.
pub fn expected_records() -> u64 {
    (SITES * BATCHES_PER_SITE * RECORDS_PER_BATCH) as u64
}
