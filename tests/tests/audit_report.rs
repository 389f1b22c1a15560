//! Stories of the compliance report: an operator writes a tenant's report for a period — a
//! printable page with its sections and an evidence file signed with the audit key — whose
//! figures match what happened; an auditor checks the evidence offline with the public key,
//! and against the database; a figure changed in the evidence is named. An admin gets the
//! same report through the API (the admin console's "Compliance report"). On both backends.

use std::process::Command;
use std::sync::Arc;

use kendrix_core::checkpoint::AuditSigningKey;
use kendrix_core::SystemClock;
use kendrix_server::services::audit_log::report_html::SECTIONS;
use kendrix_tests::{binary, on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    a_tenants_report_matches_what_happened_and_its_evidence_checks_out,
    an_admin_gets_the_report_from_the_console_and_it_checks_out_offline,
);

const SEED: [u8; 32] = [31; 32];

/// `kendrix-server <args>` on the story's database with the audit key; (exit code, output).
fn server_command(db_url: Option<&str>, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(binary("kendrix-server"));
    command
        .args(args)
        .env(
            "KENDRIX_AUDIT_SIGNING_KEY",
            AuditSigningKey::seed_base64(SEED),
        )
        .env_remove("KENDRIX_DATABASE_URL");
    if let Some(url) = db_url {
        command.env("KENDRIX_DATABASE_URL", url);
    }
    let out = command.output().expect("run kendrix-server");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn a_tenants_report_matches_what_happened_and_its_evidence_checks_out(backend: Backend) {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("audit-keys");
    std::fs::write(&key_file, AuditSigningKey::seed_base64(SEED)).unwrap();
    let server = TestServer::start_with(
        backend,
        |s| s.audit_signing_key_file = Some(key_file),
        Arc::new(SystemClock),
    )
    .await;
    let since = kendrix_core::Clock::now_ms(&SystemClock) - 1_000;
    // What happens in the period: the operator registers a site and an admin; the admin
    // registers another site and changes the configuration; sign-ins succeed and fail.
    let tenant = server.tenant("Acme").await;
    let store1 = server.register(tenant, "Store 1", "sync:write").await;
    let admin = server
        .register(
            tenant,
            "HQ: Maria",
            "clients:admin config:read config:write audit:read",
        )
        .await;
    let admin_token = server.access_token(&admin).await;
    let registered = server
        .http
        .post(server.endpoint("/admin/sites"))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "Store 2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let changed = server
        .http
        .put(server.endpoint("/config/entries"))
        .bearer_auth(&admin_token)
        .json(
            &json!({"scope": "tenant", "key": "sync.batch_size", "value": 500,
                      "comment": "Smaller batches for the slow link"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    for _ in 0..2 {
        server.access_token(&store1).await;
    }
    for _ in 0..3 {
        server
            .token_request(
                &store1.client_id,
                "kxs_wrong",
                &[("grant_type", "client_credentials")],
            )
            .await;
    }
    server.app.audit_log.checkpoint().await.unwrap().unwrap();
    let until = kendrix_core::Clock::now_ms(&SystemClock) + 1_000;

    // The operator writes the report.
    let out = tempfile::tempdir().unwrap();
    let (code, said) = server_command(
        Some(&server.db.url),
        &[
            "audit",
            "report",
            "--tenant-id",
            &tenant.to_string(),
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{said}");
    let files: Vec<String> = said.lines().map(str::to_owned).collect();
    let (html_file, evidence_file) = (&files[0], &files[1]);
    assert!(
        html_file.ends_with(".html") && evidence_file.ends_with(".json"),
        "{said}"
    );

    // The page has its table of contents and every section.
    let html = std::fs::read_to_string(html_file).unwrap();
    assert!(html.contains("Compliance report: Acme"));
    for (anchor, title) in SECTIONS {
        assert!(
            html.contains(&format!("href=\"#{anchor}\"")),
            "contents: {anchor}"
        );
        assert!(
            html.contains(&format!("<h2 id=\"{anchor}\">{title}</h2>")),
            "{title}"
        );
    }
    assert!(html.contains("HQ: Maria (admin)"), "who registered Store 2");
    assert!(html.contains("Smaller batches for the slow link"));
    assert!(
        html.contains(&format!("HQ: Maria ({})", admin.client_id)),
        "the change's author by name"
    );
    assert!(html.contains("The audit chain verifies"));
    assert!(!html.contains("<script"), "self-contained, nothing to run");

    // The figures match what happened.
    let evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(evidence_file).unwrap()).unwrap();
    let figures = &evidence["evidence"]["figures"];
    let signed_in = &figures["sign_ins"][store1.client_id.as_str()];
    assert_eq!(signed_in["succeeded"], 2);
    assert_eq!(signed_in["failed"], 3);
    assert_eq!(figures["tokens_issued"], 3, "Store 1's two and the admin's");
    let changes = figures["site_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[2]["by"], "HQ: Maria (admin)");
    assert_eq!(
        figures["config_changes"][0]["author"],
        admin.client_id.as_str(),
        "as the audit entry has it (the page shows the name)"
    );
    assert!(!evidence["evidence"]["chain"]["checkpoints"]
        .as_array()
        .unwrap()
        .is_empty());

    // An auditor checks it offline with the public key, and against the database.
    let public = AuditSigningKey::from_seed(SEED).public().public_key;
    let offline = server_command(
        None,
        &[
            "audit",
            "verify-report",
            evidence_file,
            "--public-key",
            &public,
        ],
    );
    assert_eq!(offline.0, 0, "{}", offline.1);
    assert!(offline.1.contains("evidence verified"), "{}", offline.1);
    let against_db = server_command(
        Some(&server.db.url),
        &["audit", "verify-report", evidence_file],
    );
    assert_eq!(against_db.0, 0, "{}", against_db.1);
    assert!(
        against_db.1.contains("figures match the database"),
        "{}",
        against_db.1
    );

    // A figure changed in the evidence is named.
    let mut forged = evidence.clone();
    forged["evidence"]["figures"]["tokens_issued"] = json!(2);
    let forged_file = out.path().join("forged.json");
    std::fs::write(&forged_file, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    let refused = server_command(
        None,
        &[
            "audit",
            "verify-report",
            forged_file.to_str().unwrap(),
            "--public-key",
            &public,
        ],
    );
    assert_ne!(refused.0, 0);
    assert!(
        refused.1.contains("signature does not match"),
        "{}",
        refused.1
    );
}

async fn an_admin_gets_the_report_from_the_console_and_it_checks_out_offline(backend: Backend) {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("audit-keys");
    std::fs::write(&key_file, AuditSigningKey::seed_base64(SEED)).unwrap();
    let server = TestServer::start_with(
        backend,
        |s| s.audit_signing_key_file = Some(key_file),
        Arc::new(SystemClock),
    )
    .await;
    let tenant = server.tenant("Acme").await;
    let site = server.register(tenant, "Store 1", "sync:write").await;
    let admin = server
        .register(tenant, "HQ: Maria", "clients:admin audit:read")
        .await;
    server.access_token(&site).await;
    let token = server.access_token(&admin).await;

    // A period that ends before it starts is refused by name.
    let backwards = server
        .get_as(&token, "/audit/report?since=2000&until=1000")
        .await;
    assert_eq!(backwards.status(), 400);
    assert!(backwards.text().await.unwrap().contains("since"));

    // The last 30 days by default: the page and the signed evidence, as the CLI writes them.
    let response = server.get_as(&token, "/audit/report").await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    let period = report["period"].as_str().unwrap();
    assert_eq!(period.len(), "2026-11-06_2026-12-06".len(), "{period}");
    let html = report["html"].as_str().unwrap();
    assert!(html.contains("Compliance report: Acme"));
    for (anchor, title) in SECTIONS {
        assert!(
            html.contains(&format!("<h2 id=\"{anchor}\">{title}</h2>")),
            "{title}"
        );
    }
    let figures = &report["evidence"]["evidence"]["figures"];
    assert_eq!(figures["sign_ins"][site.client_id.as_str()]["succeeded"], 1);
    assert_eq!(figures["tenant_id"], tenant);

    // Saved as the console saves it, the evidence verifies offline with the public key.
    let dir = tempfile::tempdir().unwrap();
    let evidence_file = dir.path().join(format!("evidence-{period}.json"));
    std::fs::write(
        &evidence_file,
        serde_json::to_vec_pretty(&report["evidence"]).unwrap(),
    )
    .unwrap();
    let public = AuditSigningKey::from_seed(SEED).public().public_key;
    let (code, said) = server_command(
        None,
        &[
            "audit",
            "verify-report",
            evidence_file.to_str().unwrap(),
            "--public-key",
            &public,
        ],
    );
    assert_eq!(code, 0, "{said}");

    // Making it is audited, as an export of the tenant's audit log.
    let exported = server
        .get_as(&token, "/audit/logs?event=audit.exported")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let entry = &exported["entries"][0];
    assert_eq!(entry["client_id"], admin.client_id.as_str());
    assert_eq!(entry["details"]["format"], "report");

    // A server without an audit key says why it cannot sign one.
    let unsigned = TestServer::start(backend).await;
    let tenant = unsigned.tenant("Acme").await;
    let admin = unsigned
        .register(tenant, "HQ: Maria", "clients:admin audit:read")
        .await;
    let token = unsigned.access_token(&admin).await;
    let refused = unsigned.get_as(&token, "/audit/report").await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("no audit signing key"));
}
