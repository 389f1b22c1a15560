//! Stories of callers who push at the edges: a site token hammering what it may not read,
//! a refresh token in the wrong hands, two instances racing for an abandoned batch key, a
//! database writer flipping a secret's flag, and headers and methods that would grow the
//! logs or the metrics without bound. Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_store::{IdempotencyClaim, NextAction};
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    a_site_token_hammering_what_it_may_not_read_leaves_one_entry_a_minute,
    a_tenants_verification_reports_its_own_evidence_and_is_bounded,
    a_verification_whose_caller_hung_up_stops_and_leaves_no_entry,
    another_clients_refresh_token_is_refused_without_spending_it,
    racing_takeovers_of_an_abandoned_key_leave_it_to_exactly_one,
    a_secret_whose_reveal_flag_was_flipped_in_the_database_does_not_open,
    unsafe_request_ids_and_made_up_methods_grow_nothing,
);

const T0: i64 = 1_800_000_000_000;

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn a_site_token_hammering_what_it_may_not_read_leaves_one_entry_a_minute(backend: Backend) {
    let clock = Arc::new(ManualClock::new(T0));
    let server = TestServer::start_with(backend, |_| {}, clock.clone()).await;
    let site = server
        .register(server.tenant("Acme").await, "Store 12", "sync:write")
        .await;
    let token = server.access_token(&site).await;
    for _ in 0..50 {
        assert_eq!(server.get_as(&token, "/audit/logs").await.status(), 403);
    }
    let refusals = server.audit_events("auth.bearer.failure").await;
    assert_eq!(
        refusals.len(),
        1,
        "the first refusal of the window is audited as it happens"
    );
    // When the window closes, the other 49 become one entry with their count.
    clock.advance(61_000);
    server.app.authorizer.flush_refusals().await.unwrap();
    let refusals = server.audit_events("auth.bearer.failure").await;
    assert_eq!(refusals.len(), 2);
    let (summary, details) = refusals
        .iter()
        .map(|e| (e, serde_json::from_str::<Value>(&e.details).unwrap()))
        .find(|(_, details)| details.get("repeated").is_some())
        .expect("a summary entry");
    assert_eq!(details["repeated"], 49);
    assert_eq!(details["reason"], "insufficient scope");
    assert_eq!(summary.client_id.as_deref(), Some(site.client_id.as_str()));
    // And the refusals count against the token's own request limit like any request.
    let limited = TestServer::start_with(
        backend,
        |s| s.rate_limits.api_per_client_per_minute = 5,
        Arc::new(ManualClock::new(T0)),
    )
    .await;
    let site = limited
        .register(limited.tenant("Acme").await, "Store 12", "sync:write")
        .await;
    let token = limited.access_token(&site).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            limited
                .get_as(&token, "/audit/logs")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [403, 403, 403, 403, 403, 429, 429]);
}

async fn a_tenants_verification_reports_its_own_evidence_and_is_bounded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let auditor = server.register(acme, "Acme auditor", "audit:read").await;
    for i in 0..5 {
        let other = server
            .register(globex, &format!("Globex {i}"), "sync:write")
            .await;
        server.access_token(&other).await;
    }
    let token = server.access_token(&auditor).await;
    let own_before = server
        .audit()
        .await
        .iter()
        .filter(|e| e.tenant_id == Some(acme))
        .count() as u64;
    let report = json(server.get_as(&token, "/audit/verify").await).await;
    assert_eq!(report["ok"], true);
    assert_eq!(
        report["entries_checked"], own_before,
        "its own entries, not everyone's"
    );
    assert!(report.get("head_seq").is_none(), "no global figures");
    let last_own = server
        .audit()
        .await
        .into_iter()
        .rfind(|e| e.tenant_id == Some(acme) && e.seq <= report["last_seq"].as_i64().unwrap())
        .unwrap();
    assert_eq!(report["last_hash"], last_own.hash);
    // Six verifications a minute per client; the seventh waits.
    let mut statuses = vec![200];
    for _ in 0..6 {
        statuses.push(
            server
                .get_as(&token, "/audit/verify")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429]);
}

async fn a_verification_whose_caller_hung_up_stops_and_leaves_no_entry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.tenant("Acme").await;
    let auditor = server.register(acme, "Acme auditor", "audit:read").await;
    let token = server.access_token(&auditor).await;
    // A long chain: verifying it takes a while.
    let ctx = kendrix_core::audit::AuditContext::default();
    let drafts: Vec<_> = (0..40_000)
        .map(|i| {
            ctx.draft(
                T0 + i,
                kendrix_core::AuditEvent::AuditRead,
                kendrix_core::AuditOutcome::Success,
                json!({"i": i}),
            )
        })
        .collect();
    for chunk in drafts.chunks(5_000) {
        server.store.append_audit(chunk).await.unwrap();
    }
    // How long one whole verification takes here, to hang up well before the end of one.
    let started = std::time::Instant::now();
    let waited = server.get_as(&token, "/audit/verify").await;
    assert_eq!(waited.status(), 200);
    let whole = started.elapsed();
    let hung_up = server
        .http
        .get(server.endpoint("/audit/verify"))
        .bearer_auth(&token)
        .timeout((whole / 4).max(std::time::Duration::from_millis(30)))
        .send()
        .await;
    assert!(hung_up.is_err(), "the caller gave up first");
    // Long enough for the abandoned verification to have finished, had it gone on.
    tokio::time::sleep(whole * 3).await;
    let verified = server.audit_events("audit.verified").await;
    assert_eq!(
        verified.len(),
        1,
        "only the verification that was waited for"
    );
}

async fn another_clients_refresh_token_is_refused_without_spending_it(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| s.refresh_tokens = true,
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let tenant = server.tenant("Acme").await;
    let owner = server.register(tenant, "Store 12", "sync:write").await;
    let thief = server.register(tenant, "Store 13", "sync:write").await;
    let grant = [("grant_type", "client_credentials")];
    let issued = json(
        server
            .token_request(&owner.client_id, &owner.client_secret, &grant)
            .await,
    )
    .await;
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();
    let refresh_grant = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let stolen = server
        .token_request(&thief.client_id, &thief.client_secret, &refresh_grant)
        .await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(json(stolen).await["error"], "invalid_grant");
    // The owner's token was not spent by the other client: it still rotates.
    let rotated = server
        .token_request(&owner.client_id, &owner.client_secret, &refresh_grant)
        .await;
    assert_eq!(rotated.status(), 200);
    assert!(server.audit_events("token.refresh_reuse").await.is_empty());
}

async fn racing_takeovers_of_an_abandoned_key_leave_it_to_exactly_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(server.tenant("Acme").await, "Store 12", "sync:write")
        .await;
    let client_pk = server
        .store
        .client(&site.client_id)
        .await
        .unwrap()
        .unwrap()
        .pk;
    let claim = move |owner: &str, now: i64| IdempotencyClaim {
        client_pk,
        key: "batch-7".into(),
        request_hash: "same-body".into(),
        body_b3: "b3:same-body".into(),
        owner: owner.into(),
        now,
        lease_ms: 30_000,
        retention_ms: 86_400_000,
    };
    // An instance claimed the key and died: its lease ran out.
    let first = server.store.claim_idempotency_key(&claim("dead", T0)).await;
    assert_eq!(first.unwrap(), NextAction::Claimed);
    let later = T0 + 60_000;
    let race = |i: usize| {
        let store = server.store.clone();
        let claim = claim(&format!("instance-{i}"), later);
        tokio::spawn(async move { store.claim_idempotency_key(&claim).await.unwrap() })
    };
    let outcomes = if backend == Backend::Postgres {
        // Two instances read the abandoned key while a third holds its row; the third then
        // takes it over and commits, and the two updates find nothing left to take.
        use sqlx::Connection;
        let mut third = sqlx::PgConnection::connect(&server.db.url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut third).await.unwrap();
        sqlx::query("SELECT 1 FROM idempotency_keys WHERE key = 'batch-7' FOR UPDATE")
            .execute(&mut third)
            .await
            .unwrap();
        let racers = [race(0), race(1)];
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'";
        for _ in 0..200 {
            if server.db.scalar(waiting).await == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(
            server.db.scalar(waiting).await,
            2,
            "both updates wait on the row"
        );
        sqlx::query(&format!(
            "UPDATE idempotency_keys SET owner = 'third', locked_until = {} WHERE key = 'batch-7'",
            later + 30_000
        ))
        .execute(&mut third)
        .await
        .unwrap();
        sqlx::query("COMMIT").execute(&mut third).await.unwrap();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap());
        }
        outcomes
    } else {
        // SQLite has one writer: sixteen racers are taken one after another.
        let racers: Vec<_> = (0..16).map(race).collect();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap());
        }
        outcomes
    };
    let claimed = outcomes
        .iter()
        .filter(|o| **o == NextAction::Claimed)
        .count();
    let expected = if backend == Backend::Postgres { 0 } else { 1 };
    assert_eq!(
        claimed, expected,
        "exactly one instance holds the key: {outcomes:?}"
    );
}

async fn a_secret_whose_reveal_flag_was_flipped_in_the_database_does_not_open(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Store 12", "config:read").await;
    let admin = server
        .register(tenant, "Acme admin", "config:read config:write")
        .await;
    let admin_token = server.access_token(&admin).await;
    let set = server
        .http
        .put(server.endpoint("/config/entries"))
        .bearer_auth(&admin_token)
        .json(&json!({"scope": "tenant", "key": "api.admin_token", "value": "top-secret", "secret": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let site_token = server.access_token(&site).await;
    let masked = server
        .get_as(&site_token, "/config")
        .await
        .text()
        .await
        .unwrap();
    assert!(!masked.contains("top-secret"));
    // Someone with write access to the database makes the secret "revealable".
    server
        .db
        .execute("UPDATE sync_config SET reveal = TRUE WHERE key = 'api.admin_token'")
        .await;
    let flipped = server.get_as(&site_token, "/config").await;
    assert!(!flipped.status().is_success(), "the value refuses to open");
    assert!(!flipped.text().await.unwrap().contains("top-secret"));
}

async fn unsafe_request_ids_and_made_up_methods_grow_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let long = "r".repeat(300);
    for (sent, kept) in [
        ("site-12.run:7_a", true),
        (long.as_str(), false),
        ("<img src=x onerror=alert(1)>", false),
    ] {
        let response = server
            .http
            .get(server.endpoint("/sync/versions"))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let echoed = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(echoed == sent, kept, "{sent:?} → {echoed:?}");
        assert!(echoed.len() <= 64);
    }
    let audited = server.audit_events("auth.bearer.failure").await;
    assert!(audited
        .iter()
        .all(|e| e.request_id.as_deref().is_some_and(|id| id.len() <= 64)));
    for method in ["FOO", "BAR", "BAZ"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let _ = server
            .http
            .request(method, server.endpoint("/health"))
            .send()
            .await
            .unwrap();
    }
    let metrics = server
        .http
        .get(server.endpoint("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("FOO") && !metrics.contains("BAZ"));
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
}
