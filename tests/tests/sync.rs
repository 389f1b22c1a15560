//! Stories of a site sending batches: each applied exactly once and all or nothing, however
//! often it is retried, with last-writer-wins versions. Each story runs on SQLite and on
//! PostgreSQL.

use std::sync::Arc;

use kendrix_store::{IdempotencyClaim, NextAction};
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    site_sends_a_batch_and_gets_a_result_per_record,
    newer_versions_win_older_are_stale_and_repeats_are_duplicates,
    a_retry_replays_the_stored_response_byte_for_byte_and_writes_nothing,
    a_reused_key_with_another_body_is_refused,
    a_key_kept_by_a_server_without_the_blake3_column_replays_its_body_and_refuses_another,
    a_key_in_flight_gets_409_until_its_lease_runs_out,
    an_invalid_batch_is_refused_as_invalid_whatever_its_key_holds,
    keys_belong_to_the_client_that_sent_them,
    every_bad_input_gets_a_clear_4xx_and_changes_nothing,
    a_version_reused_for_other_content_is_rejected_and_the_rest_applied,
    tenants_never_see_each_others_records,
    stats_count_batches_records_and_times,
    any_order_and_repetition_of_deliveries_converges,
    two_sites_writing_the_same_records_in_opposite_orders_at_once_both_apply,
);

fn v(ms: u64, counter: u16, node: &str) -> String {
    format!("{ms:013}-{counter:04x}-{node}")
}

fn upsert(entity: &str, id: &str, version: &str, data: Value) -> Value {
    json!({"entity": entity, "id": id, "op": "upsert", "version": version, "data": data})
}

async fn site(server: &TestServer, tenant: &str, scopes: &str) -> (i64, String) {
    let tenant_id = server.tenant(tenant).await;
    let reg = server.register(tenant_id, "Site", scopes).await;
    (tenant_id, server.access_token(&reg).await)
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn site_sends_a_batch_and_gets_a_result_per_record(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant, token) = site(&server, "Acme", "sync:write stats:read").await;
    let batch = json!({"records": [
        upsert("orders", "A-1", &v(1_732_838_400_123, 0, "site12"), json!({"total": 12.5})),
        upsert("orders", "A-2", &v(1_732_838_400_124, 0, "site12"), json!({"total": 3})),
        upsert("customers", "C-9", &v(1_732_838_400_125, 0, "site12"), json!({"name": "Zoë"})),
        {"entity": "orders", "id": "A-0", "op": "delete", "version": v(1_732_838_400_126, 0, "site12")},
    ]});
    let response = server.post_batch(&token, "batch-1", &batch).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["idempotency-key-retention"], "86400");
    let body = json_of(response).await;
    assert_eq!(
        body["counts"],
        json!({"applied": 4, "duplicate": 0, "stale": 0, "rejected": 0})
    );
    assert_eq!(
        body["results"][0],
        json!({"entity": "orders", "id": "A-1", "status": "applied", "version": v(1_732_838_400_123, 0, "site12")})
    );

    let orders = server.stored_records(tenant, "orders").await;
    assert_eq!(orders.len(), 3);
    assert_eq!(
        orders[0],
        ("A-0".into(), v(1_732_838_400_126, 0, "site12"), true, None),
        "a delete is kept as a tombstone"
    );

    let versions = json_of(server.get_as(&token, "/sync/versions").await).await;
    let entities = versions["entities"].as_array().unwrap();
    assert_eq!(entities[1]["entity"], "orders");
    assert_eq!(
        entities[1]["newest_version"],
        v(1_732_838_400_126, 0, "site12")
    );
    assert_eq!(entities[1]["applied"], 3);

    let page = json_of(
        server
            .get_as(&token, "/sync/records?entity=orders&limit=2")
            .await,
    )
    .await;
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], "A-1");
    let rest = json_of(
        server
            .get_as(&token, "/sync/records?entity=orders&after=A-1")
            .await,
    )
    .await;
    assert_eq!(rest["records"][0]["data"], json!({"total": 3}));
    assert!(rest["next"].is_null());

    let audit = server.audit_events("sync.batch.applied").await;
    assert_eq!(audit.len(), 1);
    let details: Value = serde_json::from_str(&audit[0].details).unwrap();
    assert_eq!(
        (details["applied"].as_u64(), details["records"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(details["batch_id"], body["batch_id"]);
    // From the batch back to the token that carried it: the same family in both entries.
    let issued: Value =
        serde_json::from_str(&server.audit_events("token.issued").await[0].details).unwrap();
    assert_eq!(details["token_family"], issued["family"]);
}

async fn newer_versions_win_older_are_stale_and_repeats_are_duplicates(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant, token) = site(&server, "Acme", "sync:write").await;
    let v2 = v(2_000_000_000_000, 0, "a");
    let first = json!({"records": [upsert("orders", "1", &v2, json!({"n": 2}))]});
    assert_eq!(server.post_batch(&token, "k1", &first).await.status(), 200);
    let mixed = json!({"records": [
        upsert("orders", "1", &v(1_999_999_999_999, 0, "a"), json!({"n": 1})),
        upsert("orders", "1", &v2, json!({"n": 2})),
    ]});
    // The same record twice in one batch is refused: one change per record per batch.
    assert_eq!(server.post_batch(&token, "k2", &mixed).await.status(), 422);

    let older = json_of(server.post_batch(&token, "k3", &json!({"records": [upsert("orders", "1", &v(1_999_999_999_999, 0, "a"), json!({"n": 1}))]})).await).await;
    assert_eq!(older["results"][0]["status"], "stale");
    assert_eq!(
        older["results"][0]["version"],
        v2.as_str(),
        "a stale result names the server's version"
    );
    let same = json_of(server.post_batch(&token, "k4", &first).await).await;
    assert_eq!(same["results"][0]["status"], "duplicate");
    // Equal time and counter: the node id decides, the same way everywhere.
    let tie = json_of(server.post_batch(&token, "k5", &json!({"records": [upsert("orders", "1", &v(2_000_000_000_000, 0, "b"), json!({"n": 3}))]})).await).await;
    assert_eq!(tie["results"][0]["status"], "applied");
    let records = server.stored_records(tenant, "orders").await;
    assert_eq!(records[0].3.as_deref(), Some(r#"{"n":3}"#));
    assert_eq!(server.audit_events("sync.batch.applied").await.len(), 4);
}

async fn a_retry_replays_the_stored_response_byte_for_byte_and_writes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant, token) = site(&server, "Acme", "sync:write").await;
    let batch =
        json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]});
    let first = server.post_batch(&token, "retry-me", &batch).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.bytes().await.unwrap();
    let before = server.stored_records(tenant, "orders").await;
    let batches_before = server.audit_events("sync.batch.applied").await.len();

    let again = server.post_batch(&token, "retry-me", &batch).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first, "byte for byte");
    assert_eq!(server.stored_records(tenant, "orders").await, before);
    assert_eq!(
        server.audit_events("sync.batch.applied").await.len(),
        batches_before,
        "no second apply"
    );
    assert_eq!(
        server.eventually_audited("idempotency.hit", 1).await.len(),
        1
    );
}

async fn a_reused_key_with_another_body_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant, token) = site(&server, "Acme", "sync:write").await;
    let one =
        json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]});
    let other =
        json!({"records": [upsert("orders", "2", &v(1_800_000_000_000, 0, "a"), json!({"x": 2}))]});
    assert_eq!(server.post_batch(&token, "k", &one).await.status(), 200);
    let refused = server.post_batch(&token, "k", &other).await;
    assert_eq!(refused.status(), 422);
    assert!(json_of(refused).await["type"]
        .as_str()
        .unwrap()
        .ends_with("idempotency-key-reused"));
    assert_eq!(server.stored_records(tenant, "orders").await.len(), 1);
    assert_eq!(server.audit_events("idempotency.mismatch").await.len(), 1);
}

/// A key completed by a server of before the BLAKE3 column (during an upgrade, or after a
/// rollback) has only its body's SHA-256: a retry of that body still replays the stored
/// answer (through the claim), and another body under the key is still refused.
async fn a_key_kept_by_a_server_without_the_blake3_column_replays_its_body_and_refuses_another(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let (tenant, token) = site(&server, "Acme", "sync:write").await;
    let batch =
        json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]});
    let first = server.post_batch(&token, "old-key", &batch).await;
    let first = first.bytes().await.unwrap();
    // The key's row as the earlier server wrote it.
    server
        .db
        .execute("UPDATE idempotency_keys SET request_b3 = NULL WHERE key = 'old-key'")
        .await;

    let again = server.post_batch(&token, "old-key", &batch).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first, "byte for byte");
    let other =
        json!({"records": [upsert("orders", "2", &v(1_800_000_000_000, 0, "a"), json!({"x": 2}))]});
    assert_eq!(
        server.post_batch(&token, "old-key", &other).await.status(),
        422
    );
    assert_eq!(server.stored_records(tenant, "orders").await.len(), 1);
}

/// Makes another request (say, on another instance) hold a client's key for `lease_ms`.
async fn hold_key(server: &TestServer, client_id: &str, key: &str, body: &[u8], lease_ms: i64) {
    let client_pk = server.store.client(client_id).await.unwrap().unwrap().pk;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let claim = IdempotencyClaim {
        client_pk,
        key: key.into(),
        request_hash: kendrix_core::credentials::hash_bytes(body),
        body_b3: kendrix_core::credentials::body_b3(body),
        owner: "someone-else".into(),
        now,
        lease_ms,
        retention_ms: 86_400_000,
    };
    assert_eq!(
        server.store.claim_idempotency_key(&claim).await.unwrap(),
        NextAction::Claimed
    );
}

async fn a_key_in_flight_gets_409_until_its_lease_runs_out(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| s.sync.idempotency_lease_secs = 1,
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let tenant = server.tenant("Acme").await;
    let reg = server.register(tenant, "Site", "sync:write").await;
    let token = server.access_token(&reg).await;
    let batch =
        json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]});
    let body = serde_json::to_vec(&batch).unwrap();
    // Another request (say, on another instance that then died) holds the key.
    hold_key(&server, &reg.client_id, "busy", &body, 1000).await;
    let busy = server.post_batch(&token, "busy", &batch).await;
    assert_eq!(busy.status(), 409);
    assert!(busy.headers().contains_key("retry-after"));
    assert!(server.stored_records(tenant, "orders").await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let taken_over = server.post_batch(&token, "busy", &batch).await;
    assert_eq!(taken_over.status(), 200);
    assert_eq!(server.stored_records(tenant, "orders").await.len(), 1);
    assert_eq!(server.audit_events("idempotency.in_flight").await.len(), 1);
}

async fn an_invalid_batch_is_refused_as_invalid_whatever_its_key_holds(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let reg = server.register(tenant, "Site", "sync:write").await;
    let token = server.access_token(&reg).await;
    let good =
        json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]});
    let bad = json!({"records": [upsert("orders", "2", "not-a-version", json!({}))]});
    let invalid = |response: Value| {
        assert!(
            response["type"]
                .as_str()
                .unwrap()
                .ends_with("invalid-batch"),
            "{response}"
        );
        assert_eq!(response["errors"][0]["index"], 0);
    };
    // A key completed with another body: the invalid batch is refused as invalid, not as a
    // reused key.
    assert_eq!(server.post_batch(&token, "done", &good).await.status(), 200);
    let refused = server.post_batch(&token, "done", &bad).await;
    assert_eq!(refused.status(), 422);
    invalid(json_of(refused).await);
    // A key another request holds: refused as invalid too, not 409.
    hold_key(&server, &reg.client_id, "held", b"another body", 60_000).await;
    let refused = server.post_batch(&token, "held", &bad).await;
    assert_eq!(refused.status(), 422);
    invalid(json_of(refused).await);
    // A free key: refused, and kept by nobody, so the corrected batch goes through at once.
    let refused = server.post_batch(&token, "free", &bad).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(server.post_batch(&token, "free", &good).await.status(), 200);
    assert_eq!(server.audit_events("sync.batch.refused").await.len(), 3);
    assert!(server.audit_events("idempotency.mismatch").await.is_empty());
    assert!(server
        .audit_events("idempotency.in_flight")
        .await
        .is_empty());
}

async fn keys_belong_to_the_client_that_sent_them(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let a = server.register(tenant, "Site A", "sync:write").await;
    let b = server.register(tenant, "Site B", "sync:write").await;
    let (ta, tb) = (server.access_token(&a).await, server.access_token(&b).await);
    let one = json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({}))]});
    let two = json!({"records": [upsert("orders", "2", &v(1_800_000_000_000, 0, "b"), json!({}))]});
    assert_eq!(server.post_batch(&ta, "same-key", &one).await.status(), 200);
    let other = server.post_batch(&tb, "same-key", &two).await;
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("idempotent-replayed").is_none());
    assert_eq!(server.stored_records(tenant, "orders").await.len(), 2);
}

async fn every_bad_input_gets_a_clear_4xx_and_changes_nothing(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| {
            s.sync.max_batch_bytes = 256 * 1024;
            s.sync.max_batch_records = 10;
            s.sync.max_record_data_bytes = 1024;
        },
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let (tenant, token) = site(&server, "Acme", "sync:write").await;
    let good = upsert(
        "orders",
        "1",
        &v(1_800_000_000_000, 0, "a"),
        json!({"x": 1}),
    );
    let send = |key: Option<&'static str>, content_type: &'static str, body: Vec<u8>| {
        let mut request = server
            .http
            .post(server.endpoint("/sync/batches"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let json_bytes = |v: Value| serde_json::to_vec(&v).unwrap();
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    // (what, Idempotency-Key, content type, body, expected status)
    type BadInput = (
        &'static str,
        Option<&'static str>,
        &'static str,
        Vec<u8>,
        u16,
    );
    let cases: Vec<BadInput> = vec![
        (
            "missing key",
            None,
            "application/json",
            json_bytes(json!({"records": [good.clone()]})),
            400,
        ),
        (
            "malformed JSON",
            Some("k1"),
            "application/json",
            b"{\"records\": [".to_vec(),
            400,
        ),
        (
            "wrong content type",
            Some("k2"),
            "text/plain",
            json_bytes(json!({"records": [good.clone()]})),
            415,
        ),
        (
            "oversized body",
            Some("k3"),
            "application/json",
            vec![b' '; 300 * 1024],
            413,
        ),
        (
            "deep nesting",
            Some("k4"),
            "application/json",
            format!("{{\"records\": {deep}}}").into_bytes(),
            400,
        ),
        (
            "invalid UTF-8",
            Some("k5"),
            "application/json",
            b"{\"records\": [\"\xff\xfe\"]}".to_vec(),
            400,
        ),
        (
            "huge string",
            Some("k6"),
            "application/json",
            json_bytes(
                json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({"s": "x".repeat(5000)}))]}),
            ),
            422,
        ),
        (
            // PostgreSQL cannot store a NUL: refused with the field named, on every backend.
            "a NUL in a record id",
            Some("k-nul"),
            "application/json",
            json_bytes(
                json!({"records": [upsert("orders", "A\u{0}1", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]}),
            ),
            422,
        ),
        (
            "non-numeric version",
            Some("k7"),
            "application/json",
            json_bytes(json!({"records": [upsert("orders", "1", "abc-0000-a", json!({}))]})),
            422,
        ),
        (
            "unknown op",
            Some("k8"),
            "application/json",
            json_bytes(
                json!({"records": [{"entity": "orders", "id": "1", "op": "merge", "version": v(1_800_000_000_000, 0, "a")}]}),
            ),
            422,
        ),
        (
            "empty batch",
            Some("k9"),
            "application/json",
            json_bytes(json!({"records": []})),
            422,
        ),
        (
            "too many records",
            Some("k10"),
            "application/json",
            json_bytes(json!({"records": vec![good.clone(); 11]})),
            422,
        ),
        (
            "not a batch",
            Some("k11"),
            "application/json",
            json_bytes(json!([good.clone()])),
            422,
        ),
        (
            "injection in an id",
            Some("k12"),
            "application/json",
            json_bytes(
                json!({"records": [upsert("orders'; DROP TABLE records;--", "1", &v(1_800_000_000_000, 0, "a"), json!({}))]}),
            ),
            422,
        ),
        (
            "key too long",
            Some(Box::leak("k".repeat(256).into_boxed_str())),
            "application/json",
            json_bytes(json!({"records": [good.clone()]})),
            400,
        ),
    ];
    for (what, key, content_type, body, status) in cases {
        let response = send(key, content_type, body).await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem = json_of(response).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{what}");
        if status == 422
            && what != "empty batch"
            && what != "too many records"
            && what != "not a batch"
        {
            assert_eq!(
                problem["errors"][0]["index"], 0,
                "{what}: the bad record is named"
            );
        }
    }
    assert!(
        server.stored_records(tenant, "orders").await.is_empty(),
        "nothing changed"
    );
    assert_eq!(server.audit_events("sync.batch.applied").await.len(), 0);
    // A corrected batch may reuse the key of a refused one: refusals keep no key.
    assert_eq!(
        server
            .post_batch(&token, "k7", &json!({"records": [good]}))
            .await
            .status(),
        200
    );
}

async fn a_version_reused_for_other_content_is_rejected_and_the_rest_applied(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant, token) = site(&server, "Acme", "sync:write").await;
    let version = v(1_800_000_000_000, 0, "a");
    server
        .post_batch(
            &token,
            "k1",
            &json!({"records": [upsert("orders", "1", &version, json!({"x": 1}))]}),
        )
        .await;
    let body = json_of(
        server
            .post_batch(
                &token,
                "k2",
                &json!({"records": [
                    upsert("orders", "1", &version, json!({"x": 999})),
                    upsert("orders", "2", &version, json!({"y": 2})),
                ]}),
            )
            .await,
    )
    .await;
    assert_eq!(body["results"][0]["status"], "rejected");
    assert!(body["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("new version"));
    assert_eq!(body["results"][1]["status"], "applied");
    let records = server.stored_records(tenant, "orders").await;
    assert_eq!(records[0].3.as_deref(), Some(r#"{"x":1}"#));
    assert_eq!(records.len(), 2);
}

async fn tenants_never_see_each_others_records(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, acme) = site(&server, "Acme", "sync:write stats:read").await;
    let (_, globex) = site(&server, "Globex", "sync:write stats:read").await;
    let batch = json!({"records": [upsert("orders", "secret-order", &v(1_800_000_000_000, 0, "a"), json!({"x": 1}))]});
    server.post_batch(&acme, "k", &batch).await;
    // The same key and body from another tenant is its own batch.
    let theirs = server.post_batch(&globex, "k", &batch).await;
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    let page = json_of(server.get_as(&globex, "/sync/records?entity=orders").await).await;
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_ne!(page["records"][0]["client_id"], Value::Null);
    let stats = json_of(server.get_as(&globex, "/sync/stats").await).await;
    assert_eq!(stats["windows"][0]["total"]["batches"], 1);
    let bad = server
        .get_as(&globex, "/sync/records?entity=orders%27%20OR%201%3D1")
        .await;
    assert_eq!(bad.status(), 400);
    let no_scope = server
        .get_as(
            &site(&server, "Initech", "sync:write").await.1,
            "/sync/records?entity=orders",
        )
        .await;
    assert_eq!(no_scope.status(), 403);
}

async fn stats_count_batches_records_and_times(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = site(&server, "Acme", "sync:write stats:read").await;
    server
        .post_batch(
            &token,
            "k1",
            &json!({"records": [upsert("orders", "1", &v(1_800_000_000_000, 0, "a"), json!({}))]}),
        )
        .await;
    server.post_batch(&token, "k2", &json!({"records": [upsert("orders", "1", &v(1_700_000_000_000, 0, "a"), json!({})), upsert("parts", "p", &v(1_800_000_000_000, 0, "a"), json!({}))]})).await;
    server
        .post_batch(&token, "k3", &json!({"records": []}))
        .await;
    let stats = json_of(server.get_as(&token, "/sync/stats").await).await;
    let hour = &stats["windows"][0];
    assert_eq!(hour["window"], "1h");
    assert_eq!(hour["total"]["batches"], 2);
    assert_eq!(hour["total"]["refused_batches"], 1);
    assert_eq!(hour["total"]["applied"], 2);
    assert_eq!(hour["total"]["stale"], 1);
    assert!(
        hour["total"]["p95_batch_ms"].as_f64().unwrap()
            >= hour["total"]["p50_batch_ms"].as_f64().unwrap()
    );
    let per_entity = hour["per_entity"].as_array().unwrap();
    assert_eq!(per_entity.len(), 2);
    assert_eq!(per_entity[0]["entity"], "orders");
    assert_eq!(per_entity[0]["stale"], 1);
}

/// Property: whatever the order and however often each delivery arrives, the server ends
/// holding, for every record, the content of its newest version.
async fn any_order_and_repetition_of_deliveries_converges(backend: Backend) {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let server = TestServer::start(backend).await;
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (tenant, token) = site(&server, &format!("T{seed}"), "sync:write").await;
        // Three sites change five records, each change its own delivery.
        let mut deliveries = Vec::new();
        for i in 0..15 {
            let id = format!("r{}", rng.gen_range(0..5));
            let node = ["a", "b", "c"][i % 3];
            let version = v(
                1_800_000_000_000 + rng.gen_range(0..4),
                rng.gen_range(0..2),
                node,
            );
            let op = if rng.gen_bool(0.2) {
                "delete"
            } else {
                "upsert"
            };
            let record = if op == "delete" {
                json!({"entity": "items", "id": id, "op": "delete", "version": version})
            } else {
                upsert("items", &id, &version, json!({"by": node, "i": i}))
            };
            deliveries.push((format!("d{i}"), record));
        }
        // What the server must end with: per id, the record with the greatest version
        // (two changes with an equal version from one node cannot exist: drop such pairs).
        let mut expected: std::collections::BTreeMap<String, Value> = Default::default();
        deliveries.sort_by(|a, b| a.1["version"].as_str().cmp(&b.1["version"].as_str()));
        deliveries.dedup_by(|a, b| a.1["id"] == b.1["id"] && a.1["version"] == b.1["version"]);
        for (_, record) in &deliveries {
            expected.insert(record["id"].as_str().unwrap().to_owned(), record.clone());
        }
        // Any order, with repetitions.
        let mut schedule: Vec<usize> = (0..deliveries.len()).collect();
        for _ in 0..10 {
            schedule.push(rng.gen_range(0..deliveries.len()));
        }
        for i in (1..schedule.len()).rev() {
            schedule.swap(i, rng.gen_range(0..=i));
        }
        for index in schedule {
            let (key, record) = &deliveries[index];
            let response = server
                .post_batch(&token, key, &json!({"records": [record]}))
                .await;
            assert_eq!(response.status(), 200, "seed {seed}");
        }
        let stored = server.stored_records(tenant, "items").await;
        assert_eq!(stored.len(), expected.len(), "seed {seed}");
        for (id, version, deleted, data) in stored {
            let want = &expected[&id];
            assert_eq!(
                version,
                want["version"].as_str().unwrap(),
                "seed {seed} id {id}"
            );
            assert_eq!(deleted, want["op"] == "delete", "seed {seed} id {id}");
            if !deleted {
                assert_eq!(
                    serde_json::from_str::<Value>(&data.unwrap()).unwrap(),
                    want["data"],
                    "seed {seed} id {id}"
                );
            }
        }
    }
}

/// Two sites send the same hundred records at the same moment, one in ascending order and
/// one in descending: both batches apply, every time (on PostgreSQL each locks the rows it
/// writes; taken in opposite orders, two batches would wait on each other until the
/// database killed one as a deadlock), and the newer version of each record wins.
async fn two_sites_writing_the_same_records_in_opposite_orders_at_once_both_apply(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let a = server.register(tenant, "Site A", "sync:write").await;
    let b = server.register(tenant, "Site B", "sync:write").await;
    let (token_a, token_b) = (server.access_token(&a).await, server.access_token(&b).await);
    let batch = |round: u64, node: &str, ids: Vec<usize>| {
        let records: Vec<Value> = ids
            .into_iter()
            .map(|n| {
                upsert(
                    "orders",
                    &format!("{n:03}"),
                    &v(1_800_000_000_000 + round, 0, node),
                    json!({"n": n, "by": node}),
                )
            })
            .collect();
        json!({ "records": records })
    };
    for round in 0..20 {
        let up = batch(round, "a", (0..100).collect());
        let down = batch(round, "b", (0..100).rev().collect());
        let (key_a, key_b) = (format!("a-{round}"), format!("b-{round}"));
        let (from_a, from_b) = tokio::join!(
            server.post_batch(&token_a, &key_a, &up),
            server.post_batch(&token_b, &key_b, &down),
        );
        assert_eq!(
            (from_a.status().as_u16(), from_b.status().as_u16()),
            (200, 200),
            "round {round}"
        );
    }
    let stored = server.stored_records(tenant, "orders").await;
    assert_eq!(stored.len(), 100);
    assert!(
        stored
            .iter()
            .all(|(_, version, ..)| *version == v(1_800_000_000_019, 0, "b")),
        "the last round's newer version everywhere"
    );
}
