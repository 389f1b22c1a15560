//! The heartbeat's body is built from the agent's real state: the outbox, the batches on
//! their way, the dead letters, the configuration and the last run. A real SQLite file, an
//! engine clock the test moves.

mod common;
use common::orders;

use std::collections::HashSet;
use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_core::sync::{BatchResponse, RecordResult, RecordStatus, StatusCounts};
use kendrix_engine::{Engine, FormedBatch, RunOutcome, Trigger};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

const T0: i64 = 1_764_590_000_000;

/// The server's answer to `batch`: every record applied except those named in `refused`.
fn answer(batch: &FormedBatch, refused: &[&str]) -> BatchResponse {
    let body: Value = serde_json::from_str(&batch.body).unwrap();
    let results = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap();
            let rejected = refused.contains(&id);
            RecordResult {
                entity: "orders".into(),
                id: id.into(),
                status: if rejected {
                    RecordStatus::Rejected
                } else {
                    RecordStatus::Applied
                },
                version: r["version"].as_str().unwrap().into(),
                reason: rejected.then(|| "too big".into()),
            }
        })
        .collect();
    BatchResponse {
        batch_id: "b".into(),
        results,
        counts: StatusCounts::default(),
    }
}

#[tokio::test]
async fn the_heartbeat_reports_the_queue_as_it_stands_and_clears_it_once_everything_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::open(dir.path(), clock.clone()).await.unwrap();
    let store = engine.store();
    let mut rng = StdRng::seed_from_u64(7);

    let fresh = engine.heartbeat(None).await.unwrap();
    assert_eq!(fresh.queue_depth, 0);
    assert_eq!(fresh.oldest_pending_ms, None);
    assert_eq!(fresh.dead_letters, 0);
    assert_eq!(fresh.last_run, None);
    assert_eq!(fresh.config_hash, None, "no configuration fetched yet");
    assert_eq!(
        fresh.interval_secs,
        Some(engine.settings().interval.as_secs())
    );
    assert_eq!(fresh.agent_version, env!("CARGO_PKG_VERSION"));

    engine.enqueue(&orders(0, 50)).await.unwrap();
    clock.advance(1_000);
    let queued = engine.heartbeat(None).await.unwrap();
    assert_eq!(queued.queue_depth, 50);
    assert_eq!(queued.oldest_pending_ms, Some(T0));

    // A failed run an hour later put 20 of them in a batch: they are still pending, and
    // were still queued at T0.
    clock.advance(3_600_000);
    let first = store
        .next_batch(&HashSet::new(), 20, None, clock_now(&clock), &mut rng)
        .await
        .unwrap()
        .unwrap();
    store.batch_failed(first.id, "503").await.unwrap();
    engine.enqueue(&orders(50, 10)).await.unwrap();
    let waiting = engine.heartbeat(None).await.unwrap();
    assert_eq!(waiting.queue_depth, 60);
    assert_eq!(waiting.oldest_pending_ms, Some(T0));

    // The server answers: 59 applied, one refused and kept as a dead letter.
    store
        .batch_answered(&first, &answer(&first, &[]), clock_now(&clock))
        .await
        .unwrap();
    let rest = store
        .next_batch(&HashSet::new(), 1000, None, clock_now(&clock), &mut rng)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest.records, 40);
    store
        .batch_answered(&rest, &answer(&rest, &["o0055"]), clock_now(&clock))
        .await
        .unwrap();
    let run_id = store.run_started(Trigger::Manual, T0).await.unwrap();
    let counts = StatusCounts {
        applied: 59,
        rejected: 1,
        ..StatusCounts::default()
    };
    store
        .run_finished(run_id, RunOutcome::Partial, 2, &counts, None, T0 + 5_000)
        .await
        .unwrap();
    let run = store.run(run_id).await.unwrap();

    let done = engine.heartbeat(Some(&run)).await.unwrap();
    assert_eq!(done.queue_depth, 0);
    assert_eq!(done.oldest_pending_ms, None);
    assert_eq!(done.dead_letters, 1, "dead letters are not pending");
    let body = serde_json::to_value(&done).unwrap();
    assert_eq!(
        body,
        json!({
            "agent_version": env!("CARGO_PKG_VERSION"),
            "queue_depth": 0,
            "oldest_pending_ms": null,
            "dead_letters": 1,
            "config_hash": null,
            "interval_secs": engine.settings().interval.as_secs(),
            "last_run": {
                "started_ms": T0, "finished_ms": T0 + 5_000, "outcome": "partial",
                "sent": 60, "applied": 59, "refused": 1, "message": null
            }
        })
    );
}

#[tokio::test]
async fn the_heartbeat_reports_a_local_interval_and_skips_a_run_that_never_finished() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Arc::new(ManualClock::new(T0)))
        .await
        .unwrap();
    engine.set_interval_override(Some(45)).await.unwrap();
    let store = engine.store();
    let unfinished = store.run_started(Trigger::Schedule, T0).await.unwrap();
    let run = store.run(unfinished).await.unwrap();
    let heartbeat = engine.heartbeat(Some(&run)).await.unwrap();
    assert_eq!(heartbeat.interval_secs, Some(45));
    assert_eq!(
        heartbeat.last_run, None,
        "a run still under way is not reported"
    );

    let offline = store.run_started(Trigger::Schedule, T0).await.unwrap();
    let message = "cannot reach the server: ".to_owned() + &"x".repeat(1_000);
    store
        .run_finished(
            offline,
            RunOutcome::Offline,
            0,
            &StatusCounts::default(),
            Some(&message),
            T0 + 1,
        )
        .await
        .unwrap();
    let run = store.run(offline).await.unwrap();
    let last = engine
        .heartbeat(Some(&run))
        .await
        .unwrap()
        .last_run
        .unwrap();
    assert_eq!(last.outcome, RunOutcome::Offline);
    let reported = last.message.unwrap();
    assert!(reported.len() <= 500, "{}", reported.len());
    assert!(reported.starts_with("cannot reach the server: xxx"));
}

fn clock_now(clock: &ManualClock) -> i64 {
    kendrix_core::Clock::now_ms(clock)
}
