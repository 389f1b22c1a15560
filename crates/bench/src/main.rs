//! `kendrix-bench`: runs the benchmark scenarios of `shared/bench.md` implemented so far and
//! prints one line per scenario — `scenario value unit baseline ratio target PASS|FAIL` — and
//! the same as JSON. Every target is a ratio against a baseline measured in the same run;
//! every scenario also checks its own correctness, so a fast wrong answer fails.

// The same allocator as the kendrix-server binary, since the server runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agent;
mod audit;
mod fleet;
mod harness;
mod ingest;
mod storm;

use anyhow::{bail, Context};
use clap::Parser;
use harness::{latencies_us, percentile, throughput, Bench, Outcome};

/// Runs the Kendrix Sync benchmarks. Use a release build: `cargo run --release -p kendrix-bench`.
#[derive(Debug, Parser)]
#[command(name = "kendrix-bench", version)]
struct Args {
    /// Seconds each throughput phase runs (S4, S5 and their baseline).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrent keep-alive connections for the throughput phases.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Records in the ingest scenarios (S1, S2, S7), sent in batches of 1000.
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// PostgreSQL admin connection for S7; a database is created for the run and dropped.
    #[arg(
        long,
        env = "KENDRIX_TEST_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// Where the JSON results go.
    #[arg(long, default_value = "target/bench/results.json")]
    out: std::path::PathBuf,
    /// Queued records drained in S8's large run (its baseline drains 10k).
    #[arg(long, default_value_t = 1_000_000)]
    s8_records: usize,
    /// Run only these scenarios, e.g. --only S1,S4.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    fn wanted(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s.eq_ignore_ascii_case(scenario))
    }
}

/// Builds an outcome; `higher_is_better` decides which way the target points.
#[allow(clippy::too_many_arguments)]
fn outcome(
    scenario: &'static str,
    description: &'static str,
    value: f64,
    unit: &'static str,
    baseline: f64,
    target: f64,
    higher_is_better: bool,
    correct: bool,
    note: String,
) -> Outcome {
    let ratio = value / baseline;
    let meets = if higher_is_better {
        ratio >= target
    } else {
        ratio <= target
    };
    Outcome {
        scenario,
        description,
        value,
        unit,
        baseline,
        ratio,
        target: if higher_is_better {
            Box::leak(format!(">={target}").into_boxed_str())
        } else {
            Box::leak(format!("<={target}").into_boxed_str())
        },
        pass: correct && meets,
        correct,
        note,
    }
}

fn main() -> anyhow::Result<()> {
    // S8 measures a separate process: the bench re-runs itself to drain one agent.
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == agent::DRAIN_COMMAND) {
        let dir = raw.get(2).context("agent-drain needs the agent's folder")?;
        return agent::drain_child(std::path::Path::new(dir));
    }
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
    let bench = Bench::start(
        &server_rt,
        &format!("sqlite://{}", dir.path().join("bench.db").display()),
    )?;
    let http = reqwest::Client::new();
    let mut outcomes = Vec::new();

    println!(
        "{:<4} {:>12} {:<10} {:>12} {:>7} {:>6} RESULT",
        "", "value", "unit", "baseline", "ratio", "target"
    );
    client_rt.block_on(async {
        let token = bench.token(&http).await?;
        if args.wanted("S4") || args.wanted("S5") {
            let health_url = bench.url("/health");
            let health = throughput(args.concurrency, args.seconds, move |h| h.get(&health_url)).await;
            if health.failed > 0 || health.ok == 0 {
                bail!("GET /health failed {} times", health.failed);
            }
            if args.wanted("S4") {
                let issued_before = bench.store.audit_entries(0, i64::MAX).await?.len() as u64;
                let (url, id, secret) = (bench.url("/oauth/token"), bench.site.client_id.clone(), bench.site.client_secret.clone());
                let tokens = throughput(args.concurrency, args.seconds, move |h| {
                    h.post(&url).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")])
                })
                .await;
                let audited = bench.store.audit_entries(0, i64::MAX).await?.len() as u64 - issued_before;
                let correct = tokens.failed == 0 && audited == tokens.ok;
                let o = outcome("S4", "token endpoint, client credentials, keep-alive, concurrent", tokens.per_second, "tokens/s",
                    health.per_second, 0.3, true, correct, format!("{} tokens, {} audited, {} failed", tokens.ok, audited, tokens.failed));
                println!("{}", o.line());
                outcomes.push(o);
            }
            if args.wanted("S5") {
                let (url, bearer) = (bench.url("/sync/versions"), token.clone());
                let authed = throughput(args.concurrency, args.seconds, move |h| h.get(&url).bearer_auth(&bearer)).await;
                let o = outcome("S5", "authenticated GET /sync/versions vs GET /health", authed.per_second, "req/s",
                    health.per_second, 0.5, true, authed.failed == 0 && authed.ok > 0, format!("{} requests, {} failed", authed.ok, authed.failed));
                println!("{}", o.line());
                outcomes.push(o);
            }
        }

        if args.wanted("S1") || args.wanted("S2") || args.wanted("S3") {
            let first = ingest::rows(args.records, 1);
            let raw = tokio::task::block_in_place(|| ingest::raw_sqlite_rate(&ingest::stored_rows(&first)))?;
            // S1 proper: the records wait in an agent's outbox; one Sync Now drains them
            // through HTTP into a server of their own (a fresh database).
            {
                let agent_dir = tempfile::tempdir()?;
                let agent_server = tokio::task::block_in_place(|| {
                    Bench::start(&server_rt, &format!("sqlite://{}", agent_dir.path().join("server.db").display()))
                })?;
                let engine = agent::enrolled_agent(&agent_dir.path().join("agent"), &agent_server).await?;
                agent::fill(&engine, &first, "orders").await?;
                let (rate, drained) = agent::drain(&engine, args.records).await?;
                let correct = drained && ingest::server_state(&agent_server).await? == ingest::expected_state(&first);
                let o = outcome("S1", "end-to-end: agent outbox -> HTTP -> server (SQLite), batches of 1000, vs raw rusqlite insert", rate, "records/s",
                    raw, 0.5, true, correct, format!("{} records, checksum {}", args.records, if correct { "equal" } else { "DIFFERENT" }));
                println!("{}", o.line());
                outcomes.push(o);
            }
            // The server side alone (pre-formed batches, 4 in flight): S2's baseline.
            let first_bodies = ingest::bodies(&first);
            let (s1_rate, counts) = ingest::post_all(&bench, &http, &token, &first_bodies, "s1").await?;
            let correct = counts.get("applied") == Some(&(args.records as u64))
                && ingest::server_state(&bench).await? == ingest::expected_state(&first);
            let o = outcome("S1h", "server ingest alone: pre-formed batches over HTTP, 4 in flight, vs raw rusqlite insert", s1_rate, "records/s",
                raw, 0.5, true, correct, format!("{} records, checksum {}", args.records, if correct { "equal" } else { "DIFFERENT" }));
            println!("{}", o.line());
            outcomes.push(o);

            if args.wanted("S2") {
                // 80% newer, 10% older (stale), 10% repeated (duplicate).
                let older = ingest::rows(args.records, 0);
                let newer = ingest::rows(args.records, 2);
                let mut sent = Vec::with_capacity(args.records);
                let mut expected = Vec::with_capacity(args.records);
                for n in 0..args.records {
                    match n % 10 {
                        0 => { sent.push(older[n].clone()); expected.push(first[n].clone()); }
                        1 => { sent.push(first[n].clone()); expected.push(first[n].clone()); }
                        _ => { sent.push(newer[n].clone()); expected.push(newer[n].clone()); }
                    }
                }
                let (s2_rate, counts) = ingest::post_all(&bench, &http, &token, &ingest::bodies(&sent), "s2").await?;
                let tenth = (args.records / 10) as u64;
                let correct = counts.get("stale") == Some(&tenth)
                    && counts.get("duplicate") == Some(&tenth)
                    && counts.get("applied") == Some(&(args.records as u64 - 2 * tenth))
                    && ingest::server_state(&bench).await? == ingest::expected_state(&expected);
                let o = outcome("S2", "versioned upsert, 10% stale, 10% duplicate, vs S1", s2_rate, "records/s",
                    s1_rate, 0.8, true, correct, format!("lost updates: {}", if correct { 0 } else { 1 }));
                println!("{}", o.line());
                outcomes.push(o);
            }

            if args.wanted("S3") {
                let before = ingest::server_state(&bench).await?;
                let batches_before = bench.store.batch_figures(bench.tenant_id, 0).await?.len();
                let health_url = bench.url("/health");
                let (health, _) = latencies_us(&http, 300, |h| h.get(&health_url)).await?;
                let health_us = percentile(&health, 0.5);
                // Shared, not copied per request: the load generator's own 250 kB copy is no
                // part of the server's replay.
                let (url, body) = (bench.url("/sync/batches"), bytes::Bytes::from(first_bodies[0].clone()));
                let replays = 300;
                let (replay, failed) = latencies_us(&http, replays, |h| {
                    h.post(&url).bearer_auth(&token).header("idempotency-key", "s1-0")
                        .header("content-type", "application/json").body(body.clone())
                })
                .await?;
                let replay_us = percentile(&replay, 0.5);
                let unchanged = ingest::server_state(&bench).await? == before
                    && bench.store.batch_figures(bench.tenant_id, 0).await?.len() == batches_before;
                let o = outcome("S3", "idempotent replay of a stored 1000-record batch, median latency vs GET /health", replay_us, "us",
                    health_us, 3.0, false, failed == 0 && unchanged, format!("{replays} replays, records unchanged: {unchanged}"));
                println!("{}", o.line());
                outcomes.push(o);
            }
        }
        anyhow::Ok(())
    })?;

    if args.wanted("S7") {
        outcomes.push(postgres_ingest(&args, &server_rt, &client_rt, &http)?);
    }
    if args.wanted("S8") {
        outcomes.push(agent_memory(&args, &server_rt, &client_rt)?);
    }
    if args.wanted("S6") {
        outcomes.extend(audit_depth(&args, &server_rt, &client_rt, &http)?);
    }
    if args.wanted("S10") {
        outcomes.push(boot_storm(&server_rt, &client_rt)?);
    }
    if args.wanted("S11") {
        outcomes.push(fleet_listing(&server_rt, &client_rt, &http)?);
    }
    if args.wanted("S12") {
        outcomes.push(fleet_detection(&server_rt, &client_rt)?);
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

/// A server of its own with `sites` sites (and their history), for S11 and S12.
fn fleet_server(
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    sites: i64,
    history: bool,
) -> anyhow::Result<Bench> {
    let url = format!(
        "sqlite://{}",
        dir.join(format!("fleet-{sites}.db")).display()
    );
    let bench = Bench::start(server_rt, &url)?;
    let seconds = client_rt.block_on(fleet::fill(&bench, &url, sites, history))?;
    println!("     ({sites} sites written in {seconds:.1} s)");
    Ok(bench)
}

/// S11: p95 of `GET /admin/sites` with 10,000 sites against 10.
fn fleet_listing(
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let small = fleet_server(server_rt, client_rt, dir.path(), 10, false)?;
    let large = fleet_server(server_rt, client_rt, dir.path(), 10_000, false)?;
    let (small_us, _, small_ok) = client_rt.block_on(fleet::admin_sites_p95(&small, http, 10))?;
    let (large_us, rank_ms, large_ok) =
        client_rt.block_on(fleet::admin_sites_p95(&large, http, 10_000))?;
    let o = outcome(
        "S11",
        "GET /admin/sites (first page) p95 with 10,000 sites vs 10",
        large_us / 1000.0,
        "ms",
        small_us / 1000.0,
        3.0,
        false,
        small_ok && large_ok,
        format!(
            "every site listed once, page by page: {}; the minute's ranking of 10,000 sites: \
             {rank_ms:.0} ms",
            small_ok && large_ok
        ),
    );
    println!("{}", o.line());
    Ok(o)
}

/// S12: one anomaly detection pass over 10,000 sites with two weeks of history against
/// the same pass over 100; its peak memory in the note.
fn fleet_detection(
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let small = fleet_server(server_rt, client_rt, dir.path(), 100, true)?;
    let (small_ms, small_sites, _) = server_rt.block_on(fleet::detection_pass(&small))?;
    drop(small);
    let large = fleet_server(server_rt, client_rt, dir.path(), 10_000, true)?;
    let (large_ms, large_sites, peak_mib) = server_rt.block_on(fleet::detection_pass(&large))?;
    // Each pass reads the fleet and the bench's own site.
    let correct = small_sites == 101 && large_sites == 10_001;
    let o = outcome(
        "S12",
        "one detection pass, 10,000 sites with 14 days of history vs 100",
        large_ms,
        "ms",
        small_ms,
        100.0,
        false,
        correct,
        format!("{large_sites} sites read; the pass's peak memory +{peak_mib:.0} MiB"),
    );
    println!("{}", o.line());
    Ok(o)
}

/// S10: p99 latency of the batches admitted while 200 sites storm one server, against the
/// p99 of the same batches sent one at a time to it idle.
fn boot_storm(
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let bench = Bench::start(
        server_rt,
        &format!("sqlite://{}", dir.path().join("storm.db").display()),
    )?;
    let (idle_us, storm_us, applied, shed) = client_rt.block_on(storm::measure(&bench))?;
    let expected = storm::expected_records();
    let o = outcome(
        "S10",
        "boot storm: p99 of admitted batches, 200 sites at once, vs idle p99",
        storm_us / 1000.0,
        "ms",
        idle_us / 1000.0,
        10.0,
        false,
        applied == expected,
        format!("{applied} of {expected} records applied once, {shed} batches shed with 503"),
    );
    println!("{}", o.line());
    Ok(o)
}

/// S8: peak RSS of an agent process draining `s8_records` queued records, against one
/// draining 10k.
fn agent_memory(
    args: &Args,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let server = Bench::start(
        server_rt,
        &format!("sqlite://{}", dir.path().join("server.db").display()),
    )?;
    let small_dir = dir.path().join("agent-10k");
    let large_dir = dir.path().join("agent-large");
    client_rt.block_on(async {
        let small = agent::enrolled_agent(&small_dir, &server).await?;
        agent::fill(&small, &ingest::rows(10_000, 1), "small").await?;
        let large = agent::enrolled_agent(&large_dir, &server).await?;
        agent::fill(&large, &ingest::rows(args.s8_records, 1), "large").await?;
        anyhow::Ok(())
    })?;
    let small_kb = agent::drain_in_child(&small_dir)?;
    let large_kb = agent::drain_in_child(&large_dir)?;
    let o = outcome(
        "S8",
        "agent peak RSS draining the large queue vs draining 10k",
        large_kb as f64 / 1024.0,
        "MiB",
        small_kb as f64 / 1024.0,
        1.5,
        false,
        true,
        format!("{} records drained, every one applied", args.s8_records),
    );
    println!("{}", o.line());
    Ok(o)
}

/// S7: S1 against PostgreSQL, against COPY of the same rows into the same database.
fn postgres_ingest(
    args: &Args,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
) -> anyhow::Result<Outcome> {
    let name = format!("kxbench_{}", std::process::id());
    on_scratch_database(args, client_rt, &name, |url| {
        let bench = Bench::start(server_rt, url)?;
        client_rt.block_on(async {
            let token = bench.token(http).await?;
            let rows = ingest::rows(args.records, 1);
            let (rate, counts) =
                ingest::post_all(&bench, http, &token, &ingest::bodies(&rows), "s7").await?;
            let correct = counts.get("applied") == Some(&(args.records as u64))
                && ingest::server_state(&bench).await? == ingest::expected_state(&rows);
            let copy = ingest::copy_rate(url, &ingest::stored_rows(&rows)).await?;
            let o = outcome(
                "S7",
                "end-to-end ingest, PostgreSQL, vs COPY of the same rows",
                rate,
                "records/s",
                copy,
                0.4,
                true,
                correct,
                format!(
                    "{} records, checksum {}",
                    args.records,
                    if correct { "equal" } else { "DIFFERENT" }
                ),
            );
            println!("{}", o.line());
            Ok(o)
        })
    })
}

/// S6 on SQLite and on PostgreSQL, each on a fresh database of 1M events.
fn audit_depth(
    args: &Args,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let bench = Bench::start(server_rt, &sqlite_url)?;
    let seconds = client_rt.block_on(audit::fill(
        &sqlite_url,
        bench.tenant_id,
        &bench.site.client_id,
    ))?;
    println!(
        "     (SQLite: {} audit events written in {seconds:.1} s)",
        audit::EVENTS
    );
    let o = client_rt.block_on(audit::measure("S6", &bench, http))?;
    println!("{} [sqlite]", o.line());
    outcomes.push(o);

    let name = format!("kxbench_audit_{}", std::process::id());
    let o = on_scratch_database(args, client_rt, &name, |url| {
        let bench = Bench::start(server_rt, url)?;
        let seconds =
            client_rt.block_on(audit::fill(url, bench.tenant_id, &bench.site.client_id))?;
        println!(
            "     (PostgreSQL: {} audit events written in {seconds:.1} s)",
            audit::EVENTS
        );
        let o = client_rt.block_on(audit::measure("S6", &bench, http))?;
        println!("{} [postgres]", o.line());
        anyhow::Ok(o)
    })?;
    outcomes.push(o);
    Ok(outcomes)
}

/// Runs `work` on a PostgreSQL database created for it (its URL given), and drops the
/// database afterwards whatever happened.
fn on_scratch_database<T>(
    args: &Args,
    client_rt: &tokio::runtime::Runtime,
    name: &str,
    work: impl FnOnce(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use sqlx::Connection;
    let url = url_with_path(&args.pg_url, name)?;
    client_rt.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&args.pg_url)
            .await
            .context("connecting to PostgreSQL (--pg-url)")?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        anyhow::Ok(())
    })?;
    let result = work(&url);
    client_rt.block_on(async {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&args.pg_url).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    });
    result
}

fn url_with_path(base: &str, database: &str) -> anyhow::Result<String> {
    let (head, _) = base
        .rsplit_once('/')
        .context("PostgreSQL URL has no database part")?;
    Ok(format!("{head}/{database}"))
}
