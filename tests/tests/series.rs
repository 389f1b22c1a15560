//! Stories of `GET /stats/series`: a chart of the tenant's activity over time. Batches sent
//! through the real server land in the bucket of the moment they arrived; the buckets add up
//! to what `/sync/stats` and `/auth/stats` say for the same window; every bucket is there,
//! aligned to the epoch; only the tenant's own clients can be picked out.

use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_core::Clock;
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    batches_land_in_the_bucket_they_arrived_in_and_add_up_to_the_stats,
    a_series_admits_stats_readers_and_admins_and_only_the_tenants_own_clients,
);

const FIVE_MIN: i64 = 300_000;
/// Seven minutes into a 5-minute-aligned instant: the first batch lands in a bucket's middle.
const START: i64 = 1_800_000_000_000 + 7 * 60_000;

fn orders(prefix: &str, n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({"entity": "orders", "id": format!("{prefix}-{i}"), "op": "upsert",
                   "version": format!("{}-0000-store12", 1_764_000_000_000_u64 + i as u64),
                   "data": {"total": i}})
        })
        .collect();
    json!({ "records": records })
}

async fn json_of(server: &TestServer, token: &str, path: &str) -> Value {
    let response = server.get_as(token, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn sum(buckets: &[Value], field: &str) -> i64 {
    buckets.iter().map(|b| b[field].as_i64().unwrap()).sum()
}

async fn batches_land_in_the_bucket_they_arrived_in_and_add_up_to_the_stats(backend: Backend) {
    let clock = Arc::new(ManualClock::new(START));
    let server = TestServer::start_with(backend, |_| {}, clock.clone()).await;
    let acme = server.tenant("Acme").await;
    let store12 = server.register(acme, "Store 12", "sync:write").await;
    let hq = server.register(acme, "HQ dashboard", "stats:read").await;
    let site = server.access_token(&store12).await;
    let reader = server.access_token(&hq).await;

    // 3 orders now; 10 minutes later 2 more and a batch refused whole (a bad entity name);
    // 10 minutes after that, 4 more.
    assert_eq!(
        server
            .post_batch(&site, "a", &orders("a", 3))
            .await
            .status(),
        200
    );
    clock.advance(10 * 60_000);
    assert_eq!(
        server
            .post_batch(&site, "b", &orders("b", 2))
            .await
            .status(),
        200
    );
    let bad = json!({"records": [{"entity": "Bad Name", "id": "x", "op": "upsert",
                     "version": "1764000000000-0000-store12", "data": {}}]});
    assert_eq!(server.post_batch(&site, "c", &bad).await.status(), 422);
    clock.advance(10 * 60_000);
    assert_eq!(
        server
            .post_batch(&site, "d", &orders("d", 4))
            .await
            .status(),
        200
    );
    let now = clock.now_ms();

    let hour = json_of(&server, &reader, "/stats/series?window=1h").await;
    assert_eq!(hour["window"], "1h");
    assert_eq!(hour["bucket_ms"], FIVE_MIN);
    let buckets = hour["buckets"].as_array().unwrap().clone();
    assert_eq!(buckets.len(), 12, "an hour is twelve 5-minute buckets");
    let since = hour["since"].as_i64().unwrap();
    assert_eq!(
        since % FIVE_MIN,
        0,
        "buckets start on multiples of 5 minutes"
    );
    assert_eq!(buckets[0]["at"].as_i64(), Some(since));
    for pair in buckets.windows(2) {
        assert_eq!(
            pair[1]["at"].as_i64().unwrap() - pair[0]["at"].as_i64().unwrap(),
            FIVE_MIN
        );
    }
    let last = buckets[11]["at"].as_i64().unwrap();
    assert!(
        last <= now && now < last + FIVE_MIN,
        "the last bucket holds now"
    );

    // Each batch in the bucket of its arrival: now, 10 and 20 minutes before.
    let at = |t: i64| &buckets[((t - since) / FIVE_MIN) as usize];
    let first = at(START);
    assert_eq!(
        (first["batches"].as_i64(), first["applied"].as_i64()),
        (Some(1), Some(3))
    );
    assert_eq!(first["tokens_issued"], 2, "both tokens were issued then");
    let second = at(START + 10 * 60_000);
    assert_eq!(
        (
            second["batches"].as_i64(),
            second["refused_batches"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (second["applied"].as_i64(), second["rejected"].as_i64()),
        (Some(2), Some(1))
    );
    let third = at(now);
    assert_eq!(
        (third["batches"].as_i64(), third["applied"].as_i64()),
        (Some(1), Some(4))
    );
    let busy = buckets
        .iter()
        .filter(|b| b["batches"] != 0 || b["refused_batches"] != 0);
    assert_eq!(busy.count(), 3, "every other bucket is there with zeros");
    assert!(buckets
        .iter()
        .all(|b| b["duplicate"] == 0 && b["stale"] == 0));

    // Across every window, the buckets add up to the figures of /sync/stats and /auth/stats.
    let sync = json_of(&server, &reader, "/sync/stats").await;
    let auth = json_of(&server, &reader, "/auth/stats").await;
    for (i, (window, count, bucket_ms)) in [
        ("1h", 12, FIVE_MIN),
        ("24h", 24, 3_600_000),
        ("7d", 28, 21_600_000),
    ]
    .into_iter()
    .enumerate()
    {
        let series = json_of(&server, &reader, &format!("/stats/series?window={window}")).await;
        let buckets = series["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), count, "{window}");
        assert_eq!(series["bucket_ms"], bucket_ms);
        assert_eq!(
            series["since"].as_i64().unwrap() % bucket_ms,
            0,
            "{window} is aligned"
        );
        let total = &sync["windows"][i]["total"];
        assert_eq!(sync["windows"][i]["window"], window);
        for field in [
            "batches",
            "refused_batches",
            "applied",
            "duplicate",
            "stale",
            "rejected",
        ] {
            assert_eq!(
                sum(buckets, field),
                total[field].as_i64().unwrap(),
                "{window} {field}"
            );
        }
        let auth_total = &auth["windows"][i]["total"];
        assert_eq!(
            sum(buckets, "tokens_issued"),
            auth_total["issued"].as_i64().unwrap()
        );
        assert_eq!(
            sum(buckets, "auth_failed"),
            auth_total["failed"].as_i64().unwrap()
        );
    }
    assert_eq!(sum(&buckets, "applied"), 9);
    assert_eq!(sum(&buckets, "rejected"), 1);

    // One client's series: the site's batches are all its own; the reader sent none.
    let own = json_of(
        &server,
        &reader,
        &format!("/stats/series?window=24h&client_id={}", store12.client_id),
    )
    .await;
    let own = own["buckets"].as_array().unwrap();
    assert_eq!((sum(own, "batches"), sum(own, "applied")), (3, 9));
    assert_eq!(sum(own, "tokens_issued"), 1);
    let quiet = json_of(
        &server,
        &reader,
        &format!("/stats/series?window=24h&client_id={}", hq.client_id),
    )
    .await;
    let quiet = quiet["buckets"].as_array().unwrap();
    assert_eq!((sum(quiet, "batches"), sum(quiet, "tokens_issued")), (0, 1));

    // A day later the hour is empty again, every bucket still there.
    clock.advance(24 * 3_600_000);
    let later = json_of(
        &server,
        &server.access_token(&hq).await,
        "/stats/series?window=1h",
    )
    .await;
    let later = later["buckets"].as_array().unwrap();
    assert_eq!((later.len(), sum(later, "batches")), (12, 0));
}

async fn a_series_admits_stats_readers_and_admins_and_only_the_tenants_own_clients(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let acme = server.tenant("Acme").await;
    let store12 = server
        .register(acme, "Store 12", "sync:write config:read")
        .await;
    let maria = server.register(acme, "HQ: Maria", "clients:admin").await;
    let globex = server.tenant("Globex").await;
    let depot = server.register(globex, "Depot", "sync:write").await;
    let site = server.access_token(&store12).await;
    let admin = server.access_token(&maria).await;
    assert_eq!(
        server
            .post_batch(&site, "k", &orders("a", 2))
            .await
            .status(),
        200
    );

    // An admin credential without stats:read sees its sites' figures.
    let seen = json_of(
        &server,
        &admin,
        &format!("/stats/series?window=7d&client_id={}", store12.client_id),
    )
    .await;
    assert_eq!(sum(seen["buckets"].as_array().unwrap(), "applied"), 2);

    // A site's own token has neither scope.
    let refused = server.get_as(&site, "/stats/series?window=1h").await;
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"scope="stats:read clients:admin""#),
        "{challenge}"
    );
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://kendrix.dev/problems/insufficient-scope"
    );

    // Another tenant's client is not found, as is a client that does not exist.
    for client in [depot.client_id.as_str(), "kxc_nosuchclient"] {
        let response = server
            .get_as(
                &admin,
                &format!("/stats/series?window=24h&client_id={client}"),
            )
            .await;
        assert_eq!(response.status(), 404, "{client}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }

    // A bad or missing window is refused by name.
    for path in [
        "/stats/series?window=30d",
        "/stats/series",
        "/stats/series?window=",
    ] {
        let response = server.get_as(&admin, path).await;
        assert_eq!(response.status(), 400, "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["invalid_params"][0]["name"], "window", "{path}");
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("1h, 24h or 7d"));
    }

    // Without a token, nothing.
    let anonymous = server
        .http
        .get(server.endpoint("/stats/series?window=1h"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
