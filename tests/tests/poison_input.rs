//! Poison input never stalls a site: text PostgreSQL cannot store (a NUL) or no screen can show
//! (control characters), in a record or in any id a write endpoint takes, is refused with a
//! 4xx naming the field — the same on both backends — and the next good request goes through.

use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    a_batch_with_poison_records_is_refused_listing_each_and_the_next_one_applies,
    ids_and_text_the_database_cannot_store_are_refused_by_name_on_every_write,
);

fn upsert(id: &str, data: Value) -> Value {
    json!({"entity": "orders", "id": id, "op": "upsert",
           "version": "1732838400123-0000-site12", "data": data})
}

async fn config_versions(server: &TestServer, token: &str) -> usize {
    let versions: Value = server
        .get_as(token, "/config/versions")
        .await
        .json()
        .await
        .unwrap();
    versions.as_array().expect("versions").len()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    response.json().await.expect("problem json")
}

async fn a_batch_with_poison_records_is_refused_listing_each_and_the_next_one_applies(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Store 12", "sync:write").await;
    let token = server.access_token(&site).await;

    // A NUL in an id, a NUL deep in the data (a value and a key), and one good record.
    let poisoned = json!({"records": [
        upsert("A\u{0}1", json!({"total": 1})),
        upsert("A-2", json!({"lines": [{"sku": "ok"}, {"sku": "X\u{0}"}]})),
        upsert("A-3", json!({"total": 3})),
        upsert("A-4", json!({"bad\u{0}key": 4})),
    ]});
    let refused = problem(server.post_batch(&token, "b1", &poisoned).await, 422).await;
    let errors = refused["errors"].as_array().expect("errors");
    let indexes: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        [0, 1, 3],
        "every bad record, and only those: {refused}"
    );
    assert!(errors[0]["errors"][0]
        .as_str()
        .unwrap()
        .contains("\"id\" contains the control character U+0000"));
    assert_eq!(
        errors[1]["errors"][0],
        "\"data\" field \"lines[1].sku\" contains U+0000 (NUL), which the server's database cannot store"
    );
    assert!(errors[2]["errors"][0]
        .as_str()
        .unwrap()
        .contains("field \"bad\\0key\""));
    assert!(server.stored_records(tenant, "orders").await.is_empty());

    // The site takes the bad ones out and sends the rest: applied at once.
    let clean = json!({"records": [upsert("A-3", json!({"total": 3}))]});
    let applied = server.post_batch(&token, "b2", &clean).await;
    assert_eq!(applied.status(), 200);
    assert_eq!(server.stored_records(tenant, "orders").await.len(), 1);
}

async fn ids_and_text_the_database_cannot_store_are_refused_by_name_on_every_write(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Store 12", "sync:write").await;
    let admin = server
        .register(
            tenant,
            "Admin",
            "clients:admin config:write config:read stats:read",
        )
        .await;
    let site_token = server.access_token(&site).await;
    let admin_token = server.access_token(&admin).await;
    let http = &server.http;

    // An admin's site paths: a NUL or a kilobyte where a client id goes.
    let long = "k".repeat(2_000);
    for bad in ["kxc_%00", long.as_str()] {
        let detail = server
            .get_as(&admin_token, &format!("/admin/sites/{bad}"))
            .await;
        let body = problem(detail, 400).await;
        assert!(
            body["detail"].as_str().unwrap().contains("client_id"),
            "{body}"
        );
        for action in ["revoke", "rotate-secret"] {
            let sent = http
                .post(server.endpoint(&format!("/admin/sites/{bad}/{action}")))
                .bearer_auth(&admin_token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let body = problem(sent, 400).await;
            assert!(
                body["detail"].as_str().unwrap().contains("client_id"),
                "{action}: {body}"
            );
        }
    }

    // Configuration: a client scope with a NUL, a comment with a NUL.
    let put = |body: Value| {
        http.put(server.endpoint("/config/entries"))
            .bearer_auth(&admin_token)
            .json(&body)
            .send()
    };
    let scoped = put(json!({"scope": "client:kxc_\u{0}", "key": "a", "value": "1"}))
        .await
        .unwrap();
    let body = problem(scoped, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("scope"), "{body}");
    let commented = put(json!({"scope": "tenant", "key": "a", "value": "1",
                               "comment": "why\u{0}"}))
    .await
    .unwrap();
    let body = problem(commented, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("comment"),
        "{body}"
    );
    assert_eq!(
        config_versions(&server, &admin_token).await,
        0,
        "nothing was written"
    );

    // A heartbeat whose run message carries a NUL.
    let now = kendrix_core::Clock::now_ms(&kendrix_core::SystemClock);
    let beat = http
        .post(server.endpoint("/sync/heartbeat"))
        .bearer_auth(&site_token)
        .json(
            &json!({"agent_version": "0.1.0", "queue_depth": 0, "oldest_pending_ms": null,
               "dead_letters": 0, "interval_secs": 300,
               "last_run": {"started_ms": now - 900, "finished_ms": now, "outcome": "synced",
                            "sent": 1, "applied": 1, "refused": 0, "message": "ok\u{0}"}}),
        )
        .send()
        .await
        .unwrap();
    let body = problem(beat, 400).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("last_run.message"),
        "{body}"
    );

    // Paging the records after an id no record can have.
    let page = server
        .get_as(&admin_token, "/sync/records?entity=orders&after=A%00")
        .await;
    let body = problem(page, 400).await;
    assert_eq!(body["invalid_params"][0]["name"], "after", "{body}");
}
