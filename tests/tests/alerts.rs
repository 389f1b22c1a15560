//! Stories of anomaly detection: a burst of failed sign-ins against one site opens an alert
//! naming it (and none for a quiet neighbour) that resolves after recovery; a site's own
//! two-week rhythm with its noise opens nothing while a real surge does; a site that goes
//! quiet, piles up, or keeps running an earlier configuration past its grace, is named;
//! two server instances share one lease. On both backends,
//! on the server's own clock (a `ManualClock` the story moves).

use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_core::Clock;
use kendrix_server::services::sites::Registration;
use kendrix_server::App;
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    a_burst_of_failed_sign_ins_opens_an_alert_for_that_site_alone_and_it_resolves,
    a_sites_own_rhythm_and_noise_open_nothing_but_a_surge_does,
    a_site_that_goes_quiet_or_piles_up_is_named,
    an_attack_spread_thin_over_many_sites_opens_one_alert_for_the_tenant,
    two_instances_take_turns_with_one_lease,
    a_site_still_running_an_earlier_configuration_past_its_grace_is_named,
    the_hourly_counts_detection_reads_are_exactly_the_events,
);

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const START: i64 = 1_800_000_000_000;

async fn server_at(backend: Backend) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START));
    let server = TestServer::start_with(backend, |_| {}, clock.clone()).await;
    (server, clock)
}

/// A tenant with two sites and an admin credential.
async fn tenant_with_sites(server: &TestServer) -> (Registration, Registration, Registration) {
    let tenant = server.tenant("Acme").await;
    let a = server
        .register(tenant, "Store A", "sync:write config:read")
        .await;
    let b = server
        .register(tenant, "Store B", "sync:write config:read")
        .await;
    let admin = server
        .register(tenant, "HQ: Maria", "clients:admin audit:read")
        .await;
    (a, b, admin)
}

async fn alerts(server: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let response = server.get_as(token, &format!("/alerts{query}")).await;
    assert_eq!(response.status(), 200);
    response
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn a_burst_of_failed_sign_ins_opens_an_alert_for_that_site_alone_and_it_resolves(
    backend: Backend,
) {
    let (server, clock) = server_at(backend).await;
    let (a, b, admin) = tenant_with_sites(&server).await;
    let admin = server.access_token(&admin).await;
    server.access_token(&a).await;
    server.access_token(&b).await;
    let quiet = server.app.anomalies.pass(false).await.unwrap();
    assert_eq!(quiet.opened, 0, "ordinary sign-ins open nothing");

    // Someone tries 25 wrong secrets in Store A's name within a minute.
    for _ in 0..25 {
        server
            .token_request(
                &a.client_id,
                "kxs_wrong",
                &[("grant_type", "client_credentials")],
            )
            .await;
    }
    let pass = server.app.anomalies.pass(false).await.unwrap();
    assert_eq!(pass.opened, 1);
    let open = alerts(&server, &admin, "").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["kind"], "auth_failures");
    assert_eq!(open[0]["state"], "open");
    assert_eq!(open[0]["client_id"], a.client_id.as_str());
    assert_eq!(open[0]["site_name"], "Store A");
    assert_eq!(open[0]["observed"], 25.0);
    assert_eq!(
        open[0]["baseline"], 20.0,
        "no failures in its history: the fixed limit"
    );
    assert!(open[0]["summary"].as_str().unwrap().contains("Store A"));
    assert!(
        alerts(&server, &admin, &format!("?client_id={}", b.client_id))
            .await
            .is_empty()
    );
    assert_eq!(server.audit_events("anomaly.detected").await.len(), 1);
    // The fleet names it among the site's reasons for attention.
    let fleet: Value = server
        .get_as(&admin, "/admin/sites")
        .await
        .json()
        .await
        .unwrap();
    let store_a = fleet["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_id"] == a.client_id.as_str())
        .unwrap();
    assert!(
        store_a["needs_attention"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r
                .as_str()
                .unwrap()
                .starts_with("alert: Store A: 25 failed sign-ins")),
        "{store_a}"
    );
    let metrics = server.get_public("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("kendrix_alerts_open{kind=\"auth_failures\"} 1"),
        "{metrics}"
    );

    // Once the burst is out of the last five minutes the value is usual again, but the
    // alert stays open until it has been usual for a while (10 minutes), then resolves.
    clock.advance(6 * MINUTE);
    assert_eq!(server.app.anomalies.pass(false).await.unwrap().resolved, 0);
    clock.advance(5 * MINUTE);
    assert_eq!(server.app.anomalies.pass(false).await.unwrap().resolved, 1);
    let resolved = alerts(&server, &admin, "?state=resolved").await;
    assert_eq!(resolved.len(), 1);
    assert!(resolved[0]["resolved_at"].as_i64().unwrap() > START);
    assert!(alerts(&server, &admin, "?state=open").await.is_empty());
    assert_eq!(server.audit_events("anomaly.resolved").await.len(), 1);

    // Filters that name nothing are refused; a site's own token cannot read alerts.
    let bad = server.get_as(&admin, "/alerts?state=closed").await;
    assert_eq!(bad.status(), 400);
    let bad = server.get_as(&admin, "/alerts?kind=weather").await;
    assert_eq!(bad.status(), 400);
    let site_token = server.access_token(&a).await;
    assert_eq!(server.get_as(&site_token, "/alerts").await.status(), 403);
}

/// One `sync_batches` row a hour for `site`: `refused` records refused in that hour, with
/// the hour's count the server keeps beside it (`site_hours`), as a batch's write does.
async fn refused_per_hour(server: &TestServer, site: &Registration, hours: &[(i64, i64)]) {
    let (tenant, pk): (i64, i64) = {
        let client = server.store.client(&site.client_id).await.unwrap().unwrap();
        (client.tenant_id, client.pk)
    };
    for chunk in hours.chunks(200) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|(at, refused)| {
                format!(
                    "('b-{pk}-{at}', {tenant}, {pk}, NULL, {at}, {n}, {applied}, 0, 0, {refused}, 1000, 'applied')",
                    n = refused + 100,
                    applied = 100,
                )
            })
            .collect();
        server
            .db
            .execute(&format!(
                "INSERT INTO sync_batches (batch_id, tenant_id, client_pk, idempotency_key, \
                 received_at, records, applied, duplicate, stale, rejected, duration_us, outcome) \
                 VALUES {}",
                rows.join(", ")
            ))
            .await;
        let counts: Vec<String> = chunk
            .iter()
            .map(|(at, refused)| format!("('{}', {}, {refused})", site.client_id, at / HOUR))
            .collect();
        server
            .db
            .execute(&format!(
                "INSERT INTO site_hours (client_id, hour, rejected_records) VALUES {} \
                 ON CONFLICT (client_id, hour) DO UPDATE SET \
                 rejected_records = site_hours.rejected_records + excluded.rejected_records",
                counts.join(", ")
            ))
            .await;
    }
}

async fn a_sites_own_rhythm_and_noise_open_nothing_but_a_surge_does(backend: Backend) {
    let (server, clock) = server_at(backend).await;
    let (a, _b, admin_credential) = tenant_with_sites(&server).await;
    let admin = server.access_token(&admin_credential).await;
    // Two weeks of a till whose bad scans come in a daily rhythm — about 100 refused records
    // an hour at night, 400 at noon — with noise. Far above any fixed limit, and usual.
    let now = clock.now_ms();
    let mut noise: u64 = 7;
    let hours: Vec<(i64, i64)> = (2..=14 * 24)
        .map(|h| {
            noise = noise
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = now - h * HOUR + 5 * MINUTE;
            let hour_of_day = ((at / HOUR) % 24) as f64;
            let rhythm = 250.0 - 150.0 * (std::f64::consts::TAU * hour_of_day / 24.0).cos();
            (at, rhythm as i64 + (noise >> 59) as i64 * 10 - 80)
        })
        .collect();
    refused_per_hour(&server, &a, &hours).await;
    // The last hour at the day's peak, with a little more noise than ever before.
    refused_per_hour(&server, &a, &[(now - 10 * MINUTE, 470)]).await;
    let pass = server.app.anomalies.pass(false).await.unwrap();
    assert_eq!(pass.opened, 0, "{:?}", alerts(&server, &admin, "").await);

    // Then an hour in which 3,000 records are refused: far outside its own history.
    clock.advance(HOUR);
    let admin = server.access_token(&admin_credential).await;
    refused_per_hour(&server, &a, &[(clock.now_ms() - MINUTE, 3_000)]).await;
    let pass = server.app.anomalies.pass(false).await.unwrap();
    assert_eq!(pass.opened, 1);
    let open = alerts(&server, &admin, "?kind=refused_records").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let baseline = open[0]["baseline"].as_f64().unwrap();
    assert!(
        baseline > 470.0 && baseline < 3_000.0,
        "learned from the site's history, above its usual peaks: {baseline}"
    );
}

async fn a_site_that_goes_quiet_or_piles_up_is_named(backend: Backend) {
    let (server, clock) = server_at(backend).await;
    let (a, b, admin) = tenant_with_sites(&server).await;
    let admin = server.access_token(&admin).await;
    // Both sites sync every 5 minutes and report it; B's oldest record has waited 2 hours.
    for (site, oldest) in [(&a, None), (&b, Some(clock.now_ms() - 2 * HOUR))] {
        let token = server.access_token(site).await;
        heartbeat(
            &server,
            &token,
            json!({"agent_version": "0.1.0", "queue_depth": if oldest.is_some() { 40 } else { 0 },
                   "oldest_pending_ms": oldest, "dead_letters": 0, "interval_secs": 300}),
        )
        .await;
    }
    server.app.anomalies.pass(false).await.unwrap();
    let open = alerts(&server, &admin, "").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["kind"], "backlog");
    assert_eq!(open[0]["client_id"], b.client_id.as_str());

    // A stops: 16 minutes is past three of its 5-minute intervals.
    clock.advance(16 * MINUTE);
    server.app.anomalies.pass(false).await.unwrap();
    let stale = alerts(&server, &admin, "?kind=stale").await;
    let named: Vec<&str> = stale
        .iter()
        .map(|a| a["client_id"].as_str().unwrap())
        .collect();
    assert!(named.contains(&a.client_id.as_str()), "{stale:?}");
    assert!(stale[0]["summary"]
        .as_str()
        .unwrap()
        .contains("silent for 16 minutes"));
}

/// A site's heartbeat, accepted.
async fn heartbeat(server: &TestServer, token: &str, body: Value) {
    let beat = server
        .http
        .post(server.endpoint("/sync/heartbeat"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), 204);
}

/// A site's heartbeat saying it runs the configuration with `hash`.
async fn beat(server: &TestServer, token: &str, hash: &str) {
    let body = json!({"agent_version": "0.1.0", "queue_depth": 0, "dead_letters": 0,
                      "interval_secs": 300, "config_hash": hash});
    heartbeat(server, token, body).await;
}

async fn a_site_still_running_an_earlier_configuration_past_its_grace_is_named(backend: Backend) {
    let (server, clock) = server_at(backend).await;
    let (a, b, _) = tenant_with_sites(&server).await;
    let admin = server
        .register(
            a.tenant_id,
            "HQ: Ana",
            "clients:admin config:write audit:read",
        )
        .await;
    let admin = server.access_token(&admin).await;
    let a_id = a.client_id.clone();
    let (a, b) = (server.access_token(&a).await, server.access_token(&b).await);
    let old_hash = config_hash(&server, &b).await;
    // The admin publishes a change; A picks it up, B keeps running the earlier one.
    let changed = server
        .http
        .put(server.endpoint("/config/entries"))
        .bearer_auth(&admin)
        .json(&json!({"scope": "tenant", "key": "sync.batch_size", "value": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    // A also has a setting of its own, so it runs a configuration of its own.
    let own = server
        .http
        .put(server.endpoint("/config/entries"))
        .bearer_auth(&admin)
        .json(&json!({"scope": format!("client:{a_id}"), "key": "site.note", "value": "back door"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let new_hash = config_hash(&server, &a).await;
    assert_ne!(new_hash, old_hash);
    // Within the grace (30 minutes; three 5-minute intervals are less) drift is usual.
    for (step, minutes) in [(5, 5), (15, 20)] {
        clock.advance(step * MINUTE);
        beat(&server, &a, &new_hash).await;
        beat(&server, &b, &old_hash).await;
        server.app.anomalies.pass(false).await.unwrap();
        assert!(
            alerts(&server, &admin, "").await.is_empty(),
            "at {minutes} min"
        );
    }
    // 35 minutes after the change B still reports the earlier configuration: named, A not.
    clock.advance(15 * MINUTE);
    beat(&server, &a, &new_hash).await;
    beat(&server, &b, &old_hash).await;
    server.app.anomalies.pass(false).await.unwrap();
    let open = alerts(&server, &admin, "").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["kind"], "config_drift");
    assert_eq!(open[0]["site_name"], "Store B");
    assert_eq!(
        (open[0]["observed"].as_f64(), open[0]["baseline"].as_f64()),
        (Some(35.0), Some(30.0))
    );
    assert!(
        open[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Store B: still ran an earlier configuration 35 minutes after version"),
        "{open:?}"
    );
    // B catches up; ten usual minutes later the alert resolves by itself.
    let b_hash = config_hash(&server, &b).await;
    assert_ne!(b_hash, new_hash, "A's own setting is A's alone");
    beat(&server, &b, &b_hash).await;
    clock.advance(11 * MINUTE);
    beat(&server, &a, &new_hash).await;
    beat(&server, &b, &b_hash).await;
    assert_eq!(server.app.anomalies.pass(false).await.unwrap().resolved, 1);
    assert!(alerts(&server, &admin, "?state=open").await.is_empty());
}

/// The ETag of the configuration a site is served now.
async fn config_hash(server: &TestServer, token: &str) -> String {
    let response = server.get_as(token, "/config").await;
    assert_eq!(response.status(), 200);
    response.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

async fn an_attack_spread_thin_over_many_sites_opens_one_alert_for_the_tenant(backend: Backend) {
    let (server, _clock) = server_at(backend).await;
    let tenant = server.tenant("Acme").await;
    let admin = server
        .register(tenant, "HQ: Maria", "clients:admin audit:read")
        .await;
    let admin = server.access_token(&admin).await;
    // 15 wrong secrets against each of four sites: each under its own limit (20), 60 in all.
    for n in 0..4 {
        let site = server
            .register(tenant, &format!("Store {n}"), "sync:write")
            .await;
        for _ in 0..15 {
            server
                .token_request(
                    &site.client_id,
                    "kxs_wrong",
                    &[("grant_type", "client_credentials")],
                )
                .await;
        }
    }
    let pass = server.app.anomalies.pass(false).await.unwrap();
    assert_eq!(pass.opened, 1);
    let open = alerts(&server, &admin, "").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["kind"], "auth_failures");
    assert!(
        open[0]["client_id"].is_null(),
        "the tenant's, no one site's"
    );
    assert!(
        open[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("all sites together: 60 failed sign-ins"),
        "{open:?}"
    );
    // The next pass keeps it, and opens no second one.
    assert_eq!(server.app.anomalies.pass(false).await.unwrap().opened, 0);
}

async fn two_instances_take_turns_with_one_lease(backend: Backend) {
    let (server, clock) = server_at(backend).await;
    let other = App::new(
        server.store.clone(),
        kendrix_tests::test_settings(&server.db.url),
        clock.clone(),
    );
    assert!(server
        .app
        .anomalies
        .pass_if_leader("instance-1", false)
        .await
        .unwrap()
        .is_some());
    assert!(
        other
            .anomalies
            .pass_if_leader("instance-2", false)
            .await
            .unwrap()
            .is_none(),
        "one pass at a time"
    );
    // The holder keeps it; when it stops renewing, the other takes over.
    clock.advance(MINUTE);
    assert!(server
        .app
        .anomalies
        .pass_if_leader("instance-1", false)
        .await
        .unwrap()
        .is_some());
    clock.advance(2 * MINUTE);
    assert!(other
        .anomalies
        .pass_if_leader("instance-2", false)
        .await
        .unwrap()
        .is_some());
}

async fn the_hourly_counts_detection_reads_are_exactly_the_events(backend: Backend) {
    let (server, clock) = server_at(backend).await;
    let (a, b, _) = tenant_with_sites(&server).await;
    // An hour with three failed sign-ins for A and a token for B…
    let grant = [("grant_type", "client_credentials")];
    for _ in 0..3 {
        let response = server
            .token_request(&a.client_id, "kxs_wrong", &grant)
            .await;
        assert_eq!(response.status(), 401);
    }
    server.access_token(&b).await;
    // …and the next, with another token and a batch of B's refused whole (the same record
    // twice).
    clock.advance(HOUR);
    let token = server.access_token(&b).await;
    let version = "2000000000000-0000-b";
    let record = json!({"entity": "orders", "id": "1", "version": version, "op": "upsert",
                        "data": {"n": 1}});
    let twice = json!({"records": [record.clone(), record]});
    assert_eq!(server.post_batch(&token, "k1", &twice).await.status(), 422);

    // The counts kept as the events were written equal those derived from the events.
    let since = START - HOUR;
    let sorted = |mut counts: Vec<kendrix_store::MetricCount>| {
        counts.sort_by_key(|c| (c.client_pk, c.metric, c.bucket));
        counts
    };
    let kept = sorted(server.store.hourly_counts(since).await.unwrap());
    let derived = sorted(server.store.metric_counts(since, HOUR).await.unwrap());
    assert_eq!(kept, derived);
    let figures: Vec<(&str, i64, i64)> = kept
        .iter()
        .map(|c| (c.metric, c.bucket - START / HOUR, c.count))
        .collect();
    assert_eq!(
        figures,
        [
            ("auth_failures", 0, 3),
            ("refused_batches", 1, 1),
            ("rejected_records", 1, 2),
            ("tokens_issued", 0, 1),
            ("tokens_issued", 1, 1),
        ]
    );
}
