//! What every scenario needs: a real server on 127.0.0.1:0 on its own runtime, a registered
//! site, timed loads, and the result line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kendrix_core::ScopeSet;
use kendrix_core::SystemClock;
use kendrix_server::services::sites::Registration;
use kendrix_server::settings::RateLimits;
use kendrix_server::{App, RequestContext, Settings};
use kendrix_store::Store;
use serde::Serialize;

/// One scenario's result line.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub scenario: &'static str,
    pub description: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub baseline: f64,
    pub ratio: f64,
    pub target: &'static str,
    pub pass: bool,
    pub correct: bool,
    pub note: String,
}

impl Outcome {
    pub fn line(&self) -> String {
        format!(
            "{:<4} {:>12.1} {:<10} {:>12.1} {:>7.3} {:>6} {}{}",
            self.scenario,
            self.value,
            self.unit,
            self.baseline,
            self.ratio,
            self.target,
            if self.pass { "PASS" } else { "FAIL" },
            if self.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", self.note)
            }
        )
    }
}

/// A server under test and a site registered on it.
pub struct Bench {
    pub base: String,
    /// The server's services, for scenarios that call them directly (S12's pass).
    pub app: App,
    pub store: Arc<dyn Store>,
    pub site: Registration,
    pub tenant_id: i64,
}

impl Bench {
    /// Starts a server on `database_url` (created and migrated) inside `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime, database_url: &str) -> anyhow::Result<Self> {
        runtime.block_on(async {
            let mut settings = Settings {
                database_url: database_url.to_owned(),
                // The benchmark measures throughput, not the limits.
                rate_limits: RateLimits {
                    token_per_client_per_minute: i64::MAX / 2,
                    token_per_address_per_minute: i64::MAX / 2,
                    api_per_client_per_minute: i64::MAX / 2,
                    ..RateLimits::default()
                },
                ..Settings::default()
            };
            let store = kendrix_store::connect(database_url, settings.max_connections).await?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            settings.public_url = Some(base.clone());
            let app = App::new(store.clone(), settings, Arc::new(SystemClock));
            tokio::spawn(app.clone().serve(listener, std::future::pending()));
            let app_handle = app.clone();
            let ctx = RequestContext::cli();
            let tenant = app.sites.create_tenant(&ctx, "Bench").await?;
            let site = app
                .sites
                .register_client(&ctx, tenant.id, "Bench site", &ScopeSet::all_but_admin())
                .await?;
            Ok(Self {
                base,
                app: app_handle,
                store,
                site,
                tenant_id: tenant.id,
            })
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn token(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let body: serde_json::Value = http
            .post(self.url("/oauth/token"))
            .basic_auth(&self.site.client_id, Some(&self.site.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .json()
            .await?;
        Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
    }
}

/// The result of one throughput phase.
pub struct Load {
    pub per_second: f64,
    pub ok: u64,
    pub failed: u64,
}

/// Sends requests made by `make` from `concurrency` tasks for `seconds`; counts 2xx answers.
pub async fn throughput<F>(concurrency: usize, seconds: f64, make: F) -> Load
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("http client");
    let make = Arc::new(make);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, make, ok, failed) = (http.clone(), make.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match make(&http).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    Load {
        per_second: ok as f64 / elapsed,
        ok,
        failed: failed.load(Ordering::Relaxed),
    }
}

/// Latencies, in microseconds and sorted, of `count` sequential requests made by `make`,
/// and how many did not succeed.
pub async fn latencies_us<F>(
    http: &reqwest::Client,
    count: usize,
    make: F,
) -> anyhow::Result<(Vec<f64>, u64)>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
{
    let mut samples = Vec::with_capacity(count);
    let mut failed = 0;
    for _ in 0..count {
        let started = Instant::now();
        let response = make(http).send().await?;
        let ok = response.status().is_success();
        let _ = response.bytes().await?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        if !ok {
            failed += 1;
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok((samples, failed))
}

/// The `p`-quantile (0..1) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
