//! Stories of a site authenticating: obtaining, using, introspecting and revoking tokens,
//! and every way that can go wrong. Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_core::Clock;
use kendrix_tests::{first_broken_link, on_both_backends, Backend, TestServer};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, IntrospectionUrl, RevocationUrl, Scope,
    StandardRevocableToken, TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use serde_json::Value;

on_both_backends!(
    a_taken_tenant_name_and_a_missing_tenant_are_named_as_such,
    site_gets_uses_introspects_and_revokes_a_token_with_the_oauth2_crate,
    client_secret_post_works_like_basic,
    wrong_secret_unknown_client_and_revoked_client_are_invalid_client,
    requested_scope_must_be_a_subset_of_the_clients,
    expired_token_is_refused_with_invalid_token,
    under_scoped_token_gets_insufficient_scope,
    other_tenants_token_is_inactive_at_introspection,
    malformed_and_oversized_form_bodies_are_invalid_request,
    unsupported_grant_type_is_refused,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    token_endpoint_rate_limit_answers_429_with_retry_after,
    repeated_failed_authentication_is_throttled_harder,
    bearer_errors_follow_rfc_6750,
    api_requests_beyond_the_clients_limit_get_429,
    audit_chain_links_every_entry,
    operations_endpoints_describe_the_server,
);

fn oauth_client(
    server: &TestServer,
    id: &str,
    secret: &str,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_auth_type(AuthType::BasicAuth)
        .set_token_uri(TokenUrl::new(server.endpoint("/oauth/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(server.endpoint("/oauth/introspect")).unwrap())
        .set_revocation_url(
            RevocationUrl::new(
                server
                    .endpoint("/oauth/revoke")
                    .replacen("http://", "https://", 1),
            )
            .unwrap(),
        )
}

/// The oauth2 crate insists on an https revocation URL (RFC 7009 §2). In production TLS ends
/// at the proxy in front of the server; here the client's https request is carried to the
/// loopback server over plain http, unchanged otherwise.
async fn via_loopback_http(
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string().replacen("https://", "http://", 1);
    let response = reqwest::Client::new()
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    Ok(builder
        .body(response.bytes().await?.to_vec())
        .expect("valid response"))
}

async fn get_versions(server: &TestServer, token: &str) -> reqwest::Response {
    server.get_as(token, "/sync/versions").await
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn site_gets_uses_introspects_and_revokes_a_token_with_the_oauth2_crate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server
        .register(tenant, "Site 12", "sync:write config:read")
        .await;
    let client = oauth_client(&server, &site.client_id, &site.client_secret);
    let http = oauth2::reqwest::Client::new();

    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("sync:write".into()))
        .request_async(&http)
        .await
        .expect("client credentials grant");
    assert_eq!(token.scopes().unwrap()[0].as_str(), "sync:write");
    assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
    assert!(
        token.refresh_token().is_none(),
        "refresh tokens are off by default"
    );

    let versions = get_versions(&server, token.access_token().secret()).await;
    assert_eq!(versions.status(), 200);
    assert_eq!(json(versions).await["client_id"], site.client_id.as_str());

    let introspection = client
        .introspect(token.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(introspection.active());
    assert_eq!(introspection.client_id().unwrap().as_str(), site.client_id);

    client
        .revoke_token(StandardRevocableToken::AccessToken(
            token.access_token().clone(),
        ))
        .unwrap()
        .request_async(&via_loopback_http)
        .await
        .expect("revocation");
    let after = get_versions(&server, token.access_token().secret()).await;
    assert_eq!(
        after.status(),
        401,
        "revocation takes effect on the next request"
    );
    let introspection = client
        .introspect(token.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!introspection.active());

    let issued = server.audit_events("token.issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(
        issued[0].client_id.as_deref(),
        Some(site.client_id.as_str())
    );
    assert_eq!(issued[0].tenant_id, Some(tenant));
    assert_eq!(
        server.audit_events("token.revoked").await[0].outcome,
        "success"
    );
    assert_eq!(server.audit_events("token.introspected").await.len(), 2);
}

async fn client_secret_post_works_like_basic(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let response = server
        .http
        .post(server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", site.client_id.as_str()),
            ("client_secret", site.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json(response).await;
    assert_eq!(body["token_type"], "Bearer");
    let details: Value =
        serde_json::from_str(&server.audit_events("token.issued").await[0].details).unwrap();
    assert_eq!(details["auth_method"], "client_secret_post");
}

async fn assert_invalid_client(response: reqwest::Response) {
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(json(response).await["error"], "invalid_client");
}

async fn wrong_secret_unknown_client_and_revoked_client_are_invalid_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Site 1", "sync:write").await;
    let grant = [("grant_type", "client_credentials")];

    assert_invalid_client(
        server
            .token_request(&site.client_id, "kxs_wrong", &grant)
            .await,
    )
    .await;
    assert_invalid_client(
        server
            .token_request("kxc_nobody", &site.client_secret, &grant)
            .await,
    )
    .await;

    let token = server.access_token(&site).await;
    let revoked = server
        .sites
        .revoke_client(&kendrix_server::RequestContext::cli(), &site.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.tokens_revoked, 1);
    assert_invalid_client(
        server
            .token_request(&site.client_id, &site.client_secret, &grant)
            .await,
    )
    .await;
    assert_eq!(get_versions(&server, &token).await.status(), 401);

    let failures = server.audit_events("auth.client.failure").await;
    let reasons: Vec<String> = failures
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(&e.details).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        reasons,
        ["wrong secret", "unknown client", "client revoked"]
    );
    assert!(failures.iter().all(|e| e.outcome == "failure"));
    assert_eq!(server.audit_events("client.revoked").await.len(), 1);
}

async fn requested_scope_must_be_a_subset_of_the_clients(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(
            server.tenant("Acme").await,
            "Site 1",
            "sync:write config:read",
        )
        .await;
    for (scope, expected) in [
        ("config:read", 200),
        ("sync:write config:read", 200),
        ("sync:write audit:read", 400),
        ("admin", 400),
    ] {
        let response = server
            .token_request(
                &site.client_id,
                &site.client_secret,
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_eq!(response.status(), expected, "scope {scope:?}");
        let body = json(response).await;
        if expected == 200 {
            assert_eq!(body["scope"], scope);
        } else {
            assert_eq!(body["error"], "invalid_scope");
        }
    }
    assert_eq!(server.audit_events("token.denied").await.len(), 2);
}

async fn expired_token_is_refused_with_invalid_token(backend: Backend) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let server =
        TestServer::start_with(backend, |s| s.access_token_ttl_secs = 60, clock.clone()).await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let token = server.access_token(&site).await;
    assert_eq!(get_versions(&server, &token).await.status(), 200);
    clock.advance(60_000);
    let response = get_versions(&server, &token).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains(r#"error="invalid_token""#));
    let rejected = server.audit_events("auth.bearer.failure").await;
    assert!(rejected[0].details.contains("expired"));
    assert_eq!(rejected[0].at, clock.now_ms());
}

async fn under_scoped_token_gets_insufficient_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let token = server.access_token(&site).await;
    let response = server.get_as(&token, "/auth/stats").await;
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="stats:read""#)
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let rejected = server.audit_events("auth.bearer.failure").await;
    assert_eq!(
        rejected[0].client_id.as_deref(),
        Some(site.client_id.as_str())
    );
}

async fn other_tenants_token_is_inactive_at_introspection(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server
        .register(server.tenant("Acme").await, "Acme site", "sync:write")
        .await;
    let globex = server
        .register(server.tenant("Globex").await, "Globex site", "sync:write")
        .await;
    let acme_token = server.access_token(&acme).await;
    let introspect = |reg: &kendrix_server::services::sites::Registration, token: &str| {
        server
            .http
            .post(server.endpoint("/oauth/introspect"))
            .basic_auth(&reg.client_id, Some(&reg.client_secret))
            .form(&[("token", token.to_owned())])
            .send()
    };
    let own = json(introspect(&acme, &acme_token).await.unwrap()).await;
    assert_eq!(own["active"], true);
    assert_eq!(
        own["tenant_id"].as_i64(),
        Some(acme_tenant(&server, &acme).await)
    );
    let foreign = json(introspect(&globex, &acme_token).await.unwrap()).await;
    assert_eq!(foreign, serde_json::json!({"active": false}));
    let entries = server.audit_events("token.introspected").await;
    assert!(entries[1].details.contains("token of another tenant"));

    // Unauthenticated introspection is refused.
    let anonymous = server
        .http
        .post(server.endpoint("/oauth/introspect"))
        .form(&[("token", acme_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_invalid_client(anonymous).await;
}

async fn acme_tenant(
    server: &TestServer,
    reg: &kendrix_server::services::sites::Registration,
) -> i64 {
    server
        .store
        .client(&reg.client_id)
        .await
        .unwrap()
        .unwrap()
        .tenant_id
}

async fn malformed_and_oversized_form_bodies_are_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let send = |content_type: &'static str, body: Vec<u8>| {
        server
            .http
            .post(server.endpoint("/oauth/token"))
            .basic_auth(&site.client_id, Some(&site.client_secret))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            400,
        ),
        (
            form,
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            400,
        ),
        (form, b"scope=sync:write".to_vec(), 400),
        (form, vec![b'g', b'=', 0xff, 0xfe], 400),
        (
            form,
            format!(
                "grant_type=client_credentials&pad={}",
                "x".repeat(64 * 1024)
            )
            .into_bytes(),
            413,
        ),
    ];
    for (content_type, body, status) in cases {
        let response = send(content_type, body).await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(json(response).await["error"], "invalid_request");
    }
    assert!(
        server.audit_events("token.issued").await.is_empty(),
        "nothing was issued"
    );
    let denied = server.audit_events("token.denied").await;
    assert_eq!(denied.len(), 5, "each refusal is audited");
    assert!(denied.iter().all(|e| e.details.contains("invalid_request")));
}

async fn unsupported_grant_type_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    for grant in ["password", "authorization_code", "refresh_token"] {
        let response = server
            .token_request(
                &site.client_id,
                &site.client_secret,
                &[("grant_type", grant), ("refresh_token", "kxr_x")],
            )
            .await;
        assert_eq!(response.status(), 400);
        assert_eq!(json(response).await["error"], "unsupported_grant_type");
    }
    assert_eq!(server.audit_events("token.denied").await.len(), 3);
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| s.refresh_tokens = true,
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let first = json(
        server
            .token_request(
                &site.client_id,
                &site.client_secret,
                &[("grant_type", "client_credentials")],
            )
            .await,
    )
    .await;
    let refresh1 = first["refresh_token"]
        .as_str()
        .expect("refresh token issued")
        .to_owned();

    let second = json(
        server
            .token_request(
                &site.client_id,
                &site.client_secret,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh1),
                ],
            )
            .await,
    )
    .await;
    let refresh2 = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(refresh1, refresh2);
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get_versions(&server, &access2).await.status(), 200);

    // The old refresh token comes back: theft. The whole family goes.
    let reuse = server
        .token_request(
            &site.client_id,
            &site.client_secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh1),
            ],
        )
        .await;
    assert_eq!(reuse.status(), 400);
    assert_eq!(json(reuse).await["error"], "invalid_grant");
    assert_eq!(get_versions(&server, &access2).await.status(), 401);
    let after = server
        .token_request(
            &site.client_id,
            &site.client_secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh2),
            ],
        )
        .await;
    assert_eq!(json(after).await["error"], "invalid_grant");
    assert_eq!(server.audit_events("token.refresh_reuse").await.len(), 1);
    assert_eq!(server.audit_events("token.refreshed").await.len(), 1);
}

async fn token_endpoint_rate_limit_answers_429_with_retry_after(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| s.rate_limits.token_per_client_per_minute = 3,
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let grant = [("grant_type", "client_credentials")];
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let response = server
            .token_request(&site.client_id, &site.client_secret, &grant)
            .await;
        if response.status() == 429 {
            retry_after = Some(
                response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
        }
        statuses.push(response.status().as_u16());
    }
    // A window boundary may fall inside the loop; then the count restarts.
    assert!(
        statuses == [200, 200, 200, 429] || statuses.iter().filter(|s| **s == 429).count() <= 1
    );
    if let Some(secs) = retry_after {
        assert!((1..=60).contains(&secs));
    }
}

async fn repeated_failed_authentication_is_throttled_harder(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| {
            s.rate_limits.failed_auth_max = 3;
            s.rate_limits.failed_auth_window_secs = 900;
        },
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let grant = [("grant_type", "client_credentials")];
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            server
                .token_request(&site.client_id, "kxs_guess", &grant)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 429]);
    // Now even the right secret waits, from this address: it was guessing in this name.
    let blocked = server
        .token_request(&site.client_id, &site.client_secret, &grant)
        .await;
    assert_eq!(blocked.status(), 429);
    let retry: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The block lasts until the end of the aligned 15-minute failure window, not a minute.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let window_left = 900 - now % 900;
    assert!(
        retry.abs_diff(window_left) <= 2,
        "blocked until the failure window ends: {retry}s, window ends in {window_left}s"
    );
    assert_eq!(server.audit_events("rate_limit.exceeded").await.len(), 1);
    assert_eq!(server.audit_events("auth.client.failure").await.len(), 3);
}

async fn bearer_errors_follow_rfc_6750(backend: Backend) {
    let server = TestServer::start(backend).await;
    let missing = server
        .http
        .get(server.endpoint("/sync/versions"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="kendrix""#
    );
    let malformed = server
        .http
        .get(server.endpoint("/sync/versions"))
        .header("authorization", "Token abc")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let unknown = get_versions(&server, "kxa_not-a-real-token").await;
    assert_eq!(unknown.status(), 401);
    let problem = json(unknown).await;
    assert_eq!(problem["status"], 401);
    assert!(problem["type"].as_str().unwrap().ends_with("invalid-token"));
    let injection = get_versions(&server, "x' OR '1'='1").await;
    assert_eq!(
        injection.status(),
        400,
        "spaces make it malformed, not a query"
    );
    assert_eq!(server.audit_events("auth.bearer.failure").await.len(), 4);
}

async fn audit_chain_links_every_entry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (url, id, secret) = (
            server.endpoint("/oauth/token"),
            site.client_id.clone(),
            site.client_secret.clone(),
        );
        let secret = if i % 4 == 0 {
            "kxs_wrong".to_owned()
        } else {
            secret
        };
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let entries = server.audit().await;
    assert_eq!(
        entries.len(),
        2 + 20,
        "tenant, client, and one entry per token request"
    );
    assert_eq!(first_broken_link(&entries), None);
}

async fn operations_endpoints_describe_the_server(backend: Backend) {
    let server = TestServer::start(backend).await;
    let health = server
        .http
        .get(server.endpoint("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let health = json(health).await;
    assert_eq!(health["database"]["reachable"], true);
    assert_eq!(
        health["database"]["backend"],
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );

    let metadata = json(
        server
            .http
            .get(server.endpoint("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(metadata["issuer"], server.url.as_str());
    assert_eq!(
        metadata["token_endpoint"],
        server.endpoint("/oauth/token").as_str()
    );
    assert_eq!(
        metadata["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );

    let site = server
        .register(
            server.tenant("Acme").await,
            "Site 1",
            "sync:write stats:read",
        )
        .await;
    let token = server.access_token(&site).await;
    let stats = json(server.get_as(&token, "/auth/stats").await).await;
    assert_eq!(stats["windows"][0]["window"], "1h");
    assert_eq!(stats["windows"][0]["total"]["issued"], 1);

    let metrics = server
        .http
        .get(server.endpoint("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("kendrix_events_total{event=\"token_issued\"} 1"));

    let openapi = json(
        server
            .http
            .get(server.endpoint("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for path in [
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/.well-known/oauth-authorization-server",
        "/sync/versions",
        "/sync/batches",
        "/sync/records",
        "/sync/stats",
        "/config",
        "/config/versions",
        "/config/versions/{version}",
        "/config/diff",
        "/config/entries",
        "/config/rollback",
        "/config/drift",
        "/auth/stats",
        "/stats/series",
        "/whoami",
        "/sync/heartbeat",
        "/admin/sites",
        "/admin/site-names",
        "/admin/sites/{client_id}",
        "/admin/sites/{client_id}/revoke",
        "/admin/sites/{client_id}/rotate-secret",
        "/health",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    assert!(openapi["components"]["schemas"]["Problem"].is_object());
    assert!(openapi["components"]["schemas"]["SiteSummary"].is_object());
    let scopes = &openapi["paths"]["/admin/sites"]["get"]["security"][0]["bearer"];
    assert_eq!(scopes, &serde_json::json!(["clients:admin"]));

    let missing = server
        .http
        .get(server.endpoint("/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

async fn api_requests_beyond_the_clients_limit_get_429(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        |s| s.rate_limits.api_per_client_per_minute = 3,
        Arc::new(kendrix_core::SystemClock),
    )
    .await;
    let site = server
        .register(server.tenant("Acme").await, "Site 1", "sync:write")
        .await;
    let token = server.access_token(&site).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get_versions(&server, &token).await.status().as_u16());
    }
    let turned_over = statuses[3] == 200;
    assert!(
        statuses == [200, 200, 200, 429] || turned_over,
        "{statuses:?}"
    );
    if !turned_over {
        let limited = get_versions(&server, &token).await;
        assert_eq!(limited.status(), 429);
        assert!(limited.headers().contains_key("retry-after"));
        assert_eq!(
            limited.headers()["content-type"],
            "application/problem+json"
        );
    }
}

/// An admin registering sites learns which rule a mistake broke, in the same words on
/// every backend (SQLite names no foreign key, so the write itself says what it protects).
async fn a_taken_tenant_name_and_a_missing_tenant_are_named_as_such(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ctx = kendrix_server::RequestContext::cli();
    server.tenant("Acme").await;
    let taken = server.sites.create_tenant(&ctx, "Acme").await.unwrap_err();
    assert_eq!(taken.to_string(), "a tenant with this name already exists");
    let scopes = "sync:write".parse().unwrap();
    let missing = server
        .sites
        .register_client(&ctx, 999_999, "Store 12", &scopes)
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "the tenant does not exist");
    assert_eq!(
        server.sites.tenants().await.unwrap().len(),
        1,
        "nothing else was made"
    );
}
