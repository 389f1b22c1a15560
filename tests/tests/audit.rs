//! Stories of the audit log: an admin finds, exports and verifies what happened, pages
//! stay stable, tenants stay apart, and any tampering with stored entries is named.
//! Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::Value;

on_both_backends!(
    an_admin_lists_exports_and_verifies_yesterdays_failed_logins_of_one_site,
    pages_are_stable_and_cursors_are_opaque,
    search_and_filters_refuse_bad_input_and_never_break,
    a_tenant_sees_only_its_own_audit_entries,
    edited_deleted_reordered_and_truncated_entries_are_each_detected,
    pruning_past_retention_keeps_the_rest_verifiable,
);

const DAY: i64 = 86_400_000;

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "{:?}", response.url().to_string());
    response.json().await.unwrap()
}

async fn an_admin_lists_exports_and_verifies_yesterdays_failed_logins_of_one_site(
    backend: Backend,
) {
    let today = 1_800_000_000_000 - 1_800_000_000_000 % DAY + 10 * 3_600_000;
    let clock = Arc::new(ManualClock::new(today - DAY));
    let server = TestServer::start_with(backend, |_| {}, clock.clone()).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Site 12", "sync:write").await;
    let other = server.register(tenant, "Site 13", "sync:write").await;
    let admin = server.register(tenant, "Auditor", "audit:read").await;
    let grant = [("grant_type", "client_credentials")];
    // Yesterday: two failed logins of site 12, one of site 13, one good login.
    for id in [&site.client_id, &site.client_id, &other.client_id] {
        server.token_request(id, "kxs_wrong", &grant).await;
    }
    server.access_token(&site).await;
    clock.advance(DAY);
    server
        .token_request(&site.client_id, "kxs_wrong", &grant)
        .await; // today: not yesterday's
    let token = server.access_token(&admin).await;

    let yesterday = today - DAY - today % DAY;
    let path = format!(
        "/audit/logs?event=auth.client.failure&client_id={}&since={}&until={}",
        site.client_id,
        yesterday,
        yesterday + DAY
    );
    let page = json(server.get_as(&token, &path).await).await;
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries
        .iter()
        .all(|e| e["details"]["reason"] == "wrong secret" && e["outcome"] == "failure"));
    assert!(
        entries[0]["seq"].as_i64() > entries[1]["seq"].as_i64(),
        "newest first"
    );

    let csv_path = path.replace("/audit/logs?", "/audit/export?format=csv&");
    let csv = server.get_as(&token, &csv_path).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "seq,at,tenant_id,client_id,request_id,source,event,outcome,details,hash"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].contains(&site.client_id) && lines[1].contains("auth.client.failure"));

    let ndjson = server
        .get_as(
            &token,
            &path.replace("/audit/logs?", "/audit/export?format=ndjson&"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(ndjson.lines().count(), 2);
    assert!(ndjson
        .lines()
        .all(|l| serde_json::from_str::<Value>(l).is_ok()));

    let verify = json(server.get_as(&token, "/audit/verify").await).await;
    assert_eq!(verify["ok"], true);
    assert!(verify["entries_checked"].as_u64().unwrap() > 5);
    assert_eq!(server.audit_events("audit.read").await.len(), 1);
    assert_eq!(server.audit_events("audit.exported").await.len(), 2);
    assert_eq!(server.audit_events("audit.verified").await.len(), 1);
}

async fn pages_are_stable_and_cursors_are_opaque(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Site", "sync:write").await;
    let admin = server.register(tenant, "Auditor", "audit:read").await;
    for _ in 0..25 {
        server
            .token_request(
                &site.client_id,
                "kxs_wrong",
                &[("grant_type", "client_credentials")],
            )
            .await;
    }
    let token = server.access_token(&admin).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/audit/logs?event=auth.client.failure&limit=10&cursor={c}"),
            None => "/audit/logs?event=auth.client.failure&limit=10".into(),
        };
        let page = json(server.get_as(&token, &path).await).await;
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        // New entries arriving meanwhile do not shift the pages.
        server
            .token_request(
                &site.client_id,
                "kxs_wrong",
                &[("grant_type", "client_credentials")],
            )
            .await;
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first, no repeats"
    );
    let bad = server.get_as(&token, "/audit/logs?cursor=MTIz").await;
    assert_eq!(bad.status(), 400);
}

async fn search_and_filters_refuse_bad_input_and_never_break(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Site", "sync:write").await;
    let admin = server.register(tenant, "Auditor", "audit:read").await;
    server
        .token_request(
            &site.client_id,
            "kxs_wrong",
            &[("grant_type", "client_credentials")],
        )
        .await;
    server.access_token(&site).await;
    let token = server.access_token(&admin).await;
    let found = json(server.get_as(&token, "/audit/logs?q=wrong%20secret").await).await;
    assert_eq!(found["entries"].as_array().unwrap().len(), 1);
    assert_eq!(found["entries"][0]["event"], "auth.client.failure");
    for (query, status) in [
        ("event=token.issued'%20OR%20'1'='1", 400),
        ("outcome=maybe", 400),
        ("limit=0", 400),
        ("since=yesterday", 400),
        ("q=%22*)%20OR%20NEAR(", 200),
        ("q=%27%3B%20DROP%20TABLE%20audit_logs%3B--", 200),
        ("client_id=x%27%20OR%201%3D1", 200),
    ] {
        let response = server.get_as(&token, &format!("/audit/logs?{query}")).await;
        assert_eq!(response.status(), status, "{query}");
    }
    let verify = json(server.get_as(&token, "/audit/verify").await).await;
    assert_eq!(verify["ok"], true, "nothing was dropped or altered");
}

async fn a_tenant_sees_only_its_own_audit_entries(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.tenant("Acme").await;
    let site = server.register(acme, "Acme site", "sync:write").await;
    server
        .token_request(
            &site.client_id,
            "kxs_wrong",
            &[("grant_type", "client_credentials")],
        )
        .await;
    let globex = server.tenant("Globex").await;
    let auditor = server
        .register(globex, "Globex auditor", "audit:read")
        .await;
    let token = server.access_token(&auditor).await;
    let page = json(server.get_as(&token, "/audit/logs?limit=1000").await).await;
    assert!(page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tenant_id"] == globex));
    let export = server
        .get_as(
            &token,
            &format!("/audit/export?format=ndjson&client_id={}", site.client_id),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(export, "", "another tenant's entries are never exported");
    let site_token = server.access_token(&site).await;
    let denied = server.get_as(&site_token, "/audit/logs").await;
    assert_eq!(denied.status(), 403);
    let head = json(server.get_as(&site_token, "/audit/head").await).await;
    assert!(head["seq"].as_i64().unwrap() > 0 && head["hash"].as_str().unwrap().len() == 64);
}

async fn tamper(server: &TestServer, sql: &str) {
    server.db.execute(sql).await;
}

async fn edited_deleted_reordered_and_truncated_entries_are_each_detected(backend: Backend) {
    let cases = [
        ("UPDATE audit_logs SET outcome = CASE outcome WHEN 'success' THEN 'failure' ELSE 'success' END WHERE id = 4", 4, "edited"),
        ("DELETE FROM audit_logs WHERE id = 5", 5, "missing"),
        (
            "UPDATE audit_logs SET details = CASE id WHEN 3 THEN (SELECT details FROM audit_logs WHERE id = 6) \
             ELSE (SELECT details FROM audit_logs WHERE id = 3) END WHERE id IN (3, 6)",
            3,
            "edited",
        ),
        ("DELETE FROM audit_logs WHERE id > 6", 7, "truncated"),
    ];
    for (sql, first_bad, reason) in cases {
        let server = TestServer::start(backend).await;
        let tenant = server.tenant("Acme").await;
        let site = server.register(tenant, "Site", "sync:write").await;
        for i in 0..8 {
            let secret = if i % 2 == 0 {
                "kxs_wrong"
            } else {
                site.client_secret.as_str()
            };
            server
                .token_request(
                    &site.client_id,
                    secret,
                    &[("grant_type", "client_credentials")],
                )
                .await;
        }
        let before = server.app.audit_log.verify().await.unwrap();
        assert!(before.ok);
        tamper(&server, sql).await;
        let after = server.app.audit_log.verify().await.unwrap();
        assert!(!after.ok, "{sql}");
        let broken = after.first_broken.unwrap();
        assert_eq!(broken.seq, first_bad, "{sql}: {}", broken.reason);
        assert!(broken.reason.contains(reason), "{sql}: {}", broken.reason);
    }
}

async fn pruning_past_retention_keeps_the_rest_verifiable(backend: Backend) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let server = TestServer::start_with(backend, |_| {}, clock.clone()).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Site", "sync:write").await;
    for _ in 0..5 {
        server.access_token(&site).await;
    }
    clock.advance(40 * DAY);
    for _ in 0..3 {
        server.access_token(&site).await;
    }
    let ctx = kendrix_server::RequestContext::cli();
    let deleted = server.app.audit_log.prune(&ctx, 30).await.unwrap();
    assert_eq!(
        deleted, 7,
        "tenant, client and five grants were older than 30 days"
    );
    let verification = server.app.audit_log.verify().await.unwrap();
    assert!(verification.ok, "{:?}", verification.first_broken);
    assert_eq!(
        verification.entries_checked, 4,
        "three grants and the pruning itself"
    );
    let pruned = server.audit_events("audit.pruned").await;
    assert!(pruned[0].details.contains("\"checkpoint_seq\":7"));
    // Tampering after the checkpoint is still caught.
    tamper(&server, "UPDATE audit_logs SET details = '{}' WHERE id = 9").await;
    assert_eq!(
        server
            .app
            .audit_log
            .verify()
            .await
            .unwrap()
            .first_broken
            .unwrap()
            .seq,
        9
    );
}
