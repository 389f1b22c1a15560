//! Stories of failure between real processes: servers killed mid-stream, and two servers on
//! one PostgreSQL receiving the same batch at the same moment.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kendrix_core::SystemClock;
use kendrix_server::services::AuditLog;
use kendrix_server::settings::RateLimits;
use kendrix_server::throttle::Throttle;
use kendrix_server::RequestContext;
use kendrix_tests::{
    abandon_after_steps, on_both_backends, server_cli, Backend, ServerProcess, TestDb,
};
use serde_json::{json, Value};

fn register(db: &TestDb) -> (String, String) {
    server_cli(&db.url, &["tenant", "create", "--name", "Acme"]);
    let out = server_cli(
        &db.url,
        &[
            "client",
            "register",
            "--name",
            "Site",
            "--tenant-id",
            "1",
            "--scopes",
            "sync:write stats:read",
            "--json",
        ],
    );
    let reg: Value = serde_json::from_str(&out).unwrap();
    (
        reg["client_id"].as_str().unwrap().into(),
        reg["client_secret"].as_str().unwrap().into(),
    )
}

async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> Option<String> {
    let response = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    Some(body["access_token"].as_str()?.to_owned())
}

/// `count` batches of `size` new records each, as (Idempotency-Key, body).
fn source(count: usize, size: usize) -> Vec<(String, Value)> {
    (0..count)
        .map(|b| {
            let records: Vec<Value> = (0..size)
                .map(|r| {
                    let n = b * size + r;
                    json!({"entity": "orders", "id": format!("o{n:06}"), "op": "upsert",
                           "version": format!("{:013}-0000-site", 1_800_000_000_000u64 + n as u64),
                           "data": {"n": n, "total": n as f64 * 1.5}})
                })
                .collect();
            (format!("batch-{b}"), json!({ "records": records }))
        })
        .collect()
}

/// Order-independent checksum of (id, version, data) rows.
fn checksum(rows: impl Iterator<Item = (String, String, Value)>) -> (usize, String) {
    let mut lines: Vec<String> = rows.map(|(id, v, d)| format!("{id}|{v}|{d}")).collect();
    lines.sort();
    (
        lines.len(),
        kendrix_core::credentials::hash_bytes(lines.join("\n").as_bytes()),
    )
}

on_both_backends!(writes_cut_off_at_any_moment_never_wedge_the_store);

/// A write abandoned at any moment (its client hung up, a timeout answered first) happens
/// whole or not at all, and every write after it still works.
async fn writes_cut_off_at_any_moment_never_wedge_the_store(backend: Backend) {
    let db = TestDb::new(backend).await;
    server_cli(&db.url, &["migrate"]);
    let store = db.store().await;
    let ctx = RequestContext::cli();
    let app = kendrix_server::App::new(
        store.clone(),
        kendrix_tests::test_settings(&db.url),
        Arc::new(SystemClock),
    );
    let sites = &app.sites;
    for i in 0..300usize {
        // Cut off after 1 to 12 steps: from before BEGIN to after COMMIT.
        let name = format!("Tenant {i}");
        let write = sites.create_tenant(&ctx, &name);
        abandon_after_steps(write, i % 12 + 1).await;
    }
    sites
        .create_tenant(&ctx, "After")
        .await
        .expect("the store still takes writes after 300 abandoned ones");
    let tenants = store.list_tenants().await.unwrap();
    assert!(tenants.iter().any(|t| t.name == "After"));
    // Each tenant that exists was written with its audit entry, in one unbroken chain.
    let throttle = Throttle::new(&RateLimits::default());
    let verification = AuditLog::new(
        store.clone(),
        Arc::new(SystemClock),
        throttle,
        Default::default(),
    )
    .verify()
    .await
    .unwrap();
    assert!(verification.ok, "{:?}", verification.first_broken);
    assert_eq!(verification.entries_checked, tenants.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_killed_again_and_again_loses_nothing_and_applies_nothing_twice() {
    killed_again_and_again(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_server_killed_again_and_again_loses_nothing_and_applies_nothing_twice() {
    killed_again_and_again(Backend::Postgres).await;
}

async fn killed_again_and_again(backend: Backend) {
    let db = TestDb::new(backend).await;
    server_cli(&db.url, &["migrate"]);
    let (id, secret) = register(&db);
    // A short lease, so a batch whose server died mid-apply is taken over quickly.
    let env = [("KENDRIX_SYNC__IDEMPOTENCY_LEASE_SECS", "1")];
    let server = Arc::new(Mutex::new(Some(ServerProcess::start(&db.url, &env))));
    let url = Arc::new(Mutex::new(
        server.lock().unwrap().as_ref().unwrap().url.clone(),
    ));
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));

    let killer = {
        let (server, url, done, kills, db_url) = (
            server.clone(),
            url.clone(),
            done.clone(),
            kills.clone(),
            db.url.clone(),
        );
        std::thread::spawn(move || {
            let mut delay = 120;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(delay));
                delay = 80 + (delay * 7) % 250;
                if let Some(old) = server.lock().unwrap().take() {
                    old.kill();
                    kills.fetch_add(1, Ordering::SeqCst);
                }
                let fresh = ServerProcess::start(&db_url, &env);
                *url.lock().unwrap() = fresh.url.clone();
                *server.lock().unwrap() = Some(fresh);
            }
        })
    };

    let batches = source(40, 100);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut bearer: Option<String> = None;
    for (key, body) in &batches {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 500, "batch {key} never went through");
            let base = url.lock().unwrap().clone();
            if bearer.is_none() {
                bearer = token(&http, &base, &id, &secret).await;
                if bearer.is_none() {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    continue;
                }
            }
            let sent = http
                .post(format!("{base}/sync/batches"))
                .bearer_auth(bearer.as_deref().unwrap())
                .header("idempotency-key", key)
                .json(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 200 => break,
                Ok(r) if r.status() == 401 => bearer = None,
                // Connection refused or cut, 409 while a dead server's claim runs out, 5xx.
                _ => tokio::time::sleep(Duration::from_millis(30)).await,
            }
        }
        // Keep the stream going long enough for several kills.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    done.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    assert!(
        kills.load(Ordering::SeqCst) >= 3,
        "the server was killed during the stream"
    );

    let store = db.store().await;
    let stored = store
        .records_page(1, "orders", "", 1_000_000)
        .await
        .unwrap();
    let server_side = checksum(stored.into_iter().map(|r| {
        (
            r.record_id,
            r.version,
            serde_json::from_str::<Value>(&r.data.unwrap()).unwrap(),
        )
    }));
    let source_side = checksum(batches.iter().flat_map(|(_, body)| {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_owned(),
                    r["version"].as_str().unwrap().to_owned(),
                    r["data"].clone(),
                )
            })
            .collect::<Vec<_>>()
    }));
    assert_eq!(
        server_side, source_side,
        "count and checksum of server state equal the source"
    );
    let figures = store.batch_figures(1, 0).await.unwrap();
    let applied: i64 = figures.iter().map(|b| b.applied).sum();
    assert_eq!(applied, 4000, "every record applied exactly once");
    assert_eq!(
        figures.iter().filter(|b| b.outcome == "applied").count(),
        40,
        "every batch applied exactly once"
    );
    drop(server.lock().unwrap().take());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_servers_get_the_same_batch_at_once_and_apply_it_once() {
    let db = TestDb::new(Backend::Postgres).await;
    server_cli(&db.url, &["migrate"]);
    let (id, secret) = register(&db);
    let a = ServerProcess::start(&db.url, &[]);
    let b = ServerProcess::start(&db.url, &[]);
    let http = reqwest::Client::new();
    let bearer = token(&http, &a.url, &id, &secret).await.unwrap();
    for round in 0..5 {
        let (key, body) = source(1, 1000).pop().unwrap();
        let key = format!("{key}-{round}");
        let body = json!({"records": body["records"].as_array().unwrap().iter().map(|r| {
            let mut r = r.clone();
            r["id"] = json!(format!("{}-{round}", r["id"].as_str().unwrap()));
            r
        }).collect::<Vec<_>>()});
        let send = |base: String| {
            http.post(format!("{base}/sync/batches"))
                .bearer_auth(&bearer)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
        };
        let (ra, rb) = tokio::join!(send(a.url.clone()), send(b.url.clone()));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let outcome = |r: &reqwest::Response| {
            (
                r.status().as_u16(),
                r.headers().contains_key("idempotent-replayed"),
            )
        };
        let mut outcomes = [outcome(&ra), outcome(&rb)];
        outcomes.sort();
        assert!(
            outcomes == [(200, false), (409, false)] || outcomes == [(200, false), (200, true)],
            "round {round}: exactly one applies, the other replays or gets 409: {outcomes:?}"
        );
    }
    let store = db.store().await;
    assert_eq!(
        store
            .records_page(1, "orders", "", 1_000_000)
            .await
            .unwrap()
            .len(),
        5000
    );
    let figures = store.batch_figures(1, 0).await.unwrap();
    assert_eq!(figures.len(), 5, "one applied batch per round");
    assert_eq!(figures.iter().map(|b| b.applied).sum::<i64>(), 5000);
}
