//! Stories of a site's agent: the real `kendrix` binary against a real server process, with
//! its secrets in the session's real OS keychain (Secret Service; scripts/test.sh runs the
//! suite inside a private D-Bus session with an unlocked gnome-keyring).

use std::time::{Duration, Instant};

use kendrix_tests::agent::{
    enrollment_for, exit_code, order_rows, output_text, register_site, server_applied,
    server_checksum, set_config_number, source_checksum, sqlite_server, wait_until, Agent, Fault,
    TcpProxy,
};
use kendrix_tests::server_cli;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_enrolls_enqueues_a_csv_file_and_syncs_everything() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 12", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));

    // The site's system exports a CSV file; every cell arrives as a string.
    let rows: Vec<Value> = (0..20_000)
        .map(|i| json!({"id": format!("o{i:06}"), "customer": format!("c{}", i % 97), "total": format!("{}.50", i)}))
        .collect();
    let mut csv = String::from("id,customer,total\n");
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{}\n",
            r["id"].as_str().unwrap(),
            r["customer"].as_str().unwrap(),
            r["total"].as_str().unwrap()
        ));
    }
    let file = agent.dir.path().join("orders.csv");
    std::fs::write(&file, csv).unwrap();
    let queued = agent.ok(&[
        "enqueue",
        "--entity",
        "orders",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(queued.contains("queued 20000 record(s)"), "{queued}");
    assert_eq!(agent.status()["queue_depth"], 20_000);
    assert_eq!(agent.status()["all_synced"], false, "nothing confirmed yet");

    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert!(
        output_text(&out).contains("status: all synced"),
        "{}",
        output_text(&out)
    );

    let status = agent.status();
    assert_eq!(status["state"], "idle");
    assert_eq!(status["all_synced"], true);
    assert_eq!(status["queue_depth"], 0);
    assert!(status["last_success_at"].as_i64().is_some());
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
    assert_eq!(server_applied(&db).await, 20_000);

    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(history[0]["outcome"], "synced");
    assert_eq!(history[0]["applied"], 20_000);
    assert_eq!(
        history[0]["batches"], 20,
        "the default batch is 1000 records"
    );

    // The secret and the token live in the keychain only.
    let keychain = kendrix_engine::Keychain::for_client(&server.url, &site.client_id);
    let token = keychain
        .token()
        .await
        .unwrap()
        .expect("the token is in the keychain");
    assert_eq!(
        keychain.secret().await.unwrap().as_deref(),
        Some(site.client_secret.as_str())
    );
    agent.assert_no_file_holds(&[&site.client_secret, &token.access_token]);
    assert!(!server.log_text().contains(&site.client_secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_by_server_and_client_id_takes_the_secret_from_stdin_and_checks_it() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 7", "sync:write config:read");
    let agent = Agent::new();

    let wrong = agent.run_with_stdin(
        &[
            "enroll",
            "--server",
            &server.url,
            "--client-id",
            &site.client_id,
        ],
        "kxs_not-the-secret\n",
    );
    assert_eq!(exit_code(&wrong), 1);
    assert!(
        output_text(&wrong).contains("refused this agent's credentials"),
        "{}",
        output_text(&wrong)
    );
    assert!(!output_text(&wrong).contains("kxs_not-the-secret"));
    assert_eq!(
        agent.status()["enrolled"],
        Value::Null,
        "a refused enrollment changes nothing"
    );

    let right = agent.run_with_stdin(
        &[
            "enroll",
            "--server",
            &server.url,
            "--client-id",
            &site.client_id,
        ],
        &format!("{}\n", site.client_secret),
    );
    assert_eq!(exit_code(&right), 0, "{}", output_text(&right));
    assert_eq!(
        agent.status()["enrolled"]["client_id"],
        site.client_id.as_str()
    );

    // A damaged enrollment string is named as such, without echoing it.
    let damaged = agent.run(&["enroll", "kendrix1:@@@"]);
    assert_eq!(exit_code(&damaged), 1);
    assert!(
        output_text(&damaged).contains("damaged"),
        "{}",
        output_text(&damaged)
    );
    agent.assert_no_file_holds(&[&site.client_secret]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keychain_the_agent_says_so_and_stores_no_secret_anywhere() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 9", "sync:write config:read");
    let agent = Agent::new();
    let out = agent
        .command(&["enroll", &enrollment_for(&site, &server.url)])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 1);
    assert!(
        output_text(&out).contains("keychain is unavailable")
            && output_text(&out).contains("never in a file"),
        "{}",
        output_text(&out)
    );
    assert_eq!(agent.status()["enrolled"], Value::Null);
    agent.assert_no_file_holds(&[&site.client_secret]);
}

/// A poison record — an id holding a NUL, which PostgreSQL cannot store — is refused by the
/// agent at enqueue, naming the row and the field; nothing of the file is queued, so it never
/// reaches a batch, and the corrected file goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_holding_a_nul_is_refused_at_enqueue_and_nothing_is_queued() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 13", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    let mut rows = order_rows(0, 3);
    rows[1]["id"] = json!("o\u{0}000001");
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    assert!(
        text.contains("\\u0000"),
        "the NUL travels as JSON's escape: {text}"
    );
    let out = agent.run_with_stdin(&["enqueue", "--entity", "orders"], &text);
    assert_eq!(exit_code(&out), 1, "{}", output_text(&out));
    assert!(
        output_text(&out).contains(
            "row 2: \"id\" contains the control character U+0000; ids must be printable text; nothing was queued"
        ),
        "{}",
        output_text(&out)
    );
    assert_eq!(agent.status()["queue_depth"], 0, "nothing was queued");
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(history[0]["sent"], 0, "no batch carried it");
    assert_eq!(server_applied(&db).await, 0);

    rows[1]["id"] = json!("o000001");
    agent.enqueue("orders", &rows);
    agent.ok(&["sync"]);
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
    assert_eq!(agent.status()["all_synced"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_server_refuses_waits_in_dead_letters_until_fixed_and_resent() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 3", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    let mut rows = order_rows(0, 50);
    // Bigger than the server accepts for one record (64 KiB).
    rows[10]["note"] = Value::from("x".repeat(70_000));
    agent.enqueue("orders", &rows);

    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 2, "records refused: {}", output_text(&out));
    let status = agent.status();
    assert_eq!(status["dead_letters"], 1);
    assert_eq!(
        status["all_synced"], false,
        "a dead letter is not all synced"
    );
    let letters: Value =
        serde_json::from_str(&agent.ok(&["dead-letters", "list", "--json"])).unwrap();
    assert_eq!(letters[0]["record_id"], "o000010");
    assert!(
        letters[0]["reason"].as_str().unwrap().contains("bytes"),
        "{letters}"
    );
    // The other 49 arrived.
    assert_eq!(server_checksum(&db, "orders").await.0, 49);

    // Staff fix the record and send it again.
    let id = letters[0]["id"].as_i64().unwrap().to_string();
    let fixed = json!({"id": "o000010", "total": 12.5, "note": "shortened"});
    agent.ok(&["dead-letters", "fix", &id, "--data", &fixed.to_string()]);
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(agent.status()["all_synced"], true);
    rows[10] = fixed;
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));

    // Discarding is explicit and final.
    agent.enqueue(
        "orders",
        &[json!({"id": "o999999", "note": "y".repeat(70_000)})],
    );
    assert_eq!(exit_code(&agent.run(&["sync"])), 2);
    agent.ok(&["dead-letters", "discard", "--all"]);
    assert_eq!(agent.status()["dead_letters"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_from_the_server_applies_live_and_its_version_is_reported() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 5", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    set_config_number(&db, "sync.batch_size", "7");

    agent.enqueue("orders", &order_rows(0, 20));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(history[0]["batches"], 3, "20 records in batches of 7");
    let version = agent.status()["config_version"].clone();
    assert!(version.is_string(), "{version}");

    // A change on the server reaches the next run without a restart.
    set_config_number(&db, "sync.batch_size", "10");
    agent.enqueue("orders", &order_rows(20, 20));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(history[0]["batches"], 2);
    assert_ne!(agent.status()["config_version"], version);
    // The server knows which configuration the site runs (drift).
    let store = db.store().await;
    let figures = store.batch_figures(1, 0).await.unwrap();
    assert_eq!(figures.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_syncs_on_schedule_takes_in_the_inbox_and_stops_on_sigterm() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 4", "sync:write config:read");
    set_config_number(&db, "sync.interval_seconds", "1");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    let inbox = agent.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut daemon = agent.spawn(&["run", "--inbox", inbox.to_str().unwrap()]);

    // Files are written under a dot-name and renamed in, as the README asks of sources.
    let rows = order_rows(0, 300);
    let ndjson: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(inbox.join(".orders.part"), ndjson).unwrap();
    std::fs::rename(
        inbox.join(".orders.part"),
        inbox.join("orders.2026-11-29.ndjson"),
    )
    .unwrap();
    std::fs::write(inbox.join("customers.csv"), "id,name\nc1,Ann\nc2\n").unwrap();

    assert!(
        wait_until(Duration::from_secs(30), || inbox
            .join("processed/orders.2026-11-29.ndjson")
            .exists())
        .await,
        "the file was taken in"
    );
    assert!(inbox.join("failed/customers.csv").exists());
    let why = std::fs::read_to_string(inbox.join("failed/customers.csv.error")).unwrap();
    assert!(why.contains("row 2"), "{why}");
    let db_url = db.url.clone();
    let mut arrived = false;
    for _ in 0..300 {
        if server_checksum(&db, "orders").await == source_checksum(&rows) {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(arrived, "the schedule delivered the inbox rows ({db_url})");
    let status = agent.status();
    assert!(status["next_run_at"].as_i64().is_some(), "{status}");

    // SIGTERM: the daemon finishes what it does and exits cleanly.
    kendrix_tests::send_signal(daemon.id() as i32, libc::SIGTERM);
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = daemon.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success());
    assert_eq!(agent.status()["next_run_at"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_credentials_stop_the_agent_with_a_clear_status_not_a_retry_loop() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 8", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    agent.enqueue("orders", &order_rows(0, 30));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);

    server_cli(&db.url, &["client", "revoke", &site.client_id]);
    agent.enqueue("orders", &order_rows(30, 30));
    let out = agent.run(&["sync", "--retry-for-secs", "60"]);
    assert_eq!(exit_code(&out), 4, "{}", output_text(&out));
    let status = agent.status();
    assert_eq!(status["state"], "error");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("new enrollment string"),
        "{status}"
    );
    assert_eq!(status["queue_depth"], 30, "nothing was dropped");
    // One renewal after the 401, then it stopped.
    let failures = db
        .store()
        .await
        .query_audit(&kendrix_store::AuditQuery {
            tenant_id: 1,
            since: None,
            until: None,
            events: vec!["auth.client.failure".into()],
            client_id: None,
            outcome: None,
            text: None,
            before_seq: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert!(
        failures.len() <= 2,
        "{} token attempts after revocation",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_mid_sync_is_renewed_once_and_the_sync_goes_on() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 6", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    agent.enqueue("orders", &order_rows(0, 10));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);

    // An admin (or a leak response) revokes the token the agent holds.
    let keychain = kendrix_engine::Keychain::for_client(&server.url, &site.client_id);
    let token = keychain.token().await.unwrap().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/oauth/revoke", server.url))
        .basic_auth(&site.client_id, Some(&site.client_secret))
        .form(&[("token", token.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());

    let rows = order_rows(0, 40);
    agent.enqueue("orders", &rows[10..]);
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    let renewed = keychain.token().await.unwrap().unwrap();
    assert_ne!(renewed.access_token, token.access_token);
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_warns_when_the_servers_audit_chain_no_longer_holds_what_it_saw() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 2", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    agent.enqueue("orders", &order_rows(0, 5));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    agent.enqueue("orders", &order_rows(5, 5));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    assert_eq!(
        agent.status()["warning"],
        Value::Null,
        "an intact chain raises nothing"
    );

    // Someone with database access rewrites the history the agent witnessed.
    let head: i64 = {
        let store = db.store().await;
        store.audit_head().await.unwrap().0
    };
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_logs SET hash = 'forged' WHERE id <= $1 AND id > $1 - 20")
        .bind(head)
        .execute(&mut conn)
        .await
        .unwrap();
    agent.enqueue("orders", &order_rows(10, 5));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    let warning = agent.status()["warning"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(warning.contains("audit log"), "{warning}");
}

/// Retention is a claim the agent checks: entries it witnessed may be pruned only behind a
/// checkpoint signed with the server's audit key (the keys pinned at first sight); a
/// "pruned" answer without one — someone deleting history and writing a retention
/// checkpoint of their own — raises the warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_accepts_a_signed_retention_cut_and_warns_of_a_forged_one() {
    let seed = [21u8; 32];
    let key_text = kendrix_core::checkpoint::AuditSigningKey::seed_base64(seed);
    let (db, server) = sqlite_server(&[("KENDRIX_AUDIT_SIGNING_KEY", key_text.as_str())]).await;
    let site = register_site(&db, "Store 2", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    agent.enqueue("orders", &order_rows(0, 5));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    let store = db.store().await;
    // Retention as the server does it: cut at a signed checkpoint past what the agent saw.
    let prune_at_signed = |forge: bool| {
        let (store, url) = (store.clone(), db.url.clone());
        async move {
            // Some later history (an operator's verification), so the cut passes the witness.
            let later = kendrix_core::audit::AuditContext::default().draft(
                1_800_000_000_000,
                kendrix_core::AuditEvent::AuditVerified,
                kendrix_core::AuditOutcome::Success,
                serde_json::json!({}),
            );
            store.append_audit(&[later]).await.unwrap();
            let (seq, hash) = store.audit_head().await.unwrap();
            if !forge {
                let key = kendrix_core::checkpoint::AuditSigningKey::from_seed(seed);
                store
                    .add_audit_checkpoint(&key.sign(seq, &hash, 1_800_000_000_000))
                    .await
                    .unwrap();
            }
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            for sql in [
                format!("DELETE FROM audit_logs WHERE id <= {seq}"),
                format!("UPDATE audit_chain SET pruned_seq = {seq}, pruned_hash = '{hash}' WHERE id = 1"),
            ] {
                sqlx::query(&sql).execute(&mut conn).await.unwrap();
            }
        }
    };
    prune_at_signed(false).await;
    agent.enqueue("orders", &order_rows(5, 5));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    assert_eq!(
        agent.status()["warning"],
        Value::Null,
        "a signed retention cut raises nothing"
    );

    prune_at_signed(true).await;
    agent.enqueue("orders", &order_rows(10, 5));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    let warning = agent.status()["warning"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        warning.contains("audit log") && warning.contains("no signed checkpoint"),
        "{warning}"
    );
}

/// Secret rotation: the site enrolled again — first with a secret the server refuses, then
/// with its own string again — keeps its queue and its dead letters, and a refused secret
/// never replaces the one that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_enrolling_a_running_site_keeps_its_queue_and_a_refused_secret_keeps_the_working_one() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 14", "sync:write config:read");
    let agent = Agent::new();
    let enrollment = enrollment_for(&site, &server.url);
    agent.enroll(&enrollment);
    let mut rows = order_rows(0, 20);
    rows[3]["note"] = Value::from("x".repeat(70_000));
    agent.enqueue("orders", &rows);
    assert_eq!(exit_code(&agent.run(&["sync"])), 2, "one record refused");
    agent.enqueue("orders", &order_rows(20, 30));
    let before = agent.status();
    assert_eq!(
        (
            before["queue_depth"].clone(),
            before["dead_letters"].clone()
        ),
        (json!(30), json!(1))
    );

    let wrong = agent.run_with_stdin(
        &[
            "enroll",
            "--server",
            &server.url,
            "--client-id",
            &site.client_id,
        ],
        "kxs_not-the-secret\n",
    );
    assert_eq!(exit_code(&wrong), 1, "{}", output_text(&wrong));
    let keychain = kendrix_engine::Keychain::for_client(&server.url, &site.client_id);
    assert_eq!(
        keychain.secret().await.unwrap().as_deref(),
        Some(site.client_secret.as_str()),
        "the working secret is back in the keychain"
    );
    agent.enroll(&enrollment);
    let after = agent.status();
    assert_eq!(
        (after["queue_depth"].clone(), after["dead_letters"].clone()),
        (json!(30), json!(1))
    );

    assert_eq!(
        exit_code(&agent.run(&["sync"])),
        2,
        "the dead letter is still there"
    );
    assert_eq!(agent.status()["queue_depth"], 0);
    assert_eq!(server_checksum(&db, "orders").await.0, 49);

    // The admin rotates the secret (the old one works for an hour); the site takes the new
    // string with records queued, and they go out with the new secret.
    let rotated: Value = serde_json::from_str(&server_cli(
        &db.url,
        &[
            "client",
            "rotate-secret",
            &site.client_id,
            "--grace",
            "1h",
            "--json",
        ],
    ))
    .unwrap();
    let renewed = kendrix_tests::agent::Site {
        client_secret: rotated["client_secret"].as_str().unwrap().into(),
        ..site.clone()
    };
    agent.enqueue("orders", &order_rows(50, 10));
    agent.enroll(&enrollment_for(&renewed, &server.url));
    let after = agent.status();
    assert_eq!(
        (after["queue_depth"].clone(), after["dead_letters"].clone()),
        (json!(10), json!(1))
    );
    assert_eq!(
        keychain.secret().await.unwrap().as_deref(),
        Some(renewed.client_secret.as_str())
    );
    assert_eq!(exit_code(&agent.run(&["sync"])), 2);
    assert_eq!(server_checksum(&db, "orders").await.0, 59);
}

/// The sites as `kendrix admin sites --json` shows them.
fn admin_sites(agent: &Agent) -> Vec<Value> {
    serde_json::from_str(&agent.ok(&["admin", "sites", "--json"])).expect("a JSON array")
}

fn site_in(sites: &[Value], client_id: &str) -> Value {
    sites
        .iter()
        .find(|s| s["client_id"] == client_id)
        .unwrap_or_else(|| panic!("{client_id} is not among {sites:?}"))
        .clone()
}

/// An admin credential kept beside the site's enrollment lists the tenant's sites; one
/// without clients:admin is refused and kept nowhere; signing out leaves the site syncing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_credential_beside_the_site_lists_the_sites_and_never_syncs() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 99", "sync:write config:read");
    let admin = register_site(&db, "Head office", "clients:admin");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));

    let none = agent.run(&["admin", "sites"]);
    assert_eq!(exit_code(&none), 1);
    assert!(
        output_text(&none).contains("no admin credential on this PC: run `kendrix admin enroll"),
        "{}",
        output_text(&none)
    );
    let enrolled = agent.ok(&["admin", "enroll", &enrollment_for(&admin, &server.url)]);
    assert!(enrolled.contains("admin credential kept"), "{enrolled}");
    let listed = site_in(&admin_sites(&agent), &site.client_id);
    assert_eq!(listed["name"], "Store 99");
    assert_eq!(listed["status"], "active");
    let table = agent.ok(&["admin", "sites"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("Store 99"), "{table}");

    // A site's credential is no admin's: refused, and the admin credential stays.
    let refused = agent.run(&["admin", "enroll", &enrollment_for(&site, &server.url)]);
    assert_eq!(exit_code(&refused), 1, "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains("lacks the clients:admin scope"),
        "{}",
        output_text(&refused)
    );
    assert!(!output_text(&refused).contains(&site.client_secret));
    let site_as_admin = kendrix_engine::Keychain::for_admin(&server.url, &site.client_id);
    assert_eq!(
        site_as_admin.secret().await.unwrap(),
        None,
        "nothing was kept"
    );
    site_in(&admin_sites(&agent), &site.client_id);

    // The site syncs with its own token, never the admin's.
    agent.enqueue("orders", &order_rows(0, 10));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    assert_eq!(
        agent.status()["enrolled"]["client_id"],
        site.client_id.as_str()
    );
    let site_token = kendrix_engine::Keychain::for_client(&server.url, &site.client_id)
        .token()
        .await
        .unwrap()
        .unwrap();
    let admin_keychain = kendrix_engine::Keychain::for_admin(&server.url, &admin.client_id);
    let admin_token = admin_keychain.token().await.unwrap().unwrap();
    assert_ne!(site_token.access_token, admin_token.access_token);
    agent.assert_no_file_holds(&[&admin.client_secret, &admin_token.access_token]);

    let out = agent.ok(&["admin", "sign-out"]);
    assert!(out.contains("signed out"), "{out}");
    assert_eq!(admin_keychain.secret().await.unwrap(), None);
    assert_eq!(exit_code(&agent.run(&["admin", "sites"])), 1);
    agent.enqueue("orders", &order_rows(10, 10));
    assert_eq!(exit_code(&agent.run(&["sync"])), 0, "the site syncs on");
    assert_eq!(server_checksum(&db, "orders").await.0, 20);
}

/// The heartbeat: a site with 50 records queued while the server cannot take them shows
/// queue_depth 50 and its oldest pending record in the admin's list; once they arrive, 0 and
/// none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sites_heartbeat_shows_its_queue_to_the_admin_until_it_drains() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 15", "sync:write config:read");
    let admin = register_site(&db, "Head office", "clients:admin");
    let proxy = TcpProxy::start(&[&server.url]);
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &proxy.url));
    agent.ok(&["admin", "enroll", &enrollment_for(&admin, &server.url)]);
    let never = site_in(&admin_sites(&agent), &site.client_id);
    assert_eq!(
        never["queue_depth"],
        Value::Null,
        "no heartbeat yet: {never}"
    );

    // Unreachable: the run ends offline and its heartbeat is lost, nothing else.
    proxy.refuse(true);
    let queued_from = kendrix_core::Clock::now_ms(&kendrix_core::SystemClock);
    agent.enqueue("orders", &order_rows(0, 50));
    let out = agent.run(&["sync", "--retry-for-secs", "0"]);
    assert_eq!(exit_code(&out), 3, "{}", output_text(&out));
    proxy.refuse(false);

    // Reachable, but the batches are answered 503: the heartbeat gets through.
    proxy.inject(&[Fault::Answer(503)]);
    let out = agent.run(&["sync", "--retry-for-secs", "0"]);
    assert_eq!(exit_code(&out), 3, "{}", output_text(&out));
    let waiting = site_in(&admin_sites(&agent), &site.client_id);
    assert_eq!(waiting["queue_depth"], 50, "{waiting}");
    let oldest = waiting["oldest_pending_ms"]
        .as_i64()
        .expect("the oldest record's time");
    assert!(
        oldest >= queued_from && oldest <= kendrix_core::Clock::now_ms(&kendrix_core::SystemClock),
        "{oldest} is when the records were queued"
    );
    assert_eq!(waiting["dead_letters"], 0);
    assert!(waiting["last_seen_ms"].as_i64().is_some());

    assert_eq!(exit_code(&agent.run(&["sync"])), 0);
    let drained = site_in(&admin_sites(&agent), &site.client_id);
    assert_eq!(drained["queue_depth"], 0, "{drained}");
    assert_eq!(drained["oldest_pending_ms"], Value::Null, "{drained}");
    assert_eq!(server_checksum(&db, "orders").await.0, 50);
}

/// A daemon whose schedule is paused runs no sync, yet still sends a heartbeat every
/// interval: the admin sees the queue grow; resumed, it drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_daemon_still_reports_its_queue_every_interval() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 16", "sync:write config:read");
    let admin = register_site(&db, "Head office", "clients:admin");
    set_config_number(&db, "sync.interval_seconds", "1");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    agent.ok(&["admin", "enroll", &enrollment_for(&admin, &server.url)]);
    agent.ok(&["pause"]);
    let mut daemon = agent.spawn(&["run"]);
    agent.enqueue("orders", &order_rows(0, 7));

    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = site_in(&admin_sites(&agent), &site.client_id);
        if seen["queue_depth"] == 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["queue_depth"], 7, "the paused daemon reported: {seen}");
    assert_eq!(server_applied(&db).await, 0, "paused: nothing was sent");

    agent.ok(&["resume"]);
    let mut drained = false;
    for _ in 0..100 {
        if site_in(&admin_sites(&agent), &site.client_id)["queue_depth"] == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(drained, "resumed, the queue drained and was reported");
    assert_eq!(server_applied(&db).await, 7);
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
