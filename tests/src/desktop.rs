//! Driving the real desktop app (the `kendrix-desktop` binary, UI embedded) over WebDriver:
//! tauri-driver + WebKitWebDriver under the session's Xvfb. Screenshots go to
//! `target/screenshots/` (copied to docs/screenshots/ when they change on purpose).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::binary;

/// The tauri-driver process; killed (with the app) when dropped.
pub struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole process group: tauri-driver, WebKitWebDriver and the app it started. An
        // app left running (a story that failed before closing it) would take the next
        // story's launch as a second instance.
        // Only ever the driver's own group: never the group of the test runner.
        let pid = self.child.id();
        if process_group_of(pid) == Some(pid) {
            crate::send_signal(-(pid as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's group id, from `/proc/<pid>/stat` (the field after the state).
fn process_group_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
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

/// Starts the app with `agent_dir` as its agent folder and `save_to` standing in for the
/// native save dialog's answer (`KENDRIX_SAVE_TO`).
pub async fn start_app(agent_dir: &Path, save_to: &Path) -> (Driver, Client) {
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
        .env("KENDRIX_SAVE_TO", save_to)
        .process_group(0)
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
pub async fn find(app: &Client, test_id: &str) -> Element {
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

pub async fn all(app: &Client, test_id: &str) -> Vec<Element> {
    app.find_all(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .unwrap_or_default()
}

pub async fn text_of(app: &Client, test_id: &str) -> String {
    find(app, test_id).await.text().await.unwrap_or_default()
}

/// Polls until the element's text satisfies `ok`, up to 60 s.
pub async fn wait_text(app: &Client, test_id: &str, ok: impl Fn(&str) -> bool) -> String {
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

pub async fn go(app: &Client, screen: &str) {
    find(app, &format!("nav-{screen}"))
        .await
        .click()
        .await
        .unwrap();
    find(app, &format!("screen-{screen}")).await;
}

pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

pub async fn screenshot(app: &Client, name: &str) {
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = app.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Clicks the element with this test id, scrolled into view; retried for a few seconds while
/// it cannot take a click yet (still rendering, covered by a closing dialog). If it never
/// can, saves what the window shows (`failure-click-<test id>.png`) and fails.
pub async fn click(app: &Client, test_id: &str) {
    let mut last = None;
    for _ in 0..25 {
        let element = find(app, test_id).await;
        let _ = app
            .execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                vec![serde_json::to_value(&element).unwrap()],
            )
            .await;
        match element.click().await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    screenshot(app, &format!("failure-click-{test_id}")).await;
    panic!("{test_id} never took a click: {last:?}");
}

/// Types `text` into the (cleared) field with this test id.
pub async fn type_into(app: &Client, test_id: &str, text: &str) {
    let field = find(app, test_id).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Polls until some element with this test id has text satisfying `ok`; returns it.
pub async fn wait_any(app: &Client, test_id: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen.clear();
        for element in all(app, test_id).await {
            let text = element.text().await.unwrap_or_default();
            if ok(&text) {
                return text;
            }
            seen.push(text);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no {test_id} matched; last texts: {seen:?}");
}

/// Screenshots the window in the light and the dark theme: `<name>-light.png`, `<name>-dark.png`.
pub async fn screenshot_both(app: &Client, name: &str) {
    for theme in ["light", "dark"] {
        app.execute(
            "document.documentElement.dataset.theme = arguments[0];",
            vec![json!(theme)],
        )
        .await
        .unwrap();
        screenshot(app, &format!("{name}-{theme}")).await;
    }
    app.execute("delete document.documentElement.dataset.theme;", vec![])
        .await
        .unwrap();
}
