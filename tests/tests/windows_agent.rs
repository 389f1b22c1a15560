//! Stories of a Windows site: the real `kendrix.exe` (x86_64-pc-windows-gnu, built by
//! `scripts/windows.sh`) run under Wine, each agent in a Wine prefix of its own — its own
//! Credential Manager and `%LOCALAPPDATA%` — against a real Linux server on 127.0.0.1.

use kendrix_tests::agent::{
    enrollment_for, exit_code, output_text, register_site, server_checksum, source_checksum,
    sqlite_server, Agent,
};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_site_enrolls_with_its_secret_in_credential_manager_and_syncs_a_csv_file() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 12", "sync:write config:read");
    let agent = Agent::under_wine();
    // The enrollment string on stdin, so it never shows in the process list.
    let enrolled = agent.run_with_stdin(&["enroll", "-"], &enrollment_for(&site, &server.url));
    assert_eq!(exit_code(&enrolled), 0, "{}", output_text(&enrolled));

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
