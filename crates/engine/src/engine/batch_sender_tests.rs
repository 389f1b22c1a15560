//! The sending loop against a scripted server (a stand-in for the transport only: the
//! outbox is a real SQLite file, and the stories in `tests/` use the real server).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use kendrix_core::clock::ManualClock;
use kendrix_core::sync::{Change, Op, RecordProblem, RecordResult, RecordStatus};
use kendrix_core::Hlc;
use serde_json::{json, Value};

use super::*;

/// Answers batches as scripted (then accepts everything), each after a short delay so
/// batches overlap, counting how many are on their way at once.
#[derive(Default)]
struct ScriptedServer {
    script: Mutex<VecDeque<Failure>>,
    /// Refuses every batch it answers `Some` for, after the script.
    rule: Option<Rule>,
    received: Mutex<Vec<FormedBatch>>,
    on_the_way: AtomicUsize,
    most_at_once: AtomicUsize,
}

type Rule = Box<dyn Fn(&FormedBatch) -> Option<Failure> + Send + Sync>;

impl ScriptedServer {
    fn failing_with(failures: impl IntoIterator<Item = Failure>) -> Self {
        Self {
            script: Mutex::new(failures.into_iter().collect()),
            ..Self::default()
        }
    }

    fn refusing(rule: impl Fn(&FormedBatch) -> Option<Failure> + Send + Sync + 'static) -> Self {
        Self {
            rule: Some(Box::new(rule)),
            ..Self::default()
        }
    }

    fn received(&self) -> Vec<FormedBatch> {
        self.received.lock().unwrap().clone()
    }
}

impl SyncServer for ScriptedServer {
    fn post_batch(
        &self,
        batch: &FormedBatch,
    ) -> impl Future<Output = Result<BatchResponse, Failure>> + Send {
        let batch = batch.clone();
        async move {
            let now = self.on_the_way.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.on_the_way.fetch_sub(1, Ordering::SeqCst);
            self.received.lock().unwrap().push(batch.clone());
            if let Some(failure) = self.script.lock().unwrap().pop_front() {
                return Err(failure);
            }
            if let Some(failure) = self.rule.as_ref().and_then(|rule| rule(&batch)) {
                return Err(failure);
            }
            let body: Value = serde_json::from_str(&batch.body).unwrap();
            let results: Vec<RecordResult> = body["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| RecordResult {
                    entity: r["entity"].as_str().unwrap().to_owned(),
                    id: r["id"].as_str().unwrap().to_owned(),
                    status: RecordStatus::Applied,
                    version: r["version"].as_str().unwrap().to_owned(),
                    reason: None,
                })
                .collect();
            Ok(BatchResponse {
                batch_id: batch.idempotency_key.clone(),
                counts: StatusCounts {
                    applied: results.len() as u64,
                    ..StatusCounts::default()
                },
                results,
            })
        }
    }
}

/// Keeps what the sender showed.
#[derive(Default)]
struct Shown {
    waits: Mutex<Vec<String>>,
    last_progress: Mutex<Option<Progress>>,
}

impl SendObserver for Shown {
    async fn progress(&self, progress: Progress, _tell: bool) -> EngineResult<()> {
        *self.last_progress.lock().unwrap() = Some(progress);
        Ok(())
    }

    async fn waiting(&self, why: Option<String>) -> EngineResult<()> {
        self.waits.lock().unwrap().extend(why);
        Ok(())
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: LocalStore,
    clock: ManualClock,
    settings: RwLock<SyncSettings>,
    stopping: watch::Sender<bool>,
    shown: Shown,
}

/// An outbox holding `records` records, sent `batch_size` to a batch.
async fn setup(records: usize, batch_size: i64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let changes: Vec<Change> = (0..records)
        .map(|n| {
            let data = json!({ "n": n }).as_object().cloned();
            Change::new("orders", format!("o{n}"), Op::Upsert, None, data).unwrap()
        })
        .collect();
    let clock = ManualClock::new(1_800_000_000_000);
    let mut hlc = Hlc::new("site-1").unwrap();
    store
        .enqueue(&changes, &mut hlc, clock.now_ms())
        .await
        .unwrap();
    Setup {
        _dir: dir,
        store,
        clock,
        settings: RwLock::new(SyncSettings {
            batch_size,
            ..SyncSettings::default()
        }),
        stopping: watch::channel(false).0,
        shown: Shown::default(),
    }
}

impl Setup {
    async fn send(
        &self,
        server: &ScriptedServer,
        retry_for: Duration,
    ) -> (Option<Stop>, Delivered) {
        let sender = BatchSender {
            store: &self.store,
            server,
            observer: &self.shown,
            clock: &self.clock,
            settings: &self.settings,
            stopping: &self.stopping,
        };
        let mut delivered = Delivered::default();
        let total = self.store.queue_depth().await.unwrap();
        let stop = sender
            .send_all(retry_for, total, &mut delivered)
            .await
            .unwrap();
        (stop, delivered)
    }
}

fn transient(retry_after: Option<Duration>) -> Failure {
    Failure::Transient {
        reason: "the server answered 503: busy".into(),
        retry_after,
    }
}

#[tokio::test]
async fn four_batches_travel_at_once_and_every_record_arrives() {
    let setup = setup(12, 1).await;
    let server = ScriptedServer::default();
    let (stop, delivered) = setup.send(&server, Duration::from_secs(5)).await;
    assert_eq!(stop, None);
    assert_eq!(server.most_at_once.load(Ordering::SeqCst), PARALLEL_BATCHES);
    assert_eq!(delivered.batches, 12);
    assert_eq!(delivered.counts.applied, 12);
    assert_eq!(setup.store.queue_depth().await.unwrap(), 0);
    assert_eq!(
        *setup.shown.last_progress.lock().unwrap(),
        Some(Progress {
            sent: 12,
            total: 12
        })
    );
}

#[tokio::test]
async fn a_transient_failure_waits_its_backoff_and_the_same_batch_goes_again() {
    let setup = setup(3, 10).await;
    let server = ScriptedServer::failing_with([transient(None)]);
    let (stop, delivered) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(stop, None);
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        (&received[0].idempotency_key, &received[0].body),
        (&received[1].idempotency_key, &received[1].body),
        "a resend carries the same key and body"
    );
    assert_eq!(received[1].attempts, 1);
    assert_eq!(delivered.counts.applied, 3);
    let waits = setup.shown.waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1);
    assert!(
        waits[0].starts_with("the server answered 503: busy; retrying in"),
        "{waits:?}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_past_the_retry_window_the_run_ends_offline() {
    // The server's Retry-After (zero here) wins over the backoff: two quick retries.
    let setup = setup(3, 10).await;
    let server = ScriptedServer::failing_with([
        transient(Some(Duration::ZERO)),
        transient(Some(Duration::ZERO)),
    ]);
    let started = Instant::now();
    let (stop, _) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(stop, None);
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(server.received().len(), 3);

    // A retry that would end past the window is not made: the run ends offline, and the
    // batch waits, whole, for the next run.
    let setup = self::setup(3, 10).await;
    let server = ScriptedServer::failing_with([transient(Some(Duration::from_secs(60)))]);
    let (stop, delivered) = setup.send(&server, Duration::from_secs(5)).await;
    assert_eq!(
        stop,
        Some(Stop {
            problem: Problem::Offline,
            message: "the server answered 503: busy".into(),
            retry_after: Some(Duration::from_secs(60)),
        }),
        "the next run must wait what the server asked"
    );
    assert_eq!(delivered, Delivered::default());
    assert_eq!(server.received().len(), 1);
    assert_eq!(setup.store.queue_depth().await.unwrap(), 3, "nothing lost");
    let again = setup
        .store
        .unanswered_batch(&HashSet::new())
        .await
        .unwrap()
        .expect("the batch is kept for the next run");
    assert_eq!(again.idempotency_key, server.received()[0].idempotency_key);
    assert_eq!(again.attempts, 1);
}

#[tokio::test]
async fn a_refused_endpoint_puts_the_records_back_and_stops_the_run() {
    let setup = setup(3, 10).await;
    let server = ScriptedServer::failing_with([Failure::Refused {
        status: 404,
        detail: "no such route".into(),
    }]);
    let (stop, delivered) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(
        stop,
        Some(Stop {
            problem: Problem::Refused,
            message: "the server refused the request (404): no such route".into(),
            retry_after: None,
        })
    );
    assert_eq!(delivered.batches, 0);
    assert_eq!(server.received().len(), 1, "no batch after a refusal");
    assert_eq!(setup.store.queue_depth().await.unwrap(), 3);
    assert_eq!(setup.store.dead_letter_count().await.unwrap(), 0);
    assert!(
        setup
            .store
            .unanswered_batch(&HashSet::new())
            .await
            .unwrap()
            .is_none(),
        "the records are back in the outbox, not in a batch"
    );
}

#[tokio::test]
async fn invalid_records_become_dead_letters_and_the_rest_still_arrives() {
    let setup = setup(3, 3).await;
    let server = ScriptedServer::failing_with([Failure::InvalidRecords(vec![RecordProblem {
        index: 1,
        entity: Some("orders".into()),
        id: Some("o1".into()),
        errors: vec!["\"n\" must be a string".into()],
    }])]);
    let (stop, delivered) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(stop, None);
    assert_eq!(delivered.counts.rejected, 1);
    assert_eq!(delivered.counts.applied, 2);
    assert_eq!(setup.store.queue_depth().await.unwrap(), 0);
    let dead = setup.store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].record_id.as_str(), dead[0].reason.as_str()),
        ("o1", "\"n\" must be a string")
    );
}

#[tokio::test]
async fn refused_credentials_stop_the_run_and_keep_the_batch() {
    let setup = setup(8, 2).await;
    let server = ScriptedServer::failing_with([Failure::Forbidden("needs sync:write".into())]);
    let (stop, _) = setup.send(&server, Duration::from_secs(30)).await;
    let stop = stop.expect("the run stops");
    assert_eq!(stop.problem, Problem::Permission);
    assert_eq!(
        stop.message,
        "this agent lacks a permission it needs (403 forbidden): needs sync:write"
    );
    assert_eq!(
        setup.store.queue_depth().await.unwrap(),
        8 - 2 * 3,
        "the other batches in flight arrived"
    );
    assert!(setup
        .store
        .unanswered_batch(&HashSet::new())
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn shutting_down_sends_nothing_more() {
    let setup = setup(3, 1).await;
    setup.stopping.send_replace(true);
    let server = ScriptedServer::default();
    let (stop, _) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(stop.map(|s| s.problem), Some(Problem::Offline));
    assert!(server.received().is_empty());
    assert_eq!(setup.store.queue_depth().await.unwrap(), 3);
}

/// Ids of the records in a batch's body.
fn ids_in(batch: &FormedBatch) -> Vec<String> {
    let body: Value = serde_json::from_str(&batch.body).unwrap();
    body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_batch_too_large_goes_in_halves_and_a_record_too_large_becomes_a_dead_letter() {
    let setup = setup(8, 100).await;
    let big = Change::new(
        "orders",
        "huge",
        Op::Upsert,
        None,
        json!({"blob": "x".repeat(4000)}).as_object().cloned(),
    )
    .unwrap();
    let mut hlc = Hlc::new("site-1").unwrap();
    setup
        .store
        .enqueue(&[big], &mut hlc, setup.clock.now_ms())
        .await
        .unwrap();
    // A server (or proxy) taking at most 300 bytes a request.
    let server = ScriptedServer::refusing(|batch| {
        (batch.body.len() > 300).then(|| Failure::Refused {
            status: 413,
            detail: "Payload Too Large".into(),
        })
    });
    let (stop, delivered) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(stop, None, "a 413 never stops the run");
    assert_eq!(
        delivered.counts.applied, 8,
        "every record that fits arrived"
    );
    assert_eq!(delivered.counts.rejected, 1);
    assert_eq!(setup.store.queue_depth().await.unwrap(), 0);
    let dead = setup.store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].record_id, "huge");
    assert!(
        dead[0].reason.starts_with("too large to send") && dead[0].reason.contains("413"),
        "{}",
        dead[0].reason
    );
    // Each refused request went out once: its halves carry fresh keys, and never the same
    // refused body twice.
    let received = server.received();
    let keys: HashSet<&str> = received
        .iter()
        .map(|b| b.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), received.len(), "a fresh key for every half");
    let mut arrived: Vec<String> = received
        .iter()
        .filter(|b| b.body.len() <= 300)
        .flat_map(ids_in)
        .collect();
    arrived.sort();
    assert_eq!(arrived, (0..8).map(|n| format!("o{n}")).collect::<Vec<_>>());
    assert!(received.len() < 20, "{} requests", received.len());
}

#[tokio::test]
async fn batches_are_formed_within_the_byte_budget() {
    let setup = setup(40, 1000).await;
    setup.settings.write().unwrap().batch_bytes = 1024;
    let server = ScriptedServer::default();
    let (stop, delivered) = setup.send(&server, Duration::from_secs(5)).await;
    assert_eq!(stop, None);
    assert_eq!(delivered.counts.applied, 40);
    let received = server.received();
    assert!(received.len() > 1, "40 records do not fit in 1 KiB");
    for batch in &received {
        assert!(batch.body.len() <= 1024, "{} bytes", batch.body.len());
    }
}

#[tokio::test]
async fn a_poison_batch_is_narrowed_down_to_the_record_the_server_refuses() {
    // The server refuses as a whole (400, no record named) any batch holding o5.
    let setup = setup(12, 100).await;
    let server = ScriptedServer::refusing(|batch| {
        ids_in(batch)
            .contains(&"o5".to_owned())
            .then(|| Failure::Refused {
                status: 400,
                detail: "the body is not valid JSON".into(),
            })
    });
    let (stop, delivered) = setup.send(&server, Duration::from_secs(30)).await;
    assert_eq!(stop, None, "a 400 never stalls the site");
    assert_eq!(delivered.counts.applied, 11);
    let dead = setup.store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].record_id.as_str(), dead[0].reason.as_str()),
        (
            "o5",
            "the server refused the request (400): the body is not valid JSON"
        ),
        "kept with the server's reason"
    );
    assert_eq!(setup.store.queue_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn a_run_stops_when_its_retry_budget_is_spent() {
    let setup = setup(3, 10).await;
    setup.settings.write().unwrap().retry_budget = 3;
    let server = ScriptedServer::failing_with((0..50).map(|_| transient(Some(Duration::ZERO))));
    let (stop, delivered) = setup.send(&server, Duration::from_secs(300)).await;
    let stop = stop.expect("the run stops");
    assert_eq!(stop.problem, Problem::Offline);
    assert!(stop.message.contains("retry budget"), "{}", stop.message);
    assert_eq!(
        server.received().len(),
        4,
        "the first try and three retries"
    );
    assert_eq!(delivered, Delivered::default());
    assert_eq!(setup.store.queue_depth().await.unwrap(), 3, "nothing lost");
}
