//! The desktop app, end to end: the real `kendrix-desktop` binary (UI embedded) driven over
//! WebDriver against a real server process, as site staff and as an admin would use it.
//! The app is single-instance per desktop session, so these stories run one at a time
//! (nextest test group `desktop`, `.config/nextest.toml`). Screenshots of every screen, light
//! and dark, go to `target/screenshots/` (copied to docs/screenshots/ when they change on
//! purpose).

use std::time::Duration;

use fantoccini::{Client, Locator};
use kendrix_tests::agent::{
    enrollment_for, order_rows, register_site, server_checksum, set_config_number, source_checksum,
    sqlite_server, Agent,
};
use kendrix_tests::desktop::{
    all, click, find, go, screenshot, screenshot_both, start_app, text_of, type_into, wait_any,
    wait_text,
};
use kendrix_tests::server_cli;
use serde_json::{json, Value};

const ADMIN_SCOPES: &str = "clients:admin config:read config:write audit:read stats:read";

/// Signs the app in as admin (Settings → Sign in as admin) with the string of `admin`.
async fn sign_in_as_admin(app: &Client, enrollment: &str, name: &str) {
    go(app, "settings").await;
    click(app, "admin-signin").await;
    type_into(app, "admin-enroll-input", enrollment).await;
    click(app, "admin-enroll-submit").await;
    wait_text(app, "admin-identity", |t| t.contains(name)).await;
    find(app, "nav-sites").await;
}

/// The value of a form field (a textarea's text is its value).
async fn value_of(app: &Client, test_id: &str) -> String {
    find(app, test_id)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_one_plain_sentence_at_each_step_and_fix_a_refused_record_through_its_form() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 12", "sync:write config:read");
    // The CLI shares the app's agent folder: it plays the site's systems feeding records.
    let feeder = Agent::new();
    let saves = tempfile::tempdir().unwrap();
    let (_driver, app) = start_app(&feeder.data_dir(), saves.path()).await;

    wait_text(&app, "status-sentence", |t| t.contains("not connected")).await;
    screenshot_both(&app, "staff-first-run").await;

    // Staff paste the enrollment string once; the card names the site and its tenant.
    go(&app, "settings").await;
    type_into(&app, "enroll-input", &enrollment_for(&site, &server.url)).await;
    click(&app, "enroll-submit").await;
    wait_text(&app, "site-card", |t| t.contains("Store 12")).await;
    click(&app, "check-connection").await;
    wait_text(&app, "connection-result", |t| !t.trim().is_empty()).await;
    assert!(
        all(&app, "nav-sites").await.is_empty(),
        "no admin screens without an admin credential"
    );

    // Records arrive: the sentence says they wait; Sync Now sends them.
    let rows = order_rows(0, 500);
    feeder.enqueue("orders", &rows);
    go(&app, "status").await;
    wait_text(&app, "queue-depth", |t| t.trim() == "500").await;
    wait_text(&app, "status-sentence", |t| {
        t.contains("500") && t.contains("waiting")
    })
    .await;
    click(&app, "sync-now").await;
    wait_text(&app, "status-sentence", |t| t.contains("All synced")).await;
    wait_text(&app, "status-result", |t| t.contains("Sent 500")).await;
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));
    screenshot_both(&app, "staff-status").await;

    // A record the server refuses: the sentence and the badge say one needs attention.
    feeder.enqueue(
        "orders",
        &[json!({"id": "o-big", "customer": "c-7", "note": "x".repeat(70_000)})],
    );
    click(&app, "sync-now").await;
    wait_text(&app, "status-sentence", |t| {
        t.contains("1 record needs your attention")
    })
    .await;
    wait_text(&app, "status-result", |t| t.contains("1 refused")).await;
    wait_text(&app, "nav-attention-badge", |t| t.trim() == "1").await;

    // Needs attention groups it by its reason, in plain words; the drawer has a field per property.
    go(&app, "attention").await;
    wait_any(&app, "attention-group", |t| t.contains("Note is 68 KB")).await;
    app.find(Locator::Css("[data-testid='attention-row']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let reason = text_of(&app, "attention-reason").await;
    assert!(
        reason.contains("Note is 68 KB; the limit is 64 KB"),
        "{reason}"
    );
    let drawer = text_of(&app, "attention-drawer").await;
    assert!(
        !drawer.contains("upsert") && !drawer.contains("-0000-"),
        "no operation words or versions for staff: {drawer}"
    );
    screenshot_both(&app, "staff-attention").await;
    type_into(&app, "attention-field-note", "short now").await;
    click(&app, "attention-fix").await;

    // Fixed and resent: all synced again, and the server holds the corrected record.
    go(&app, "status").await;
    wait_text(&app, "dead-letter-count", |t| t.trim() == "0").await;
    click(&app, "sync-now").await;
    wait_text(&app, "status-sentence", |t| t.contains("All synced")).await;
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
    assert_eq!(
        stored,
        vec![json!({"id": "o-big", "customer": "c-7", "note": "short now"})]
    );

    go(&app, "history").await;
    wait_any(&app, "history-row", |t| t.contains("1 refused")).await;
    screenshot_both(&app, "staff-history").await;
    go(&app, "settings").await;
    screenshot_both(&app, "staff-settings").await;

    // Pasting another site's string never silently re-enrolls the PC: it asks first.
    let other = register_site(&db, "Store 13", "sync:write config:read");
    click(&app, "change-site").await;
    type_into(&app, "enroll-input", &enrollment_for(&other, &server.url)).await;
    click(&app, "enroll-submit").await;
    find(&app, "confirm-yes").await;
    screenshot(&app, "staff-change-site").await;
    assert_eq!(feeder.status()["enrolled"]["client_id"], site.client_id);
    app.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_registers_a_site_changes_its_configuration_after_a_preview_and_revokes_it() {
    // Failed sign-ins are not throttled here before they make a burst (20 in 5 minutes).
    let (db, server) = sqlite_server(&[("KENDRIX_RATE_LIMITS__FAILED_AUTH_MAX", "100")]).await;
    let admin = register_site(&db, "Head office", ADMIN_SCOPES);
    // The tenant's first version, from the server's command line.
    set_config_number(&db, "sync.interval_seconds", "300");
    let console = Agent::new();
    let saves = tempfile::tempdir().unwrap();
    let (_driver, app) = start_app(&console.data_dir(), saves.path()).await;
    sign_in_as_admin(&app, &enrollment_for(&admin, &server.url), "Head office").await;

    // Register a site: its one-time string, with Copy and a QR code.
    go(&app, "sites").await;
    click(&app, "sites-register").await;
    type_into(&app, "register-name", "Store 12").await;
    click(&app, "register-submit").await;
    find(&app, "register-qr").await;
    let enrollment = value_of(&app, "register-enrollment").await;
    assert!(enrollment.starts_with("kendrix1:"), "{enrollment}");
    screenshot_both(&app, "admin-register").await;
    click(&app, "register-close").await;
    wait_any(&app, "sites-row", |t| {
        t.contains("Store 12") && t.contains("Never")
    })
    .await;

    // A real agent enrolls with that string and syncs: the fleet shows it as seen.
    let store = Agent::new();
    store.enroll(&enrollment);
    store.enqueue("orders", &order_rows(0, 20));
    store.ok(&["sync"]);
    for _ in 0..50 {
        // Away and back reads the fleet again (the screen itself does every 30 s).
        go(&app, "audit").await;
        go(&app, "sites").await;
        let rows = all(&app, "sites-row").await;
        let mut seen = false;
        for row in rows {
            let text = row.text().await.unwrap_or_default();
            seen |= text.contains("Store 12") && !text.contains("Never");
        }
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_any(&app, "sites-row", |t| {
        t.contains("Store 12") && !t.contains("Never")
    })
    .await;
    screenshot_both(&app, "admin-sites").await;

    let before = store.status()["config_version"].clone();
    // A configuration change: previewed (diff and App.config rendering) before it is published.
    go(&app, "config").await;
    type_into(&app, "config-key", "sync.batch_size").await;
    find(&app, "config-type")
        .await
        .select_by_value("number")
        .await
        .unwrap();
    type_into(&app, "config-value", "250").await;
    type_into(&app, "config-comment", "Smaller batches for the slow link").await;
    click(&app, "config-preview-button").await;
    wait_any(&app, "config-diff-row", |t| t.contains("sync.batch_size")).await;
    click(&app, "config-preview-xml").await;
    wait_text(&app, "config-preview", |t| {
        t.contains(r#"<add key="sync.batch_size" value="250" />"#)
    })
    .await;
    screenshot_both(&app, "admin-config-preview").await;
    click(&app, "config-publish").await;
    find(&app, "config-published").await;

    // The site runs an older configuration until it syncs; then it reports the new one.
    wait_any(&app, "config-drift-row", |t| t.contains("Store 12")).await;
    store.enqueue("orders", &order_rows(20, 5));
    store.ok(&["sync"]);
    assert_ne!(
        store.status()["config_version"],
        before,
        "the agent runs the version just published"
    );
    go(&app, "sites").await;
    go(&app, "config").await;
    find(&app, "config-drift-none").await;
    screenshot_both(&app, "admin-config").await;

    // Roll back to the version before, again through a preview and a comment.
    let rollbacks = all(&app, "config-rollback").await;
    rollbacks
        .last()
        .expect("an older version")
        .clone()
        .click()
        .await
        .unwrap();
    type_into(&app, "config-comment", "Back to the defaults").await;
    click(&app, "config-preview-button").await;
    wait_any(&app, "config-diff-row", |t| t.contains("sync.batch_size")).await;
    click(&app, "config-publish").await;
    find(&app, "config-published").await;
    wait_any(&app, "config-version-row", |t| {
        t.contains("Back to the defaults")
    })
    .await;

    // Someone tries 25 wrong secrets in Store 12's name; the next detection pass (here the
    // operator's `alerts scan`) opens an alert, and the Alerts screen shows it.
    let store12 = kendrix_core::enrollment::Enrollment::decode(&enrollment)
        .unwrap()
        .client_id;
    let http = reqwest::Client::new();
    for _ in 0..25 {
        http.post(format!("{}/oauth/token", server.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", store12.as_str()),
                ("client_secret", "kxs_wrong"),
            ])
            .send()
            .await
            .unwrap();
    }
    let scanned = server_cli(&db.url, &["alerts", "scan"]);
    // (The server's own pass, a minute apart, may have opened it a moment before.)
    assert!(scanned.contains("site(s) checked"), "{scanned}");
    go(&app, "alerts").await;
    wait_any(&app, "alert-row", |t| {
        t.contains("Store 12") && t.contains("Failed sign-ins")
    })
    .await;
    screenshot_both(&app, "admin-alerts").await;

    // The site's page; revoking it turns its row revoked.
    go(&app, "sites").await;
    app.find(Locator::LinkText("Store 12"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    find(&app, "screen-site").await;
    wait_any(&app, "site-batch-row", |t| !t.is_empty()).await;
    screenshot_both(&app, "admin-site").await;
    click(&app, "site-revoke").await;
    click(&app, "confirm-yes").await;
    wait_text(&app, "site-status", |t| t.contains("Revoked")).await;
    go(&app, "sites").await;
    wait_any(&app, "sites-row", |t| {
        t.contains("Store 12") && t.contains("Revoked")
    })
    .await;
    let refused = store.run(&["sync"]);
    assert!(!refused.status.success(), "a revoked site cannot sync");

    go(&app, "stats").await;
    find(&app, "stats-window").await;
    wait_any(&app, "sync-window-row", |t| t.contains("Store 12")).await;
    // The series is drawn: a canvas with pixels on it.
    let drawn = app
        .execute(
            "const c = document.querySelector('[data-testid=stats-chart] canvas'); \
             if (!c || !c.width) return 0; \
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        drawn.as_u64().unwrap_or(0) > 100,
        "the chart drew nothing: {drawn}"
    );
    screenshot_both(&app, "admin-stats").await;
    app.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_exports_the_audit_log_to_the_file_picked_in_the_save_dialog() {
    let audit_key = kendrix_core::checkpoint::AuditSigningKey::seed_base64([7; 32]);
    let (db, server) = sqlite_server(&[("KENDRIX_AUDIT_SIGNING_KEY", &audit_key)]).await;
    let admin = register_site(&db, "Head office", ADMIN_SCOPES);
    let site = register_site(&db, "Store 12", "sync:write config:read");
    let store = Agent::new();
    store.enroll(&enrollment_for(&site, &server.url));
    store.enqueue("orders", &order_rows(0, 30));
    store.ok(&["sync"]);

    let console = Agent::new();
    let saves = tempfile::tempdir().unwrap();
    let (_driver, app) = start_app(&console.data_dir(), saves.path()).await;
    sign_in_as_admin(&app, &enrollment_for(&admin, &server.url), "Head office").await;

    // One-line rows with readable names, the chain badge, and a detail drawer.
    go(&app, "audit").await;
    wait_text(&app, "audit-chain", |t| t.contains("verified")).await;
    wait_any(&app, "audit-row", |t| t.contains("Store 12")).await;
    // A row opens when clicked (WebKit's driver clicks cells, not rows).
    app.find(Locator::Css("[data-testid='audit-row'] td:nth-child(2)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    find(&app, "audit-drawer").await;
    screenshot_both(&app, "admin-audit").await;
    app.find(Locator::Css("[data-testid='drawer-close']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Export: the Rust side streams the server's CSV into the file the dialog answered.
    find(&app, "audit-export-format")
        .await
        .select_by_value("csv")
        .await
        .unwrap();
    click(&app, "audit-export").await;
    let saved = wait_text(&app, "audit-export-result", |t| t.contains("Saved to")).await;
    let files: Vec<_> = std::fs::read_dir(saves.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let path = &files[0];
    assert!(saved.contains(&path.display().to_string()), "{saved}");
    assert_eq!(path.extension().unwrap(), "csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(
        header.contains(&"event") && header.contains(&"seq"),
        "{header:?}"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter().any(|r| r.contains("sync.batch.applied")),
        "the batch is in the export"
    );
    assert!(
        !text.contains(&site.client_secret) && !text.contains(&admin.client_secret),
        "no secret in the export"
    );
    std::fs::remove_file(path).unwrap();

    // The compliance report of the last 7 days: the page where the dialog answered, the
    // signed evidence beside it.
    find(&app, "audit-report-period")
        .await
        .select_by_value("7")
        .await
        .unwrap();
    click(&app, "audit-report").await;
    let saved = wait_text(&app, "audit-report-result", |t| t.contains("Saved to")).await;
    assert!(saved.contains("signed evidence beside it"), "{saved}");
    let mut files: Vec<String> = std::fs::read_dir(saves.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].starts_with("evidence-") && files[0].ends_with(".json"),
        "{files:?}"
    );
    assert!(
        files[1].starts_with("report-") && files[1].ends_with(".html"),
        "{files:?}"
    );
    let page = std::fs::read_to_string(saves.path().join(&files[1])).unwrap();
    assert!(page.contains("Compliance report: Acme"));
    assert!(page.contains("Store 12"), "the site's sign-ins");
    let evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(saves.path().join(&files[0])).unwrap())
            .unwrap();
    assert_eq!(evidence["evidence"]["chain"]["ok"], true);
    screenshot_both(&app, "admin-audit-report").await;
    app.close().await.unwrap();
}
