//! The desktop app, end to end: the real `kendrix-desktop` binary (UI embedded) driven over
//! WebDriver (tauri-driver + WebKitWebDriver, under the session's Xvfb) against a real
//! server process. One story, because the app is single-instance per desktop session.
//! Screenshots of every screen go to `target/screenshots/` (copied to docs/screenshots/
//! when they change on purpose).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use kendrix_tests::agent::{
    enrollment_for, order_rows, register_site, server_checksum, set_config_number, source_checksum,
    sqlite_server, Agent,
};
use kendrix_tests::binary;
use serde_json::{json, Value};

struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tauri_driver() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("a home folder");
    let path = cargo_home.join("bin/tauri-driver");
    assert!(
        path.exists(),
        "tauri-driver is missing: `cargo install tauri-driver --version ^2 --locked` (scripts/test.sh does)"
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_app(agent_dir: &std::path::Path) -> (Driver, Client) {
    // Two TLS backends are linked into the test (reqwest's and fantoccini's): pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (port, native) = (free_port(), free_port());
    let child = Command::new(tauri_driver())
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("KENDRIX_AGENT_DIR", agent_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tauri-driver");
    let driver = Driver { child };
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("wry"));
    caps.insert(
        "tauri:options".into(),
        json!({"application": binary("kendrix-desktop")}),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(client) = ClientBuilder::rustls()
            .expect("TLS config")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return (driver, client);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the app did not start under tauri-driver");
}

/// Waits for the element, up to 60 s; if it never comes, saves what the window shows
/// (`target/screenshots/failure-<test id>.png` and `.html`) and fails.
async fn find(app: &Client, test_id: &str) -> Element {
    match app
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
    {
        Ok(element) => element,
        Err(e) => {
            screenshot(app, &format!("failure-{test_id}")).await;
            let html = app.source().await.unwrap_or_default();
            let _ = std::fs::write(
                screenshots_dir().join(format!("failure-{test_id}.html")),
                &html,
            );
            panic!("no element {test_id}: {e}\n{html}")
        }
    }
}

async fn all(app: &Client, test_id: &str) -> Vec<Element> {
    app.find_all(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .unwrap_or_default()
}

async fn text_of(app: &Client, test_id: &str) -> String {
    find(app, test_id).await.text().await.unwrap_or_default()
}

/// Polls until the element's text satisfies `ok`, up to 60 s.
async fn wait_text(app: &Client, test_id: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..300 {
        if let Ok(element) = app
            .find(Locator::Css(&format!("[data-testid='{test_id}']")))
            .await
        {
            last = element.text().await.unwrap_or_default();
            if ok(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{test_id} never matched; last text: {last:?}");
}

async fn go(app: &Client, screen: &str) {
    find(app, &format!("nav-{screen}"))
        .await
        .click()
        .await
        .unwrap();
    find(app, &format!("screen-{screen}")).await;
}

fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

async fn screenshot(app: &Client, name: &str) {
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = app.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_enroll_sync_fix_a_rejected_record_and_admins_see_audit_config_and_stats() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(
        &db,
        "Store 12",
        "sync:write config:read audit:read stats:read",
    );
    set_config_number(&db, "sync.batch_size", "100");
    // The CLI shares the app's agent folder: it plays the site's systems feeding records.
    let feeder = Agent::new();
    let (_driver, app) = start_app(&feeder.data_dir()).await;

    // Staff paste the enrollment string once; the secret goes to the keychain.
    go(&app, "settings").await;
    find(&app, "enroll-input")
        .await
        .send_keys(&enrollment_for(&site, &server.url))
        .await
        .unwrap();
    find(&app, "enroll-submit").await.click().await.unwrap();
    wait_text(&app, "enrolled-client", |t| t.contains(&site.client_id)).await;
    screenshot(&app, "settings").await;

    // Records arrive; Sync Now drains the queue.
    let rows = order_rows(0, 500);
    feeder.enqueue("orders", &rows);
    go(&app, "dashboard").await;
    wait_text(&app, "queue-depth", |t| t.trim() == "500").await;
    find(&app, "sync-now").await.click().await.unwrap();
    wait_text(&app, "queue-depth", |t| t.trim() == "0").await;
    wait_text(&app, "status-state", |t| t.contains("All synced")).await;
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
    screenshot(&app, "dashboard").await;

    // The batch shows in the server's audit log, and the run in the local history.
    go(&app, "audit").await;
    find(&app, "audit-tab-server").await.click().await.unwrap();
    let mut seen = false;
    for _ in 0..50 {
        for row in all(&app, "audit-row").await {
            if row
                .text()
                .await
                .unwrap_or_default()
                .contains("sync.batch.applied")
            {
                seen = true;
            }
        }
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen, "the batch is in the audit screen");
    screenshot(&app, "audit").await;
    find(&app, "audit-tab-local").await.click().await.unwrap();
    find(&app, "history-row").await;

    // A record the server refuses waits in dead letters; staff fix it and it goes through.
    feeder.enqueue(
        "orders",
        &[json!({"id": "o-big", "note": "x".repeat(70_000)})],
    );
    go(&app, "dashboard").await;
    find(&app, "sync-now").await.click().await.unwrap();
    wait_text(&app, "dead-letter-count", |t| t.trim() == "1").await;
    go(&app, "dead-letters").await;
    find(&app, "dead-letter-row").await;
    // A row opens when clicked (its first cell is the selection checkbox).
    app.find(Locator::Css(
        "[data-testid='dead-letter-row'] td:nth-child(2)",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let reason = text_of(&app, "dead-letter-reason").await;
    assert!(reason.contains("bytes"), "{reason}");
    screenshot(&app, "dead-letters").await;
    let editor = find(&app, "dead-letter-data").await;
    editor.clear().await.unwrap();
    editor
        .send_keys(r#"{"id": "o-big", "note": "short now"}"#)
        .await
        .unwrap();
    find(&app, "dead-letter-fix").await.click().await.unwrap();
    go(&app, "dashboard").await;
    wait_text(&app, "dead-letter-count", |t| t.trim() == "0").await;
    find(&app, "sync-now").await.click().await.unwrap();
    wait_text(&app, "status-state", |t| t.contains("All synced")).await;
    let stored: Vec<Value> = db
        .store()
        .await
        .records_page(1, "orders", "", 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.record_id == "o-big")
        .map(|r| serde_json::from_str(r.data.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(stored, vec![json!({"id": "o-big", "note": "short now"})]);

    // An admin changes the configuration: a new version with its diff.
    set_config_number(&db, "sync.batch_size", "250");
    go(&app, "config").await;
    let mut versions = 0;
    for _ in 0..50 {
        versions = all(&app, "config-version-row").await.len();
        if versions >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(versions >= 2, "{versions} versions shown");
    find(&app, "config-diff-from")
        .await
        .select_by_value("1")
        .await
        .unwrap();
    find(&app, "config-diff-to")
        .await
        .select_by_value("2")
        .await
        .unwrap();
    wait_text(&app, "config-diff-row", |t| t.contains("sync.batch_size")).await;
    find(&app, "config-preview-ini")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&app, "config-preview", |t| t.contains("[sync]")).await;
    screenshot(&app, "config").await;

    go(&app, "stats").await;
    find(&app, "sync-window-row").await;
    screenshot(&app, "stats").await;
    app.close().await.unwrap();
}
