//! Stories of an admin: a credential of their own (`clients:admin`, made on the server's
//! command line) and the admin API over the sites of their tenant — register, list with
//! health, inspect, rotate a secret with a grace, revoke — and the heartbeats behind it.

use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_server::services::sites::Registration;
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

const ADMIN_SCOPES: &str = "clients:admin config:read config:write audit:read stats:read";
const SITE_SCOPES: &str = "sync:write config:read";

on_both_backends!(
    an_admin_registers_a_site_over_http_and_sees_it_synced,
    a_rotated_secret_works_beside_the_new_one_until_its_grace_ends,
    a_revoked_site_is_refused_at_its_next_request,
    every_admin_endpoint_admits_only_its_own_tenants_admin,
    a_site_with_default_scopes_reads_no_tenant_data_and_an_admin_grants_only_site_scopes,
    sites_that_need_attention_come_first_with_plain_reasons,
    a_heartbeat_with_a_bad_field_is_refused_by_name_and_changes_nothing,
    a_large_fleet_is_listed_a_page_at_a_time,
);

async fn post_as(server: &TestServer, token: &str, path: &str, body: Value) -> reqwest::Response {
    server
        .http
        .post(server.endpoint(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST request")
}

/// A tenant with an admin credential, as the operator makes it on the server.
async fn tenant_with_admin(server: &TestServer, tenant: &str) -> (i64, Registration, String) {
    let tenant_id = server.tenant(tenant).await;
    let admin = server
        .register(tenant_id, &format!("HQ: Maria ({tenant})"), ADMIN_SCOPES)
        .await;
    let token = server.access_token(&admin).await;
    (tenant_id, admin, token)
}

fn batch(from: usize, n: usize) -> Value {
    let records: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({"entity": "orders", "id": format!("o{i:05}"), "version": format!("{:013}-0000-store", 1_764_000_000_000_u64 + i as u64),
                   "op": "upsert", "data": {"total": i}})
        })
        .collect();
    json!({ "records": records })
}

fn details(entry: &kendrix_core::audit::AuditEntry) -> Value {
    serde_json::from_str(&entry.details).expect("details are JSON")
}

fn registration_of(body: &Value) -> Registration {
    Registration {
        client_id: body["client_id"].as_str().expect("client_id").into(),
        client_secret: body["client_secret"]
            .as_str()
            .expect("client_secret")
            .into(),
        tenant_id: body["tenant_id"].as_i64().expect("tenant_id"),
        name: body["name"].as_str().expect("name").into(),
        scopes: body["scopes"].as_str().expect("scopes").into(),
        enrollment: body["enrollment"].as_str().expect("enrollment").into(),
    }
}

async fn sites_of(server: &TestServer, admin_token: &str) -> Vec<Value> {
    let response = server.get_as(admin_token, "/admin/sites").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["sites"].as_array().expect("sites").clone()
}

fn site<'a>(sites: &'a [Value], client_id: &str) -> &'a Value {
    sites
        .iter()
        .find(|s| s["client_id"] == client_id)
        .unwrap_or_else(|| panic!("{client_id} is not listed: {sites:?}"))
}

async fn an_admin_registers_a_site_over_http_and_sees_it_synced(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant_id, admin, admin_token) = tenant_with_admin(&server, "Acme").await;

    let response = post_as(
        &server,
        &admin_token,
        "/admin/sites",
        json!({"name": "Store 99"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["scopes"], SITE_SCOPES,
        "a site gets site scopes only"
    );
    assert_eq!(created["tenant_id"], tenant_id);
    let store99 = registration_of(&created);
    let enrollment = kendrix_core::enrollment::Enrollment::decode(&store99.enrollment).unwrap();
    assert_eq!(enrollment.client_id, store99.client_id);
    assert_eq!(enrollment.client_secret, store99.client_secret);

    // Before it syncs, it is listed as never synced.
    let listed = sites_of(&server, &admin_token).await;
    assert_eq!(
        listed.len(),
        1,
        "the admin credential itself is not a site: {listed:?}"
    );
    let new = site(&listed, &store99.client_id);
    assert_eq!(new["status"], "active");
    assert!(new["last_seen_ms"].is_null());
    assert!(new["needs_attention"][0]
        .as_str()
        .unwrap()
        .starts_with("never synced"));

    // The site syncs 100 records, then reports its queue empty.
    let site_token = server.access_token(&store99).await;
    let sent = server.post_batch(&site_token, "k1", &batch(0, 100)).await;
    assert_eq!(sent.status(), 200);
    let now = kendrix_core::Clock::now_ms(&kendrix_core::SystemClock);
    let beat = post_as(
        &server,
        &site_token,
        "/sync/heartbeat",
        json!({"agent_version": "0.1.0", "queue_depth": 0, "oldest_pending_ms": null,
               "dead_letters": 0, "interval_secs": 300,
               "last_run": {"started_ms": now - 900, "finished_ms": now, "outcome": "synced",
                            "sent": 100, "applied": 100, "refused": 0, "message": "all synced"}}),
    )
    .await;
    assert_eq!(beat.status(), 204);

    let listed = sites_of(&server, &admin_token).await;
    let synced = site(&listed, &store99.client_id);
    assert_eq!(synced["name"], "Store 99");
    assert_eq!(synced["queue_depth"], 0);
    assert_eq!(synced["records_24h"], 100);
    assert_eq!(synced["rejected_24h"], 0);
    assert_eq!(synced["agent_version"], "0.1.0");
    assert!(synced["last_seen_ms"].as_i64().unwrap() >= now - 60_000);
    assert!(synced["last_batch_ms"].as_i64().is_some());
    assert_eq!(synced["needs_attention"], json!([]), "{synced}");

    // Its page shows the run it reported and the batch the server received.
    let page: Value = server
        .get_as(&admin_token, &format!("/admin/sites/{}", store99.client_id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["site"]["client_id"], store99.client_id.as_str());
    assert_eq!(page["runs"][0]["outcome"], "synced");
    assert_eq!(page["runs"][0]["applied"], 100);
    assert_eq!(page["batches"][0]["records"], 100);
    assert_eq!(page["alerts"], json!([]));

    // The registration is audited with the admin as the actor, and no secret anywhere.
    let registered = server.audit_events("client.registered").await;
    let by_admin = registered
        .iter()
        .find(|e| details(e)["site_client_id"] == store99.client_id.as_str())
        .expect("the admin's registration is audited");
    assert_eq!(
        by_admin.client_id.as_deref(),
        Some(admin.client_id.as_str())
    );
    assert_eq!(details(by_admin)["actor"]["name"], "HQ: Maria (Acme)");
    assert_eq!(by_admin.tenant_id, Some(tenant_id));
    let whole_log = serde_json::to_string(&server.audit().await).unwrap();
    assert!(!whole_log.contains(&store99.client_secret));
    assert!(!whole_log.contains(&admin.client_secret));
}

async fn a_rotated_secret_works_beside_the_new_one_until_its_grace_ends(backend: Backend) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let server = TestServer::start_with(backend, |_| {}, clock.clone()).await;
    let (_, _, admin_token) = tenant_with_admin(&server, "Acme").await;
    let created: Value = post_as(
        &server,
        &admin_token,
        "/admin/sites",
        json!({"name": "Store 7"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let old = registration_of(&created);

    let response = post_as(
        &server,
        &admin_token,
        &format!("/admin/sites/{}/rotate-secret", old.client_id),
        json!({"grace_seconds": 60}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let rotation: Value = response.json().await.unwrap();
    let new_secret = rotation["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old.client_secret);
    assert_eq!(
        rotation["previous_secret_until_ms"],
        1_800_000_000_000_i64 + 60_000
    );
    let enrollment =
        kendrix_core::enrollment::Enrollment::decode(rotation["enrollment"].as_str().unwrap())
            .unwrap();
    assert_eq!(enrollment.client_secret, new_secret);

    let grant = [("grant_type", "client_credentials")];
    let status_of = |secret: String| {
        let server = &server;
        let client_id = old.client_id.clone();
        async move {
            server
                .token_request(&client_id, &secret, &grant)
                .await
                .status()
        }
    };
    assert_eq!(
        status_of(old.client_secret.clone()).await,
        200,
        "old, in grace"
    );
    assert_eq!(status_of(new_secret.clone()).await, 200, "new");

    clock.advance(61_000);
    assert_eq!(
        status_of(old.client_secret.clone()).await,
        401,
        "old, after the grace"
    );
    assert_eq!(status_of(new_secret.clone()).await, 200, "new, still");

    let rotated = server.audit_events("client.secret_rotated").await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(details(&rotated[0])["grace_seconds"], 60);

    // A rotation without grace stops the old secret at once.
    let again: Value = post_as(
        &server,
        &admin_token,
        &format!("/admin/sites/{}/rotate-secret", old.client_id),
        json!({"grace_seconds": 0}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(again["previous_secret_until_ms"].is_null());
    assert_eq!(status_of(new_secret).await, 401, "replaced without grace");
    let newest = again["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(status_of(newest).await, 200);

    // A grace beyond 30 days is refused by name.
    let too_long = post_as(
        &server,
        &admin_token,
        &format!("/admin/sites/{}/rotate-secret", old.client_id),
        json!({"grace_seconds": 31 * 86_400}),
    )
    .await;
    assert_eq!(too_long.status(), 400);
    let problem: Value = too_long.json().await.unwrap();
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("grace_seconds"));
}

async fn a_revoked_site_is_refused_at_its_next_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, _, admin_token) = tenant_with_admin(&server, "Acme").await;
    let created: Value = post_as(
        &server,
        &admin_token,
        "/admin/sites",
        json!({"name": "Store 3"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let store3 = registration_of(&created);
    let token = server.access_token(&store3).await;
    assert_eq!(server.get_as(&token, "/config").await.status(), 200);

    let response = post_as(
        &server,
        &admin_token,
        &format!("/admin/sites/{}/revoke", store3.client_id),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["tokens_revoked"], 1);

    assert_eq!(server.get_as(&token, "/config").await.status(), 401);
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(
        server
            .token_request(&store3.client_id, &store3.client_secret, &grant)
            .await
            .status(),
        401
    );
    let listed = sites_of(&server, &admin_token).await;
    let gone = site(&listed, &store3.client_id);
    assert_eq!(gone["status"], "revoked");
    assert_eq!(gone["needs_attention"], json!([]));
    // Nothing more can be done with it.
    let rotate = post_as(
        &server,
        &admin_token,
        &format!("/admin/sites/{}/rotate-secret", store3.client_id),
        json!({"grace_seconds": 0}),
    )
    .await;
    assert_eq!(rotate.status(), 409);
}

async fn every_admin_endpoint_admits_only_its_own_tenants_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant_id, _, own_admin) = tenant_with_admin(&server, "Acme").await;
    let (_, _, other_admin) = tenant_with_admin(&server, "Globex").await;
    let target = server.register(tenant_id, "Store 1", SITE_SCOPES).await;
    let site_token = server.access_token(&target).await;
    let wide = server
        .register(
            tenant_id,
            "Reports PC",
            "config:read config:write audit:read stats:read",
        )
        .await;
    let wrong_scope = server.access_token(&wide).await;

    let id = &target.client_id;
    // (method, path, body) of every admin endpoint; the POSTs that change something go last.
    let endpoints: Vec<(&str, String, Value)> = vec![
        ("GET", "/admin/sites".into(), Value::Null),
        ("GET", format!("/admin/sites/{id}"), Value::Null),
        ("POST", "/admin/sites".into(), json!({"name": "Store 2"})),
        (
            "POST",
            format!("/admin/sites/{id}/rotate-secret"),
            json!({"grace_seconds": 600}),
        ),
        ("POST", format!("/admin/sites/{id}/revoke"), json!({})),
    ];
    let send = |method: &str, path: &str, body: &Value, token: Option<&str>| {
        let mut request = match method {
            "GET" => server.http.get(server.endpoint(path)),
            _ => server.http.post(server.endpoint(path)).json(body),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for (method, path, body) in &endpoints {
        let no_token = send(method, path, body, None).await.unwrap();
        assert_eq!(no_token.status(), 401, "{method} {path} without a token");
        let site = send(method, path, body, Some(&site_token)).await.unwrap();
        assert_eq!(site.status(), 403, "{method} {path} with a site token");
        let scope = send(method, path, body, Some(&wrong_scope)).await.unwrap();
        assert_eq!(scope.status(), 403, "{method} {path} without clients:admin");
        let other = send(method, path, body, Some(&other_admin)).await.unwrap();
        let other_status = other.status();
        let other_body: Value = other.json().await.unwrap_or(Value::Null);
        match (method, path.as_str()) {
            // Another tenant's admin sees its own (empty) fleet, never this one.
            (&"GET", "/admin/sites") => {
                assert_eq!(other_status, 200);
                assert_eq!(other_body["sites"], json!([]), "{other_body}");
            }
            // Registering makes a site in the admin's own tenant, not this one.
            (&"POST", "/admin/sites") => {
                assert_eq!(other_status, 201);
                assert_ne!(other_body["tenant_id"], tenant_id);
            }
            _ => assert_eq!(
                other_status, 404,
                "{method} {path} by another tenant's admin"
            ),
        }
        let own = send(method, path, body, Some(&own_admin)).await.unwrap();
        assert!(
            own.status().is_success(),
            "{method} {path} by the tenant's own admin: {}",
            own.status()
        );
    }
    // Another tenant's admin changed nothing here: the one rotation and revocation are the
    // own admin's.
    assert_eq!(server.audit_events("client.secret_rotated").await.len(), 1);
    assert_eq!(server.audit_events("client.revoked").await.len(), 1);

    // The heartbeat is a site's: sync:write, nothing else.
    let beat = json!({"agent_version": "0.1.0", "queue_depth": 0, "dead_letters": 0});
    let fresh = server.register(tenant_id, "Store 4", SITE_SCOPES).await;
    let fresh_token = server.access_token(&fresh).await;
    assert_eq!(
        send("POST", "/sync/heartbeat", &beat, None)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        send("POST", "/sync/heartbeat", &beat, Some(&own_admin))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        send("POST", "/sync/heartbeat", &beat, Some(&fresh_token))
            .await
            .unwrap()
            .status(),
        204
    );
}

async fn a_site_with_default_scopes_reads_no_tenant_data_and_an_admin_grants_only_site_scopes(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let (tenant_id, _, admin_token) = tenant_with_admin(&server, "Acme").await;
    // `client register` without --scopes, as the CLI defaults it.
    let default_site = server
        .sites
        .register_client(
            &kendrix_server::RequestContext::cli(),
            tenant_id,
            "Store 5",
            &kendrix_core::ScopeSet::site_default(),
        )
        .await
        .unwrap();
    assert_eq!(default_site.scopes, SITE_SCOPES);
    let token = server.access_token(&default_site).await;
    for path in ["/audit/logs", "/auth/stats", "/admin/sites", "/sync/stats"] {
        assert_eq!(server.get_as(&token, path).await.status(), 403, "{path}");
    }

    let before = sites_of(&server, &admin_token).await.len();
    for (scopes, status) in [
        ("clients:admin", 403),
        ("audit:read", 403),
        ("sync:write clients:admin", 403),
        ("root", 400),
    ] {
        let response = post_as(
            &server,
            &admin_token,
            "/admin/sites",
            json!({"name": "Sneaky", "scopes": scopes}),
        )
        .await;
        assert_eq!(response.status(), status, "asking for {scopes}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    for name in ["", "   ", "Bad\u{0}name"] {
        let response = post_as(&server, &admin_token, "/admin/sites", json!({"name": name})).await;
        assert_eq!(response.status(), 400, "name {name:?}");
    }
    assert_eq!(
        sites_of(&server, &admin_token).await.len(),
        before,
        "nothing was registered"
    );
    // Fewer site scopes are fine.
    let reader: Value = post_as(
        &server,
        &admin_token,
        "/admin/sites",
        json!({"name": "Kiosk", "scopes": "config:read"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(reader["scopes"], "config:read");
}

async fn sites_that_need_attention_come_first_with_plain_reasons(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant_id, _, admin_token) = tenant_with_admin(&server, "Acme").await;
    let healthy = server
        .register(tenant_id, "A healthy store", SITE_SCOPES)
        .await;
    let refusing = server
        .register(tenant_id, "B refused store", SITE_SCOPES)
        .await;
    let silent = server
        .register(tenant_id, "C silent store", SITE_SCOPES)
        .await;

    let healthy_token = server.access_token(&healthy).await;
    assert_eq!(
        server
            .post_batch(&healthy_token, "h1", &batch(0, 10))
            .await
            .status(),
        200
    );
    let refusing_token = server.access_token(&refusing).await;
    let beat = json!({"agent_version": "0.1.0", "queue_depth": 2, "dead_letters": 3,
                      "oldest_pending_ms": 1_000});
    assert_eq!(
        post_as(&server, &refusing_token, "/sync/heartbeat", beat)
            .await
            .status(),
        204
    );
    // Someone keeps trying a wrong secret for the silent store.
    let grant = [("grant_type", "client_credentials")];
    for _ in 0..2 {
        let response = server
            .token_request(&silent.client_id, "kxs_wrong", &grant)
            .await;
        assert_eq!(response.status(), 401);
    }

    // Until the fleet is checked, new sites sort as "never synced", by name; each row's
    // reasons are as of now.
    let names = |listed: &[Value]| -> Vec<String> {
        listed
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = sites_of(&server, &admin_token).await;
    assert_eq!(
        names(&listed),
        ["A healthy store", "B refused store", "C silent store"]
    );
    assert_eq!(
        site(&listed, &healthy.client_id)["needs_attention"],
        json!([])
    );
    // The minute's check (after each detection pass) puts those needing attention first.
    assert_eq!(
        server.sites.rank_fleet().await.unwrap(),
        1,
        "the healthy one moved"
    );
    let listed = sites_of(&server, &admin_token).await;
    assert_eq!(
        names(&listed),
        ["B refused store", "C silent store", "A healthy store"],
        "{listed:?}"
    );
    let reasons = |name: &str| -> Vec<String> {
        listed.iter().find(|s| s["name"] == name).unwrap()["needs_attention"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    let refused = reasons("B refused store");
    assert!(
        refused
            .iter()
            .any(|r| r == "3 refused records kept on the site"),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("2 records waiting to be sent")),
        "{refused:?}"
    );
    let silent_reasons = reasons("C silent store");
    assert!(
        silent_reasons.iter().any(|r| r.starts_with("never synced")),
        "{silent_reasons:?}"
    );
    assert!(
        silent_reasons
            .iter()
            .any(|r| r == "credentials refused: 2 failed sign-ins in the last 24 h"),
        "{silent_reasons:?}"
    );
    assert!(reasons("A healthy store").is_empty());
}

async fn a_heartbeat_with_a_bad_field_is_refused_by_name_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant_id, _, admin_token) = tenant_with_admin(&server, "Acme").await;
    let store = server.register(tenant_id, "Store 8", SITE_SCOPES).await;
    let token = server.access_token(&store).await;
    let good = json!({"agent_version": "0.1.0", "queue_depth": 4, "dead_letters": 0,
                      "oldest_pending_ms": 1_000});
    assert_eq!(
        post_as(&server, &token, "/sync/heartbeat", good)
            .await
            .status(),
        204
    );
    for (bad, field) in [
        (
            json!({"agent_version": "0.1.0", "queue_depth": -1, "dead_letters": 0}),
            "queue_depth",
        ),
        (
            json!({"agent_version": "", "queue_depth": 0, "dead_letters": 0}),
            "agent_version",
        ),
        (
            json!({"agent_version": "0.1.0", "queue_depth": 0, "dead_letters": 0, "config_hash": "zz"}),
            "config_hash",
        ),
        (
            json!({"agent_version": "0.1.0", "queue_depth": 0, "dead_letters": 0,
                   "last_run": {"started_ms": 1, "finished_ms": 2, "outcome": "great",
                                "sent": 0, "applied": 0, "refused": 0}}),
            "last_run.outcome",
        ),
        (json!({"queue_depth": 0}), "agent_version"),
    ] {
        let response = post_as(&server, &token, "/sync/heartbeat", bad.clone()).await;
        assert_eq!(response.status(), 400, "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{problem} should name {field}"
        );
    }
    let listed = sites_of(&server, &admin_token).await;
    assert_eq!(
        site(&listed, &store.client_id)["queue_depth"],
        4,
        "the last good heartbeat stands"
    );
}

async fn a_large_fleet_is_listed_a_page_at_a_time(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (tenant_id, admin, admin_token) = tenant_with_admin(&server, "Acme").await;
    let (_, other_admin, _) = tenant_with_admin(&server, "Globex").await;
    let mut stores = Vec::new();
    for n in 1..=7 {
        let name = match n {
            5 => "Store 05 Kiosk".to_owned(),
            n => format!("Store {n:02}"),
        };
        stores.push(server.register(tenant_id, &name, SITE_SCOPES).await);
    }
    // Stores 1, 3 and 5 sync; store 7 is revoked at once; the check ranks the rest.
    for (n, store) in stores
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 2 == 0)
        .take(3)
    {
        let token = server.access_token(store).await;
        let response = server
            .post_batch(&token, &format!("b{n}"), &batch(n * 10, 5))
            .await;
        assert_eq!(response.status(), 200);
    }
    server.sites.rank_fleet().await.unwrap();
    let revoke = format!("/admin/sites/{}/revoke", stores[6].client_id);
    assert_eq!(
        post_as(&server, &admin_token, &revoke, json!({}))
            .await
            .status(),
        200
    );

    let page_of = |query: String| {
        let server = &server;
        let token = admin_token.clone();
        async move {
            let response = server
                .get_as(&token, &format!("/admin/sites?{query}"))
                .await;
            assert_eq!(response.status(), 200, "{query}");
            response.json::<Value>().await.unwrap()
        }
    };
    let names = |page: &Value| -> Vec<String> {
        page["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Three at a time, following the cursor: every site once, in fleet order, no admin.
    let mut seen = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let page = page_of(query).await;
        assert_eq!(
            page["counts"],
            json!({"sites": 7, "needs_attention": 3, "revoked": 1}),
            "the tenant's counts, on every page"
        );
        assert!(page["sites"].as_array().unwrap().len() <= 3);
        seen.extend(names(&page));
        match page["next_after"].as_str() {
            Some(after) => query = format!("limit=3&after={after}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "Store 02",
            "Store 04",
            "Store 06", // never synced
            "Store 01",
            "Store 03",
            "Store 05 Kiosk", // well
            "Store 07",       // revoked
        ]
    );

    let attention = page_of("attention=true".into()).await;
    assert_eq!(names(&attention), ["Store 02", "Store 04", "Store 06"]);
    assert!(attention["next_after"].is_null());
    // Words match the name or the client id, whatever their case; `%` and `_` are literal.
    assert_eq!(
        names(&page_of("q=sTORE+kIOSK".into()).await),
        ["Store 05 Kiosk"]
    );
    let by_id = format!("q={}", &stores[3].client_id[..12].to_uppercase());
    assert_eq!(names(&page_of(by_id).await), ["Store 04"]);
    assert_eq!(names(&page_of("q=%25".into()).await), Vec::<String>::new());
    assert_eq!(
        names(&page_of("q=store_0".into()).await),
        Vec::<String>::new()
    );

    // Bad paging is refused by name and lists nothing.
    for (query, says) in [
        ("limit=0".to_owned(), "limit"),
        ("limit=501".to_owned(), "limit"),
        ("limit=ten".to_owned(), "limit"),
        ("after=kxc_nobody".to_owned(), "after"),
        (format!("after={}", other_admin.client_id), "after"),
        (format!("after={}", admin.client_id), "after"),
        (format!("q={}", "x".repeat(201)), "search"),
        ("q=store%00".to_owned(), "search"),
        ("after=kxc%00".to_owned(), "after"),
    ] {
        let response = server
            .get_as(&admin_token, &format!("/admin/sites?{query}"))
            .await;
        assert_eq!(response.status(), 400, "{query}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{query}: {problem}"
        );
    }

    // Names for wherever an id appears: every client of the tenant, the admin too.
    let names: Value = server
        .get_as(&admin_token, "/admin/site-names")
        .await
        .json()
        .await
        .unwrap();
    let names = names["names"].as_array().unwrap();
    assert_eq!(names.len(), 8, "{names:?}");
    let entry = |id: &str| names.iter().find(|n| n["client_id"] == id).unwrap().clone();
    assert_eq!(
        entry(&admin.client_id),
        json!({"client_id": admin.client_id, "name": "HQ: Maria (Acme)", "role": "admin", "status": "active"})
    );
    assert_eq!(entry(&stores[6].client_id)["status"], "revoked");
    assert!(names
        .iter()
        .all(|n| n["client_id"] != other_admin.client_id));
}
