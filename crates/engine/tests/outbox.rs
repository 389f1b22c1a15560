//! The outbox keeps every change safe on disk, coalesces changes per record, and forms
//! batches that survive a crash with their Idempotency-Key. Real SQLite files throughout.

use std::collections::HashSet;

use kendrix_core::sync::{
    BatchResponse, Change, Op, RecordProblem, RecordResult, RecordStatus, StatusCounts,
};
use kendrix_core::Hlc;
use kendrix_engine::{read_rows, EngineError, Format, LocalStore, RowShape};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

fn upsert(id: &str, n: i64) -> Change {
    Change::new(
        "orders",
        id,
        Op::Upsert,
        None,
        json!({"n": n}).as_object().cloned(),
    )
    .unwrap()
}

fn ids_and_data(body: &str) -> Vec<(String, Value)> {
    let body: Value = serde_json::from_str(body).unwrap();
    body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["data"].clone()))
        .collect()
}

#[tokio::test]
async fn pending_changes_to_one_record_coalesce_to_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = Hlc::new("site12").unwrap();
    outbox
        .enqueue(&[upsert("A", 1), upsert("B", 1)], &mut hlc, 1_000)
        .await
        .unwrap();
    outbox
        .enqueue(&[upsert("A", 2)], &mut hlc, 1_001)
        .await
        .unwrap();
    assert_eq!(outbox.queue_depth().await.unwrap(), 2);
    let batch = outbox
        .next_batch(
            &HashSet::new(),
            100,
            None,
            1_002,
            &mut StdRng::seed_from_u64(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ids_and_data(&batch.body),
        vec![("B".into(), json!({"n": 1})), ("A".into(), json!({"n": 2}))]
    );
}

#[tokio::test]
async fn a_formed_batch_survives_a_restart_and_goes_out_again_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    let mut hlc = Hlc::new("site12").unwrap();
    let formed = {
        let outbox = LocalStore::open(&path).await.unwrap();
        outbox
            .enqueue(
                &[upsert("A", 1), upsert("B", 2), upsert("C", 3)],
                &mut hlc,
                1_000,
            )
            .await
            .unwrap();
        let batch = outbox
            .next_batch(
                &HashSet::new(),
                2,
                None,
                1_001,
                &mut StdRng::seed_from_u64(2),
            )
            .await
            .unwrap()
            .unwrap();
        outbox
            .batch_failed(batch.id, "connection refused")
            .await
            .unwrap();
        batch
    }; // the agent dies here
    let outbox = LocalStore::open(&path).await.unwrap();
    assert_eq!(outbox.queue_depth().await.unwrap(), 3, "nothing lost");
    let again = outbox
        .next_batch(
            &HashSet::new(),
            2,
            None,
            2_000,
            &mut StdRng::seed_from_u64(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.idempotency_key.as_str(), again.body.as_str()),
        (formed.idempotency_key.as_str(), formed.body.as_str())
    );
    assert_eq!(again.attempts, 1);
}

#[tokio::test]
async fn rejected_records_become_dead_letters_and_the_rest_are_done() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = Hlc::new("site12").unwrap();
    outbox
        .enqueue(&[upsert("A", 1), upsert("B", 2)], &mut hlc, 1_000)
        .await
        .unwrap();
    let batch = outbox
        .next_batch(
            &HashSet::new(),
            10,
            None,
            1_001,
            &mut StdRng::seed_from_u64(4),
        )
        .await
        .unwrap()
        .unwrap();
    let result = |id: &str, status, reason: Option<&str>| RecordResult {
        entity: "orders".into(),
        id: id.into(),
        status,
        version: "v".into(),
        reason: reason.map(str::to_owned),
    };
    let response = BatchResponse {
        batch_id: "b".into(),
        results: vec![
            result("A", RecordStatus::Applied, None),
            result(
                "B",
                RecordStatus::Rejected,
                Some("version reused for other content"),
            ),
        ],
        counts: StatusCounts::default(),
    };
    outbox
        .batch_answered(&batch, &response, 1_002)
        .await
        .unwrap();
    assert_eq!(outbox.queue_depth().await.unwrap(), 0);
    let dead = outbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].record_id.as_str(), dead[0].reason.as_str()),
        ("B", "version reused for other content")
    );
    assert_eq!(dead[0].data.as_deref(), Some(r#"{"n":2}"#));
    assert!(outbox
        .next_batch(
            &HashSet::new(),
            10,
            None,
            1_003,
            &mut StdRng::seed_from_u64(5)
        )
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_refused_batch_keeps_its_good_records_and_never_overwrites_a_newer_change() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = Hlc::new("site12").unwrap();
    outbox
        .enqueue(
            &[upsert("A", 1), upsert("B", 1), upsert("C", 1)],
            &mut hlc,
            1_000,
        )
        .await
        .unwrap();
    let batch = outbox
        .next_batch(
            &HashSet::new(),
            10,
            None,
            1_001,
            &mut StdRng::seed_from_u64(6),
        )
        .await
        .unwrap()
        .unwrap();
    // While the batch is out, C changes again.
    outbox
        .enqueue(&[upsert("C", 2)], &mut hlc, 1_002)
        .await
        .unwrap();
    let problem = RecordProblem {
        index: 1,
        entity: Some("orders".into()),
        id: Some("B".into()),
        errors: vec!["bad".into()],
    };
    outbox
        .batch_refused(&batch, &[problem], 1_003)
        .await
        .unwrap();
    assert_eq!(outbox.dead_letters().await.unwrap()[0].record_id, "B");
    let next = outbox
        .next_batch(
            &HashSet::new(),
            10,
            None,
            1_004,
            &mut StdRng::seed_from_u64(7),
        )
        .await
        .unwrap()
        .unwrap();
    let mut sent = ids_and_data(&next.body);
    sent.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        sent,
        vec![("A".into(), json!({"n": 1})), ("C".into(), json!({"n": 2}))]
    );
}

#[tokio::test]
async fn a_bad_change_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = Hlc::new("site12").unwrap();
    // A name the server would refuse cannot even become a change.
    let data = json!({"n": 1}).as_object().cloned();
    assert!(Change::new("Orders", "A", Op::Upsert, None, data.clone()).is_err());
    assert!(Change::new("orders", "A\u{0}1", Op::Upsert, None, data).is_err());
    // What a change built by hand can still get wrong — its data against its op — is
    // refused at enqueue, and the call queues nothing.
    let mut bad = upsert("A", 1);
    bad.data = None;
    let err = outbox
        .enqueue(&[upsert("B", 1), bad], &mut hlc, 1_000)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "change 1: an upsert needs data (a JSON object)"
    );
    assert_eq!(outbox.queue_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn a_source_row_whose_id_holds_a_nul_is_refused_at_enqueue_and_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = Hlc::new("site12").unwrap();
    let source = "{\"sku\": \"A-1\"}\n{\"sku\": \"A\\u00002\"}\n{\"sku\": \"A-3\"}\n";
    let shape = RowShape {
        entity: "orders".into(),
        id_field: "sku".into(),
    };
    let mut enqueue = outbox.begin_enqueue(&mut hlc, 1_000).await.unwrap();
    let err = read_rows(source.as_bytes(), Format::Ndjson, &shape, &mut enqueue)
        .await
        .unwrap_err();
    drop(enqueue);
    assert!(matches!(err, EngineError::BadRow { row: 2, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "row 2: \"id\" contains the control character U+0000; ids must be printable text \
         (the \"sku\" field); nothing was queued"
    );
    assert_eq!(outbox.queue_depth().await.unwrap(), 0);
    assert!(outbox
        .next_batch(
            &HashSet::new(),
            10,
            None,
            1_001,
            &mut StdRng::seed_from_u64(8)
        )
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_source_row_with_a_nul_in_a_field_is_refused_at_enqueue_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = Hlc::new("site12").unwrap();
    let source =
        "{\"id\": \"A-1\", \"note\": \"ok\"}\n{\"id\": \"A-2\", \"note\": \"bad\\u0000byte\"}\n";
    let shape = RowShape {
        entity: "orders".into(),
        id_field: "id".into(),
    };
    let mut enqueue = outbox.begin_enqueue(&mut hlc, 1_000).await.unwrap();
    let err = read_rows(source.as_bytes(), Format::Ndjson, &shape, &mut enqueue)
        .await
        .unwrap_err();
    drop(enqueue);
    assert!(matches!(err, EngineError::BadRow { row: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("\"note\""), "{err}");
    assert_eq!(outbox.queue_depth().await.unwrap(), 0);
}
