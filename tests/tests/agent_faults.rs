//! The agent's faults from reliability.md, each ending with the server's records equal to
//! the source (count and checksum) and every record applied exactly once: servers killed
//! again and again, the agent killed at every stage, connections cut, stalled and refused
//! through a TCP proxy, 429/503/500 storms, two PostgreSQL servers in turns, a full disk.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kendrix_core::sync::{Change, Op};
use kendrix_core::{Clock, SystemClock};
use kendrix_engine::LocalStore;
use kendrix_tests::agent::{
    enrollment_for, exit_code, order_rows, output_text, register_site, server_applied,
    server_checksum, set_config_number, source_checksum, sqlite_server, Agent, Fault, SmallDisk,
    TcpProxy,
};
use kendrix_tests::keychain::PrivateKeychain;
use kendrix_tests::{abandon_after_steps, server_cli, Backend, ServerProcess, TestDb};
use serde_json::{json, Value};

/// Small batches, short timeouts and a short backoff cap, so a story sees many batches and
/// many faults in a few seconds.
fn quick_config(db: &TestDb, batch_size: &str) {
    for (key, value) in [
        ("sync.batch_size", batch_size),
        ("sync.request_timeout_seconds", "2"),
        ("sync.retry_max_seconds", "2"),
    ] {
        set_config_number(db, key, value);
    }
}

/// A site, an agent enrolled through a proxy, `rows` queued.
async fn site_behind_proxy(db: &TestDb, servers: &[&str], rows: &[Value]) -> (Agent, TcpProxy) {
    let site = register_site(db, "Store 1", "sync:write config:read");
    quick_config(db, "100");
    let proxy = TcpProxy::start(servers);
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &proxy.url));
    agent.enqueue("orders", rows);
    (agent, proxy)
}

async fn assert_delivered_exactly_once(db: &TestDb, rows: &[Value]) {
    assert_eq!(
        server_checksum(db, "orders").await,
        source_checksum(rows),
        "count and checksum of the server's records equal the source"
    );
    assert_eq!(
        server_applied(db).await,
        rows.len() as i64,
        "every record applied exactly once"
    );
}

const LEASE: [(&str, &str); 1] = [("KENDRIX_SYNC__IDEMPOTENCY_LEASE_SECS", "1")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_again_and_again_during_one_long_sync_loses_and_repeats_nothing() {
    let (db, first) = sqlite_server(&LEASE).await;
    // Long enough (400 batches of 50) for several kills however fast the machine is.
    let rows = order_rows(0, 20_000);
    let (agent, proxy) = site_behind_proxy(&db, &[&first.url], &rows).await;
    set_config_number(&db, "sync.batch_size", "50");
    let server = Arc::new(Mutex::new(Some(first)));
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (server, done, kills, proxy, db_url) = (
            server.clone(),
            done.clone(),
            kills.clone(),
            proxy.clone(),
            db.url.clone(),
        );
        std::thread::spawn(move || {
            let mut delay = 150;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(delay));
                delay = 100 + (delay * 7) % 300;
                if let Some(old) = server.lock().unwrap().take() {
                    old.kill();
                    kills.fetch_add(1, Ordering::SeqCst);
                }
                let fresh = ServerProcess::start(&db_url, &LEASE);
                proxy.set_upstreams(&[&fresh.url]);
                *server.lock().unwrap() = Some(fresh);
            }
        })
    };
    let out = tokio::task::spawn_blocking(move || {
        let out = agent.run(&["sync", "--retry-for-secs", "300"]);
        (agent, out)
    })
    .await
    .unwrap();
    done.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    let (agent, out) = out;
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert!(
        kills.load(Ordering::SeqCst) >= 3,
        "the server died during the sync"
    );
    assert_eq!(agent.status()["all_synced"], true);
    assert_delivered_exactly_once(&db, &rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_killed_at_every_stage_resumes_where_it_was() {
    let (db, server) = sqlite_server(&LEASE).await;
    // Each step is logged with its time: the runner shows it if the story fails.
    let began = Instant::now();
    let step = |what: String| eprintln!("[{:>6} ms] {what}", began.elapsed().as_millis());
    let rows = order_rows(0, 3000);
    let (agent, proxy) = site_behind_proxy(&db, &[&server.url], &rows[..2000]).await;
    // Small batches: every stalled round must still find work to send.
    set_config_number(&db, "sync.batch_size", "20");

    // Killed while enqueueing: the file's rows are all queued or none are.
    let more: String = rows[2000..].iter().map(|r| format!("{r}\n")).collect();
    let before = agent.status()["queue_depth"].as_i64().unwrap();
    for delay_ms in [0u64, 5, 20, 60] {
        let mut enqueue = agent.spawn_with_stdin(&["enqueue", "--entity", "orders"]);
        {
            use std::io::Write;
            let mut stdin = enqueue.stdin.take().unwrap();
            let _ = stdin.write_all(more.as_bytes());
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = enqueue.kill();
        let _ = enqueue.wait();
        let depth = agent.status()["queue_depth"].as_i64().unwrap();
        step(format!("enqueue killed after {delay_ms} ms: queue {depth}"));
        assert!(
            depth == before || depth == before + 1000,
            "queue {depth}: all or nothing"
        );
    }
    agent.enqueue("orders", &rows[2000..]);

    // Killed after forming a batch, while sending, and after the server applied it but
    // before the answer was recorded (the answer is held back by the proxy).
    for round in 0..4 {
        proxy.inject(&[Fault::Stall]);
        let mut sync = agent.spawn(&["sync", "--retry-for-secs", "60"]);
        let applied_before = server_applied(&db).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while proxy.fired().len() <= round && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The stalled request reached the server: give it a moment to apply (a resent batch
        // is replayed instead, which changes nothing), then kill. Kept short: the other
        // batches in flight keep draining the queue meanwhile.
        let applied_by = Instant::now() + Duration::from_millis(300);
        while server_applied(&db).await == applied_before && Instant::now() < applied_by {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sync.kill().unwrap();
        sync.wait().unwrap();
        step(format!(
            "stall round {round}: {} faults fired",
            proxy.fired().len()
        ));
    }
    // Killed at arbitrary moments.
    for delay_ms in [30u64, 90, 150, 220, 300, 450] {
        let mut sync = agent.spawn(&["sync", "--retry-for-secs", "60"]);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        sync.kill().unwrap();
        sync.wait().unwrap();
        step(format!("sync killed after {delay_ms} ms"));
    }
    let out = agent.run(&["sync", "--retry-for-secs", "60"]);
    step(format!("final sync ended with {}", exit_code(&out)));
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(proxy.fired().len(), 4);
    assert_eq!(agent.status()["all_synced"], true);
    assert_delivered_exactly_once(&db, &rows).await;
}

/// The agent's clock hours off the server's — behind, then corrected, then behind again:
/// every sync goes through without a renewal loop, and each later change wins over the
/// earlier one even though the clock went back in between (the agent's versions never go
/// backwards).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_clock_is_hours_off_syncs_and_keeps_its_changes_in_order() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 5", "sync:write config:read");
    let agent = Agent::new();
    let change = |note: &str| -> Vec<Value> {
        order_rows(0, 300)
            .into_iter()
            .map(|mut row| {
                row["note"] = note.into();
                row
            })
            .collect()
    };
    let mut last = Vec::new();
    for (offset, note) in [
        (Some("-5h"), "first"),
        (None, "second"),
        (Some("-5h"), "third"),
    ] {
        agent.set_clock_offset(offset);
        if note == "first" {
            agent.enroll(&enrollment_for(&site, &server.url));
        }
        last = change(note);
        agent.enqueue("orders", &last);
        let out = agent.run(&["sync"]);
        assert_eq!(exit_code(&out), 0, "{note}: {}", output_text(&out));
    }
    assert_eq!(agent.status()["all_synced"], true);
    // The runs were really timed by a clock 5 h behind, then right, then behind again.
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    let started = |i: usize| history[i]["started_at"].as_i64().unwrap();
    let hours = |ms: i64| ms as f64 / 3_600_000.0;
    assert!(hours(started(1) - started(2)) > 4.9, "{history}");
    assert!(hours(started(1) - started(0)) > 4.9, "{history}");
    assert_eq!(
        server_checksum(&db, "orders").await,
        source_checksum(&last),
        "every record holds the last change: none was refused as stale"
    );
    let store = db.store().await;
    let tokens = store
        .query_audit(&kendrix_store::AuditQuery {
            tenant_id: 1,
            events: vec!["token.issued".into()],
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        (1..=4).contains(&tokens.len()),
        "{} tokens for three syncs: renewed when the clock moved, never in a loop",
        tokens.len()
    );
}

/// The app quitting in the middle of a local write (its task cancelled) never leaves the
/// agent's database refusing the writes after it, and each write is whole or absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_writes_cut_off_at_any_moment_leave_the_outbox_usable() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&dir.path().join("agent.db"))
        .await
        .unwrap();
    let mut hlc = store.hlc("site-1").await.unwrap();
    let change = |n: usize| {
        let data = json!({ "n": n }).as_object().cloned();
        Change::new("orders", format!("o{n:06}"), Op::Upsert, None, data).unwrap()
    };
    for i in 0..240 {
        // Two records a write, cut off after 1 to 12 steps.
        let pair = [change(i), change(10_000 + i)];
        abandon_after_steps(
            store.enqueue(&pair, &mut hlc, SystemClock.now_ms()),
            i % 12 + 1,
        )
        .await;
    }
    store
        .enqueue(&[change(99_999)], &mut hlc, SystemClock.now_ms())
        .await
        .expect("the outbox still takes writes after 240 abandoned ones");
    let depth = store.queue_depth().await.unwrap();
    assert_eq!(
        depth % 2,
        1,
        "each abandoned write queued both records or neither ({depth})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_stalled_and_refused_are_retried_until_everything_arrived() {
    let (db, server) = sqlite_server(&LEASE).await;
    let rows = order_rows(0, 2000);
    let (agent, proxy) = site_behind_proxy(&db, &[&server.url], &rows).await;
    proxy.inject(&[
        Fault::CutRequest,
        Fault::CutResponse,
        Fault::Stall,
        Fault::CutResponse,
        Fault::CutRequest,
        Fault::Stall,
    ]);
    // The server cannot be reached at all for the first seconds.
    proxy.refuse(true);
    let reopen = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            proxy.refuse(false);
        })
    };
    let out = tokio::task::spawn_blocking(move || {
        let out = agent.run(&["sync", "--retry-for-secs", "120"]);
        (agent, out)
    })
    .await
    .unwrap();
    reopen.await.unwrap();
    let (agent, out) = out;
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(proxy.fired().len(), 6, "every fault happened");
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(history[0]["outcome"], "synced");
    assert_delivered_exactly_once(&db, &rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_of_429_503_and_500_are_waited_out_honouring_retry_after() {
    let (db, server) = sqlite_server(&[]).await;
    // One batch, so the storm's answers come one after the other.
    let rows = order_rows(0, 100);
    let (agent, proxy) = site_behind_proxy(&db, &[&server.url], &rows).await;
    let storm = [
        Fault::Answer(429),
        Fault::Answer(429),
        Fault::Answer(503),
        Fault::Answer(503),
        Fault::Answer(500),
        Fault::Answer(500),
    ];
    proxy.inject(&storm);
    let started = Instant::now();
    let out = agent.run(&["sync", "--retry-for-secs", "120"]);
    let took = started.elapsed();
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(proxy.fired(), storm.to_vec());
    // Each answer said `Retry-After: 1`, and the agent waited at least that long each time.
    assert!(
        took >= Duration::from_secs(6),
        "Retry-After honoured ({took:?})"
    );
    assert_delivered_exactly_once(&db, &rows).await;

    // A storm longer than the agent is told to wait ends the run offline, queue intact.
    agent.enqueue("orders", &order_rows(100, 100));
    proxy.inject(&[Fault::Answer(503); 20]);
    let out = agent.run(&["sync", "--retry-for-secs", "2"]);
    assert_eq!(exit_code(&out), 3, "{}", output_text(&out));
    let status = agent.status();
    assert_eq!(status["state"], "offline");
    assert_eq!(status["queue_depth"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_alternating_between_two_postgresql_servers_delivers_exactly_once() {
    let db = TestDb::new(Backend::Postgres).await;
    server_cli(&db.url, &["migrate"]);
    let a = ServerProcess::start(&db.url, &LEASE);
    let b = ServerProcess::start(&db.url, &LEASE);
    let rows = order_rows(0, 3000);
    let (agent, proxy) = site_behind_proxy(&db, &[&a.url, &b.url], &rows).await;
    // Connections are cut often, so requests keep switching servers, some mid-batch.
    let done = Arc::new(AtomicBool::new(false));
    let cutter = {
        let (proxy, done) = (proxy.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(60)).await;
                proxy.cut_all();
            }
        })
    };
    let out = tokio::task::spawn_blocking(move || {
        let out = agent.run(&["sync", "--retry-for-secs", "120"]);
        (agent, out)
    })
    .await
    .unwrap();
    done.store(true, Ordering::SeqCst);
    cutter.await.unwrap();
    let (_agent, out) = out;
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert!(
        proxy.connections() > 4,
        "the agent went to both servers in turns"
    );
    assert_delivered_exactly_once(&db, &rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_on_the_agent_is_reported_and_the_queue_stays_intact() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 1", "sync:write config:read");
    let disk = SmallDisk::mount(4);
    let agent = Agent::with_data_dir(disk.path.join("agent"));
    agent.enroll(&enrollment_for(&site, &server.url));
    let rows = order_rows(0, 3000);
    agent.enqueue("orders", &rows[..1000]);

    let filler = disk.fill();
    let more: String = rows[1000..].iter().map(|r| format!("{r}\n")).collect();
    let out = agent.run_with_stdin(&["enqueue", "--entity", "orders"], &more);
    assert_eq!(exit_code(&out), 1);
    assert!(
        output_text(&out).contains("disk is full"),
        "{}",
        output_text(&out)
    );
    // Even reading may need a little room (SQLite's shared-memory file): then it says so.
    let status = agent.run(&["status", "--json"]);
    if status.status.success() {
        let status: Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status["queue_depth"], 1000);
    } else {
        assert!(
            output_text(&status).contains("disk is full"),
            "{}",
            output_text(&status)
        );
    }

    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        agent.status()["queue_depth"],
        1000,
        "what was queued is intact"
    );
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    agent.enqueue("orders", &rows[1000..]);
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    assert_delivered_exactly_once(&db, &rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_killed_while_taking_in_the_inbox_takes_each_file_in_once() {
    let (db, server) = sqlite_server(&LEASE).await;
    let site = register_site(&db, "Store 1", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    let inbox = agent.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let rows = order_rows(0, 10_000);
    for (n, chunk) in rows.chunks(2000).enumerate() {
        let text: String = chunk.iter().map(|r| format!("{r}\n")).collect();
        let part = inbox.join(format!(".orders.{n}.part"));
        std::fs::write(&part, text).unwrap();
        std::fs::rename(&part, inbox.join(format!("orders.{n}.ndjson"))).unwrap();
    }
    let processed = inbox.join("processed");
    let all_taken = || {
        std::fs::read_dir(&processed)
            .map(|d| d.count() == 5)
            .unwrap_or(false)
    };
    // The daemon is killed again and again while it takes the files in (and syncs).
    let mut kills = 0;
    for delay_ms in [40u64, 120, 70, 260, 30, 180, 90, 400, 150, 600, 800, 1200] {
        if all_taken() {
            break;
        }
        let mut daemon = agent.spawn(&["run", "--inbox", inbox.to_str().unwrap()]);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        daemon.kill().unwrap();
        daemon.wait().unwrap();
        kills += 1;
    }
    if !all_taken() {
        let mut daemon = agent.spawn(&["run", "--inbox", inbox.to_str().unwrap()]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !all_taken() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }
    assert!(all_taken(), "every file reached processed/");
    assert!(kills >= 2, "the daemon was killed while working");
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    // A file taken in again after its rows were synced would be queued with newer versions
    // and applied a second time.
    assert_delivered_exactly_once(&db, &rows).await;
}

/// A keychain that stops answering (its daemon frozen: calls are taken, never answered) ends
/// a sync with a message naming the keychain, instead of a run that never ends and shows
/// "syncing" forever; nothing is sent or lost, and once the keychain answers again the next
/// sync delivers everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keychain_that_stops_answering_ends_the_sync_with_a_message_and_loses_nothing() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 8", "sync:write config:read");
    let keychain = PrivateKeychain::start();
    let agent = Agent::with_keychain(&keychain);
    agent.enroll(&enrollment_for(&site, &server.url));
    let rows = order_rows(0, 20);
    agent.enqueue("orders", &rows);

    keychain.freeze();
    let out = agent.run(&["sync"]);
    keychain.thaw();
    assert_ne!(exit_code(&out), 0, "{}", output_text(&out));
    assert!(
        output_text(&out).contains("keychain is unavailable (it did not answer within 60 s)"),
        "{}",
        output_text(&out)
    );
    assert_eq!(
        server_checksum(&db, "orders").await.0,
        0,
        "nothing was sent"
    );

    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    assert_delivered_exactly_once(&db, &rows).await;
}
