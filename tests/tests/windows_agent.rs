//! Stories of a Windows site: the real `kendrix.exe` (x86_64-pc-windows-gnu, built by
//! `scripts/windows.sh`) run under Wine, each agent in a Wine prefix of its own — its own
//! Credential Manager, `%LOCALAPPDATA%`, `%ProgramData%` and Service Control Manager —
//! against a real Linux server on 127.0.0.1.

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use kendrix_tests::agent::{
    assert_no_file_under, enrollment_for, exit_code, order_rows, output_text, register_site,
    server_applied, server_checksum, set_config_number, source_checksum, sqlite_server, wait_until,
    Agent, Fault, Site, TcpProxy,
};
use kendrix_tests::{ServerProcess, TestDb};
use serde_json::{json, Value};

/// An idempotency lease short enough for a batch cut mid-flight to be taken over soon.
const LEASE: [(&str, &str); 1] = [("KENDRIX_SYNC__IDEMPOTENCY_LEASE_SECS", "1")];

fn ndjson(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

/// Drops a file into a folder the way a careful exporter does: written aside, renamed in.
fn drop_file(dir: &Path, name: &str, text: &str) {
    let aside = dir.join(format!(".{name}.part"));
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, dir.join(name)).unwrap();
}

/// A site registered on the server and a Windows PC whose agent enrolled as it (the string
/// on stdin, so it never shows in the process list).
fn windows_site(db: &TestDb, server_url: &str, name: &str) -> (Site, Agent) {
    let site = register_site(db, name, "sync:write config:read");
    let agent = Agent::under_wine();
    let enrolled = agent.run_with_stdin(&["enroll", "-"], &enrollment_for(&site, server_url));
    assert_eq!(exit_code(&enrolled), 0, "{}", output_text(&enrolled));
    (site, agent)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_site_enrolls_with_its_secret_in_credential_manager_and_syncs_a_csv_file() {
    let (db, server) = sqlite_server(&[]).await;
    let (site, agent) = windows_site(&db, &server.url, "Store 12");

    // The site's system exports a CSV file (a name with a space and a non-ASCII letter).
    let rows: Vec<Value> = (0..5_000)
        .map(|i| json!({"id": format!("o{i:05}"), "total": format!("{i}.50")}))
        .collect();
    let mut csv = String::from("id,total\n");
    for r in &rows {
        csv.push_str(&format!(
            "{},{}\n",
            r["id"].as_str().unwrap(),
            r["total"].as_str().unwrap()
        ));
    }
    let file = agent.dir.path().join("commandes été.csv");
    std::fs::write(&file, csv).unwrap();
    let queued = agent.ok(&[
        "enqueue",
        "--entity",
        "orders",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(queued.contains("queued 5000 record(s)"), "{queued}");

    let synced = agent.run(&["sync"]);
    assert_eq!(exit_code(&synced), 0, "{}", output_text(&synced));
    assert!(
        output_text(&synced).contains("status: all synced"),
        "{}",
        output_text(&synced)
    );
    let status = agent.status();
    assert_eq!(status["all_synced"], true);
    assert_eq!(status["queue_depth"], 0);
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));

    // The secret went to the Windows Credential Manager, never into a file of the agent.
    agent.assert_no_file_holds(&[site.client_secret.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_site_takes_in_an_inbox_file_only_once_its_writer_lets_go_of_it() {
    let (db, server) = sqlite_server(&[]).await;
    let (_site, agent) = windows_site(&db, &server.url, "Store 14");
    // A folder and file names with spaces and non-ASCII letters.
    let inbox = agent.dir.path().join("Boîte de réception");
    std::fs::create_dir_all(&inbox).unwrap();
    let rows = order_rows(0, 3_000);
    let export = agent.dir.path().join("export.ndjson");
    std::fs::write(&export, ndjson(&rows)).unwrap();

    // The till's exporter saves in place and holds the file, with no sharing, for 8 s.
    let held = inbox.join("orders.2026-12 Zürich été.ndjson");
    let mut writer = agent
        .windows_program(agent.windows_test_aid("hold-open.exe"))
        .args([held.as_os_str(), export.as_os_str(), "8000".as_ref()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("hold-open.exe under Wine");
    let mut said = String::new();
    std::io::BufReader::new(writer.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(
        said.trim(),
        "holding",
        "the writer holds the file half written"
    );

    let mut daemon = agent.spawn(&["run", "--inbox", inbox.to_str().unwrap()]);
    // Several inbox passes (one every 2 s) while the writer holds the file: it stays put.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(held.exists(), "a file still being written is not taken in");
    assert_eq!(agent.status()["queue_depth"], 0, "nothing of it was queued");
    assert!(writer.wait().unwrap().success(), "the writer finished");

    let processed = inbox.join("processed");
    let taken = wait_until(Duration::from_secs(60), || {
        names_in(&processed) == ["orders.2026-12 Zürich été.ndjson"]
    })
    .await;
    assert!(taken, "taken in once let go: {:?}", names_in(&processed));
    // A file with a bad row goes to failed\ beside a note naming the row; nothing queued.
    drop_file(
        &inbox,
        "orders.bad.ndjson",
        "{\"id\": \"b1\", \"total\": 1}\nnot json\n",
    );
    let failed = inbox.join("failed");
    let refused = wait_until(Duration::from_secs(60), || {
        names_in(&failed) == ["orders.bad.ndjson", "orders.bad.ndjson.error"]
    })
    .await;
    assert!(
        refused,
        "the bad file is set aside: {:?}",
        names_in(&failed)
    );
    let note = std::fs::read_to_string(failed.join("orders.bad.ndjson.error")).unwrap();
    assert!(note.contains("row 2"), "{note}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    let synced = agent.run(&["sync"]);
    assert_eq!(exit_code(&synced), 0, "{}", output_text(&synced));
    assert_eq!(
        server_checksum(&db, "orders").await,
        source_checksum(&rows),
        "every row of the whole file arrived, none of the bad one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_site_keeps_its_queue_through_a_restart_and_an_outage_and_fixes_a_refused_record()
{
    let (db, first) = sqlite_server(&LEASE).await;
    for (key, value) in [
        ("sync.batch_size", "200"),
        ("sync.request_timeout_seconds", "2"),
        ("sync.retry_max_seconds", "2"),
    ] {
        set_config_number(&db, key, value);
    }
    let proxy = TcpProxy::start(&[&first.url]);
    let (_site, agent) = windows_site(&db, &proxy.url, "Store 15");
    let mut rows = order_rows(0, 4_000);
    // Bigger than the server accepts for one record (64 KiB): it will be refused.
    rows[123]["note"] = Value::from("x".repeat(70_000));
    agent.enqueue("orders", &rows);

    // The server cannot be reached; the daemon is stopped hard and started again.
    proxy.refuse(true);
    let mut daemon = agent.spawn(&["run"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let status = agent.status();
    assert_eq!(status["queue_depth"], 4_000, "the restart kept the queue");
    assert_eq!(status["all_synced"], false);

    // The server comes back, then dies mid-sync and a new one takes over; connections are
    // cut on the way there and back.
    proxy.refuse(false);
    proxy.inject(&[Fault::CutResponse, Fault::CutRequest, Fault::CutResponse]);
    let outage = {
        let (proxy, db_url) = (proxy.clone(), db.url.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            first.kill();
            std::thread::sleep(Duration::from_secs(2));
            let second = ServerProcess::start(&db_url, &LEASE);
            proxy.set_upstreams(&[&second.url]);
            second
        })
    };
    let out = tokio::task::spawn_blocking(move || {
        let out = agent.run(&["sync", "--retry-for-secs", "180"]);
        (agent, out)
    })
    .await
    .unwrap();
    let _second = outage.join().unwrap();
    let (agent, out) = out;
    assert_eq!(
        exit_code(&out),
        2,
        "one record refused: {}",
        output_text(&out)
    );
    assert_eq!(proxy.fired().len(), 3, "every fault happened");

    // The refused record waits as a dead letter; staff fix it and it goes.
    let letters: Value =
        serde_json::from_str(&agent.ok(&["dead-letters", "list", "--json"])).unwrap();
    assert_eq!(letters.as_array().unwrap().len(), 1, "{letters}");
    assert_eq!(letters[0]["record_id"], "o000123");
    let id = letters[0]["id"].as_i64().unwrap().to_string();
    let fixed = json!({"id": "o000123", "total": 12.5, "note": "shortened"});
    agent.ok(&["dead-letters", "fix", &id, "--data", &fixed.to_string()]);
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert!(output_text(&out).contains("status: all synced"));
    rows[123] = fixed;
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
    assert_eq!(
        server_applied(&db).await,
        4_000,
        "every record applied exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_service_installs_enrolls_itself_syncs_its_inbox_and_stops_cleanly() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 16", "sync:write config:read");
    let pc = Agent::under_wine();
    let installed = pc.ok(&["service", "install"]);
    assert!(
        installed.contains("installed the Kendrix service"),
        "{installed}"
    );
    let started = pc.ok(&["service", "start"]);
    assert!(started.contains("runs"), "{started}");

    // The service enrolls itself: the string goes to it through the SCM, on stdin here.
    let enrolled = pc.run_with_stdin(
        &["service", "enroll", "-"],
        &enrollment_for(&site, &server.url),
    );
    assert_eq!(exit_code(&enrolled), 0, "{}", output_text(&enrolled));
    assert!(
        output_text(&enrolled).contains("the service is enrolled as client"),
        "{}",
        output_text(&enrolled)
    );

    // The till drops a file into the service's inbox, one record too big for the server.
    let root = pc.windows_drive_c("ProgramData/Kendrix");
    let mut rows = order_rows(0, 2_000);
    rows[7]["note"] = Value::from("x".repeat(70_000));
    drop_file(&root.join("inbox"), "orders.till 1.ndjson", &ndjson(&rows));
    let taken = wait_until(Duration::from_secs(60), || {
        std::fs::read_dir(root.join("inbox/processed")).is_ok_and(|d| d.count() == 1)
    })
    .await;
    assert!(taken, "the service took the file in");
    // Between scheduled runs (every 5 minutes), staff ask for a sync now.
    let asked = pc.ok(&["service", "sync"]);
    assert!(asked.contains("syncs now"), "{asked}");
    let service_status =
        || -> Value { serde_json::from_str(&pc.ok(&["service", "status", "--json"])).unwrap() };
    // The run is over once nothing waits and the refused record is set aside.
    let refused = wait_until(Duration::from_secs(90), || {
        let status = &service_status()["report"]["status"];
        status["dead_letters"] == 1 && status["queue_depth"] == 0 && status["state"] != "syncing"
    })
    .await;
    assert!(refused, "{}", service_status());
    assert_eq!(server_checksum(&db, "orders").await.0, 1_999);

    // An administrator fixes the refused record in the service's own agent folder, then
    // asks the service to send it.
    let agent_dir = r"C:\ProgramData\Kendrix\agent";
    let letters: Value =
        serde_json::from_str(&pc.ok(&["--data-dir", agent_dir, "dead-letters", "list", "--json"]))
            .unwrap();
    assert_eq!(letters[0]["record_id"], "o000007");
    let id = letters[0]["id"].as_i64().unwrap().to_string();
    let fixed = json!({"id": "o000007", "total": 7.5, "note": "shortened"});
    pc.ok(&[
        "--data-dir",
        agent_dir,
        "dead-letters",
        "fix",
        &id,
        "--data",
        &fixed.to_string(),
    ]);
    pc.ok(&["service", "sync"]);
    let all_synced = wait_until(Duration::from_secs(90), || {
        service_status()["report"]["status"]["all_synced"] == true
    })
    .await;
    assert!(all_synced, "{}", service_status());
    rows[7] = fixed;
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
    assert_eq!(service_status()["service"], "running");

    // A clean stop: the log says it stopped, and the SCM sees it stopped.
    assert!(pc.ok(&["service", "stop"]).contains("has stopped"));
    assert_eq!(service_status()["service"], "stopped");
    let log: String = std::fs::read_dir(root.join("logs"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect();
    assert!(log.contains("the service starts"), "{log}");
    assert!(log.contains("sync asked for by a user"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert_no_file_under(&root, &[site.client_secret.as_str()]);
    assert!(pc
        .ok(&["service", "uninstall"])
        .contains("removed the Kendrix service"));
    let gone = pc.run(&["service", "status"]);
    assert_eq!(exit_code(&gone), 1);
    assert!(output_text(&gone).contains("is it installed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_enrolled_by_a_user_instead_says_it_cannot_read_its_secret() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 17", "sync:write config:read");
    let pc = Agent::under_wine();
    pc.ok(&["service", "install"]);
    // The service's own agent knows its server, but its Credential Manager holds no secret
    // (as when an admin enrolled it as themselves): the service says exactly that.
    let service_agent = pc.windows_drive_c("ProgramData/Kendrix/agent");
    let stray = Agent::with_data_dir(service_agent.clone());
    stray.enroll(&enrollment_for(&site, &server.url));
    // (The Linux agent wrote the folder's enrollment; its secret went to this machine's
    // keychain, which the Windows service cannot reach.)
    pc.ok(&["service", "start"]);
    let said = wait_until(Duration::from_secs(30), || {
        let status: Value = serde_json::from_str(&pc.ok(&["service", "status", "--json"])).unwrap();
        status["report"]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("cannot read its client secret"))
    })
    .await;
    assert!(said, "{}", pc.ok(&["service", "status"]));
    assert!(pc
        .ok(&["service", "status"])
        .contains("kendrix service enroll"));
    pc.ok(&["service", "stop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_installer_puts_kendrix_on_path_registers_the_service_and_uninstalls_cleanly() {
    let pc = Agent::under_wine();
    // The first program run makes the PC; the installed kendrix.exe needs Wine's missing DLL
    // (the test-only shim) in system32.
    pc.ok(&["--version"]);
    std::fs::copy(
        pc.windows_test_aid("bcryptprimitives.dll"),
        pc.windows_drive_c("windows/system32/bcryptprimitives.dll"),
    )
    .unwrap();
    let setup = pc
        .windows_program(pc.windows_test_aid("Kendrix-Sync-setup.exe"))
        .arg("/S")
        .status()
        .unwrap();
    assert!(setup.success(), "the silent install succeeds");
    let folder = pc.windows_drive_c("Program Files/Kendrix Sync");
    assert!(folder.join("kendrix.exe").exists());
    assert!(folder.join("uninstall.exe").exists());
    let path = system_path(&pc);
    assert!(path.contains(r"C:\Program Files\Kendrix Sync"), "{path}");
    let status = pc.ok(&["service", "status"]);
    assert!(
        status.contains("service:"),
        "the service is registered: {status}"
    );

    let uninstall = pc
        .windows_program(folder.join("uninstall.exe"))
        .arg("/S")
        .status()
        .unwrap();
    assert!(uninstall.success());
    // The uninstaller runs from a copy of itself: wait for it to finish its work.
    let removed = wait_until(Duration::from_secs(60), || !folder.exists()).await;
    assert!(removed, "the program folder is gone");
    assert!(!system_path(&pc).contains("Kendrix Sync"));
    let gone = pc.run(&["service", "status"]);
    assert_eq!(exit_code(&gone), 1, "the service is removed too");
}

/// The machine-wide PATH of a Windows PC under Wine.
fn system_path(pc: &Agent) -> String {
    let out = pc
        .windows_program("reg")
        .args([
            "query",
            r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment",
            "/v",
            "Path",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
