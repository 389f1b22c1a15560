//! Stories of logins under attack: a stranger failing in a site's name, a proxy in front of
//! the server, a noisy machine behind the same address. Failures are counted per (address,
//! client) and per address, never per client alone; the block is checked before the secret.
//! Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use kendrix_server::settings::Settings;
use kendrix_tests::{on_both_backends, Backend, TestServer};

on_both_backends!(
    a_stranger_failing_in_a_sites_name_does_not_lock_the_site_out,
    a_blocked_caller_cannot_tell_a_right_guess_from_a_wrong_one,
    behind_a_trusted_proxy_each_caller_is_counted_by_its_own_address,
    forwarded_headers_from_an_untrusted_peer_are_ignored,
    a_site_that_logs_in_from_a_failing_address_is_slowed_down_not_refused,
    client_ids_no_client_can_have_are_refused_and_leave_no_counter,
);

const GRANT: [(&str, &str); 1] = [("grant_type", "client_credentials")];

/// A server behind a proxy on 127.0.0.1 (the tests' own address), so each request can say
/// which client address it comes from; `max` failed logins per (address, client).
async fn behind_proxy(
    backend: Backend,
    max: i64,
    adjust: impl FnOnce(&mut Settings),
) -> TestServer {
    TestServer::start_with(
        backend,
        |s| {
            s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            s.rate_limits.failed_auth_max = max;
            s.rate_limits.failed_auth_max_per_address = 1_000;
            adjust(s);
        },
        Arc::new(kendrix_core::SystemClock),
    )
    .await
}

/// A token request as the proxy forwards it from `address`; the status.
async fn login_from(server: &TestServer, address: &str, id: &str, secret: &str) -> u16 {
    server
        .http
        .post(server.endpoint("/oauth/token"))
        .header("x-forwarded-for", address)
        .basic_auth(id, Some(secret))
        .form(&GRANT)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_stranger_failing_in_a_sites_name_does_not_lock_the_site_out(backend: Backend) {
    let server = behind_proxy(backend, 3, |_| {}).await;
    let site = server
        .register(server.tenant("Acme").await, "Store 12", "sync:write")
        .await;
    let mut stranger = Vec::new();
    for _ in 0..6 {
        stranger.push(login_from(&server, "203.0.113.9", &site.client_id, "kxs_guess").await);
    }
    assert_eq!(stranger, [401, 401, 429, 429, 429, 429]);
    // The store itself, from its own address, is not affected.
    assert_eq!(
        login_from(
            &server,
            "198.51.100.7",
            &site.client_id,
            &site.client_secret
        )
        .await,
        200
    );
    assert_eq!(server.audit_events("auth.client.failure").await.len(), 3);
    assert_eq!(server.audit_events("rate_limit.exceeded").await.len(), 1);
}

async fn a_blocked_caller_cannot_tell_a_right_guess_from_a_wrong_one(backend: Backend) {
    let server = behind_proxy(backend, 2, |_| {}).await;
    let site = server
        .register(server.tenant("Acme").await, "Store 12", "sync:write")
        .await;
    for _ in 0..2 {
        login_from(&server, "203.0.113.9", &site.client_id, "kxs_guess").await;
    }
    let failures = server.audit_events("auth.client.failure").await.len();
    let wrong = login_from(&server, "203.0.113.9", &site.client_id, "kxs_guess2").await;
    let right = login_from(&server, "203.0.113.9", &site.client_id, &site.client_secret).await;
    assert_eq!((wrong, right), (429, 429), "the same answer either way");
    assert_eq!(
        server.audit_events("auth.client.failure").await.len(),
        failures,
        "while blocked the secret is not even compared"
    );
    assert!(server.audit_events("token.issued").await.is_empty());
}

async fn behind_a_trusted_proxy_each_caller_is_counted_by_its_own_address(backend: Backend) {
    let server = behind_proxy(backend, 1_000, |s| {
        s.rate_limits.failed_auth_max_per_address = 5
    })
    .await;
    let site = server
        .register(server.tenant("Acme").await, "Store 12", "sync:write")
        .await;
    // One machine behind the proxy sprays made-up client ids.
    let mut spray = Vec::new();
    for i in 0..7 {
        spray.push(login_from(&server, "203.0.113.9", &format!("kxc_made_up_{i}"), "x").await);
    }
    assert_eq!(spray, [401, 401, 401, 401, 429, 429, 429]);
    // Every other caller reaches the proxy from its own address and is not affected.
    assert_eq!(
        login_from(
            &server,
            "198.51.100.7",
            &site.client_id,
            &site.client_secret
        )
        .await,
        200
    );
    // The audit names the client's address, not the proxy's.
    let failure = &server.audit_events("auth.client.failure").await[0];
    assert_eq!(failure.source.as_deref(), Some("203.0.113.9"));
}

async fn forwarded_headers_from_an_untrusted_peer_are_ignored(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| s.rate_limits.failed_auth_max_per_address = 3,
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    // No trusted proxies: a caller claiming a new address each time is still one caller.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let address = format!("192.0.2.{i}");
        statuses.push(login_from(&server, &address, "kxc_nobody", "x").await);
    }
    assert_eq!(statuses, [401, 401, 429, 429]);
    let failure = &server.audit_events("auth.client.failure").await[0];
    assert_eq!(failure.source.as_deref(), Some("127.0.0.1"));
}

async fn a_site_that_logs_in_from_a_failing_address_is_slowed_down_not_refused(backend: Backend) {
    let server = behind_proxy(backend, 1_000, |s| {
        s.rate_limits.failed_auth_max_per_address = 3
    })
    .await;
    let tenant = server.tenant("Acme").await;
    let store = server.register(tenant, "Store 12", "sync:write").await;
    let newcomer = server.register(tenant, "Store 13", "sync:write").await;
    let office = "198.51.100.7";
    assert_eq!(
        login_from(&server, office, &store.client_id, &store.client_secret).await,
        200
    );
    // Another machine in the same office (one NAT address) fails again and again.
    for i in 0..5 {
        login_from(&server, office, &format!("kxc_typo_{i}"), "x").await;
    }
    // The store, which logs in from there, still gets its token, after a pause.
    let started = std::time::Instant::now();
    assert_eq!(
        login_from(&server, office, &store.client_id, &store.client_secret).await,
        200
    );
    assert!(started.elapsed() >= kendrix_server::throttle::SLOW_DOWN);
    // A client that never logged in from there waits for the window to end.
    assert_eq!(
        login_from(
            &server,
            office,
            &newcomer.client_id,
            &newcomer.client_secret
        )
        .await,
        429
    );
}

async fn client_ids_no_client_can_have_are_refused_and_leave_no_counter(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (id, why) in [
        ("kxc_\u{0}nul", "control character"),
        (&"k".repeat(3000), "longer than"),
    ] {
        let response = server
            .http
            .post(server.endpoint("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains("client_id") && description.contains(why),
            "{description}"
        );
    }
    // Made-up ids are counted against the address only: no counter is keyed by them.
    let status = login_from(&server, "127.0.0.1", "kxc_made_up", "x").await;
    assert_eq!(status, 401);
    let keyed = server
        .db
        .scalar("SELECT COUNT(*) FROM rate_limits WHERE bucket LIKE '%made_up%'")
        .await;
    assert_eq!(keyed, 0);
}
