//! The admin's story end to end, on both backends: a real `kendrix-server` process, the real
//! `kendrix` binary with its secrets in the session's keychain. The admin registers
//! "Store 99" over HTTP, the site enrolls with the string it got and syncs, the admin sees it
//! synced, rotates its secret with a short grace and finally revokes it.

use std::time::Duration;

use kendrix_tests::agent::{
    exit_code, order_rows, output_text, server_checksum, source_checksum, Agent,
};
use kendrix_tests::{on_both_backends, server_cli, Backend, ServerProcess, TestDb};
use serde_json::{json, Value};

const ADMIN_SCOPES: &str = "clients:admin config:read config:write audit:read stats:read";

on_both_backends!(an_admin_registers_store_99_sees_it_synced_rotates_its_secret_and_revokes_it);

async fn token(http: &reqwest::Client, server: &str, id: &str, secret: &str) -> reqwest::Response {
    http.post(format!("{server}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
}

async fn an_admin_registers_store_99_sees_it_synced_rotates_its_secret_and_revokes_it(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    server_cli(&db.url, &["migrate"]);
    server_cli(&db.url, &["tenant", "create", "--name", "Acme"]);
    let admin: Value = serde_json::from_str(&server_cli(
        &db.url,
        &[
            "client",
            "register",
            "--name",
            "HQ: Maria",
            "--tenant-id",
            "1",
            "--scopes",
            ADMIN_SCOPES,
            "--json",
        ],
    ))
    .unwrap();
    let server = ServerProcess::start(&db.url, &[]);
    let http = reqwest::Client::new();
    let admin_id = admin["client_id"].as_str().unwrap();
    let admin_token: Value = token(
        &http,
        &server.url,
        admin_id,
        admin["client_secret"].as_str().unwrap(),
    )
    .await
    .json()
    .await
    .unwrap();
    let admin_token = admin_token["access_token"].as_str().unwrap().to_owned();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.url))
            .bearer_auth(&admin_token)
            .json(&body)
            .send()
    };

    // The admin registers the site over HTTP and hands over one line.
    let created = post("/admin/sites", json!({"name": "Store 99"}))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let site_id = created["client_id"].as_str().unwrap().to_owned();
    let first_secret = created["client_secret"].as_str().unwrap().to_owned();

    // The site's PC enrolls with it and syncs 100 records.
    let agent = Agent::new();
    agent.enroll(created["enrollment"].as_str().unwrap());
    let rows = order_rows(0, 100);
    agent.enqueue("orders", &rows);
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));

    // The same PC is also the admin's console: a second identity, kept apart.
    // (Registered before the server first started, its string names the default address.)
    let admin_enrollment = kendrix_core::enrollment::Enrollment {
        server: server.url.clone(),
        client_id: admin_id.to_owned(),
        client_secret: admin["client_secret"].as_str().unwrap().to_owned(),
    }
    .encode();
    agent.ok(&["admin", "enroll", &admin_enrollment]);
    let sites: Value = serde_json::from_str(&agent.ok(&["admin", "sites", "--json"])).unwrap();
    let store99 = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_id"] == site_id.as_str())
        .unwrap_or_else(|| panic!("Store 99 is listed: {sites}"));
    assert_eq!(store99["name"], "Store 99");
    assert_eq!(store99["status"], "active");
    assert_eq!(
        store99["queue_depth"], 0,
        "its heartbeat says all synced: {store99}"
    );
    assert_eq!(store99["records_24h"], 100);
    assert!(store99["last_seen_ms"].as_i64().is_some());
    assert_eq!(store99["needs_attention"], json!([]), "{store99}");
    assert_eq!(
        agent.status()["queue_depth"],
        0,
        "the admin identity did not touch the site's"
    );

    // A rotation with a short grace: both secrets work, then only the new one.
    let rotated = post(
        &format!("/admin/sites/{site_id}/rotate-secret"),
        json!({"grace_seconds": 3}),
    )
    .await
    .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        token(&http, &server.url, &site_id, &first_secret)
            .await
            .status(),
        200
    );
    assert_eq!(
        token(&http, &server.url, &site_id, &new_secret)
            .await
            .status(),
        200
    );
    // The site is re-enrolled with the new string; its queue stays.
    agent.enqueue("orders", &order_rows(100, 10));
    agent.enroll(rotated["enrollment"].as_str().unwrap());
    assert_eq!(
        agent.status()["queue_depth"],
        10,
        "re-enrolling keeps the queue"
    );
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert_eq!(
        token(&http, &server.url, &site_id, &first_secret)
            .await
            .status(),
        401,
        "the old secret stops when the grace ends"
    );
    let out = agent.run(&["sync"]);
    assert_eq!(
        exit_code(&out),
        0,
        "the new secret syncs: {}",
        output_text(&out)
    );
    assert_eq!(server_checksum(&db, "orders").await.0, 110);

    // Revoked: the site's next sync is refused (exit 4) and its queue is intact.
    agent.enqueue("orders", &order_rows(110, 5));
    let revoked = post(&format!("/admin/sites/{site_id}/revoke"), json!({}))
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let out = agent.run(&["sync", "--retry-for-secs", "0"]);
    assert_eq!(exit_code(&out), 4, "{}", output_text(&out));
    assert_eq!(agent.status()["queue_depth"], 5, "nothing was lost");
    assert_eq!(server_checksum(&db, "orders").await.0, 110);
    let sites: Value = serde_json::from_str(&agent.ok(&["admin", "sites", "--json"])).unwrap();
    let store99 = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_id"] == site_id.as_str())
        .unwrap();
    assert_eq!(store99["status"], "revoked");

    // Neither secret ever reached a file.
    agent.assert_no_file_holds(&[
        &first_secret,
        &new_secret,
        admin["client_secret"].as_str().unwrap(),
    ]);
}
