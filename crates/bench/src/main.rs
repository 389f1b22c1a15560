//! `kendrix-bench`: runs the benchmark scenarios of `shared/bench.md` that exist so far and
//! prints one line per scenario — `scenario value unit baseline ratio target PASS|FAIL` — and
//! the same as JSON. Every target is a ratio against a baseline measured in the same run;
//! every scenario also checks its own correctness, so a fast wrong answer fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use kendrix_core::ScopeSet;
use kendrix_server::admin;
use kendrix_server::settings::RateLimits;
use kendrix_server::{AppState, Settings, SystemClock};
use serde::Serialize;

/// Runs the Kendrix Sync benchmarks (release build recommended: `cargo run --release -p kendrix-bench`).
#[derive(Debug, Parser)]
#[command(name = "kendrix-bench", version)]
struct Args {
    /// Seconds each load phase runs.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Where the JSON results go.
    #[arg(long, default_value = "target/bench/results.json")]
    out: std::path::PathBuf,
    /// Run only scenarios whose name is listed (e.g. --only S4,S5).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Outcome {
    scenario: &'static str,
    description: &'static str,
    value: f64,
    unit: &'static str,
    baseline: f64,
    ratio: f64,
    target: String,
    pass: bool,
    correct: bool,
    note: String,
}

impl Outcome {
    fn line(&self) -> String {
        format!(
            "{:<4} {:>12.1} {:<10} {:>12.1} {:>7.3} {:>8} {}{}",
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

/// The result of one load phase.
struct Load {
    per_second: f64,
    ok: u64,
    failed: u64,
}

/// Sends requests made by `make` from `concurrency` tasks for `seconds`; counts 2xx answers.
async fn load<F>(concurrency: usize, seconds: f64, make: F) -> Load
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

fn wanted(args: &Args, scenario: &str) -> bool {
    args.only.is_empty() || args.only.iter().any(|s| s.eq_ignore_ascii_case(scenario))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The server gets its own runtime so the load generator does not starve its workers.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (base, store) = server_rt.block_on(async {
        let mut settings = Settings {
            database_url: url.clone(),
            // The benchmark measures throughput, not the limits.
            rate_limits: RateLimits {
                token_per_client_per_minute: i64::MAX / 2,
                token_per_address_per_minute: i64::MAX / 2,
                api_per_client_per_minute: i64::MAX / 2,
                ..RateLimits::default()
            },
            ..Settings::default()
        };
        let store = kendrix_store::connect(&url, settings.max_connections).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        settings.public_url = Some(base.clone());
        let state = AppState::new(store.clone(), settings, Arc::new(SystemClock));
        tokio::spawn(kendrix_server::app::serve(
            state,
            listener,
            std::future::pending(),
        ));
        anyhow::Ok((base, store))
    })?;
    let site = server_rt.block_on(async {
        let ctx = admin::cli_context();
        let tenant = admin::create_tenant(&*store, &SystemClock, &ctx, "Bench").await?;
        admin::register_client(
            &*store,
            &SystemClock,
            &ctx,
            tenant.id,
            "Bench site",
            &ScopeSet::all(),
            &base,
        )
        .await
    })?;

    let mut outcomes = Vec::new();
    client_rt.block_on(async {
        let health_url = format!("{base}/health");
        let health = load(args.concurrency, args.seconds, move |h| h.get(&health_url)).await;
        if health.failed > 0 || health.ok == 0 {
            bail!("GET /health failed {} times", health.failed);
        }
        println!(
            "baseline GET /health: {:.1} req/s ({} requests)",
            health.per_second, health.ok
        );
        println!(
            "{:<4} {:>12} {:<10} {:>12} {:>7} {:>8} RESULT",
            "", "value", "unit", "baseline", "ratio", "target"
        );

        if wanted(&args, "S4") {
            let audit_before = store.audit_entries(0, i64::MAX).await?.len() as u64;
            let token_url = format!("{base}/oauth/token");
            let (id, secret) = (site.client_id.clone(), site.client_secret.clone());
            let tokens = load(args.concurrency, args.seconds, move |h| {
                h.post(&token_url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
            })
            .await;
            let issued = store.audit_entries(0, i64::MAX).await?.len() as u64 - audit_before;
            let correct = tokens.failed == 0 && issued == tokens.ok;
            let ratio = tokens.per_second / health.per_second;
            outcomes.push(Outcome {
                scenario: "S4",
                description: "token endpoint, client credentials, keep-alive, concurrent",
                value: tokens.per_second,
                unit: "tokens/s",
                baseline: health.per_second,
                ratio,
                target: ">=0.3".into(),
                pass: correct && ratio >= 0.3,
                correct,
                note: format!(
                    "{} tokens, {} audited, {} failed",
                    tokens.ok, issued, tokens.failed
                ),
            });
        }

        if wanted(&args, "S5") {
            let token: serde_json::Value = reqwest::Client::new()
                .post(format!("{base}/oauth/token"))
                .basic_auth(&site.client_id, Some(&site.client_secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await?
                .json()
                .await?;
            let token = token["access_token"]
                .as_str()
                .context("access token")?
                .to_owned();
            let versions_url = format!("{base}/sync/versions");
            let authed = load(args.concurrency, args.seconds, move |h| {
                h.get(&versions_url).bearer_auth(&token)
            })
            .await;
            let correct = authed.failed == 0 && authed.ok > 0;
            let ratio = authed.per_second / health.per_second;
            outcomes.push(Outcome {
                scenario: "S5",
                description: "authenticated GET /sync/versions vs GET /health",
                value: authed.per_second,
                unit: "req/s",
                baseline: health.per_second,
                ratio,
                target: ">=0.5".into(),
                pass: correct && ratio >= 0.5,
                correct,
                note: format!("{} requests, {} failed", authed.ok, authed.failed),
            });
        }
        anyhow::Ok(())
    })?;

    for outcome in &outcomes {
        println!("{}", outcome.line());
    }
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&outcomes)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("results written to {}", args.out.display());
    if outcomes.iter().any(|o| !o.correct) {
        bail!("a scenario produced a wrong result");
    }
    Ok(())
}
