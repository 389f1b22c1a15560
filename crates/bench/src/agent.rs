//! Agent scenarios: S1 end to end (records already in the agent's outbox, drained by the
//! engine through HTTP into the server and committed) and S8 (the agent's peak memory while
//! draining 1M queued records against 10k). The agent's secret sits in the OS keychain as in
//! production, so the benchmark runs inside a session with one (scripts/bench.sh).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kendrix_core::enrollment::Enrollment;
use kendrix_core::sync::{Change, EntityName, Op};
use kendrix_core::SystemClock;
use kendrix_engine::{Engine, RunOutcome, Trigger};

use crate::harness::Bench;
use crate::ingest::Row;

/// The hidden command line the bench re-runs itself with for S8's measured process.
pub const DRAIN_COMMAND: &str = "agent-drain";

fn changes(rows: &[Row], entity: &str) -> Vec<Change> {
    let entity: EntityName = entity.parse().expect("entity");
    rows.iter()
        .map(|r| Change {
            entity: entity.clone(),
            id: r.id.parse().expect("id"),
            op: Op::Upsert,
            version: Some(r.version.parse().expect("version")),
            data: r.data.as_object().cloned(),
        })
        .collect()
}

/// An agent in `dir`, enrolled against the bench server (the secret goes to the keychain).
pub async fn enrolled_agent(dir: &Path, bench: &Bench) -> anyhow::Result<std::sync::Arc<Engine>> {
    let engine = Engine::open(dir, std::sync::Arc::new(SystemClock)).await?;
    engine
        .enroll(&Enrollment {
            server: bench.base.clone(),
            client_id: bench.site.client_id.clone(),
            client_secret: bench.site.client_secret.clone(),
        })
        .await?;
    Ok(engine)
}

/// Queues rows in transactions of 100k (filling is not what is measured).
pub async fn fill(engine: &Engine, rows: &[Row], entity: &str) -> anyhow::Result<()> {
    for chunk in rows.chunks(100_000) {
        engine.enqueue(&changes(chunk, entity)).await?;
    }
    Ok(())
}

/// Drains the outbox with one Sync Now; records per second and whether all arrived.
pub async fn drain(engine: &Engine, expected: usize) -> anyhow::Result<(f64, bool)> {
    let started = Instant::now();
    let run = engine
        .sync(Trigger::Manual, Duration::from_secs(60))
        .await?;
    let rate = run.sent as f64 / started.elapsed().as_secs_f64();
    let status = engine.status().await?;
    Ok((
        rate,
        run.outcome == Some(RunOutcome::Synced)
            && run.applied as usize == expected
            && status.all_synced,
    ))
}

/// The measured process of S8: opens the agent in `dir`, drains it, prints its peak RSS.
pub fn drain_child(dir: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let engine = Engine::open(dir, std::sync::Arc::new(SystemClock)).await?;
        let expected = engine.status().await?.queue_depth as usize;
        let (_, correct) = drain(&engine, expected).await?;
        anyhow::ensure!(correct, "the drain did not deliver everything");
        anyhow::Ok(())
    })?;
    println!("peak_rss_kb={}", peak_rss_kb()?);
    Ok(())
}

/// Runs the drain of `dir` in a child process; its peak RSS in KiB.
pub fn drain_in_child(dir: &Path) -> anyhow::Result<u64> {
    let output = Command::new(std::env::current_exe()?)
        .arg(DRAIN_COMMAND)
        .arg(dir)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "the drain process failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("the drain process printed no peak RSS: {stdout}"))
}

/// VmHWM of this process (Linux).
fn peak_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/self/status"))
}
