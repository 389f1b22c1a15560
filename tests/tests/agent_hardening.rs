//! Stories of a site's agent under hostile or careless conditions: a server with a small body
//! limit (batches split, an oversized record kept as a dead letter), a configuration with a
//! revealed secret (never written to the agent's files), an enrollment string given on stdin
//! with a trailing slash (kept across restarts, never on the command line). The real
//! `kendrix` binary, a real server process, the session's real keychain.

use kendrix_tests::agent::{
    enrollment_for, exit_code, order_rows, output_text, register_site, server_applied,
    server_checksum, source_checksum, sqlite_server, Agent,
};
use kendrix_tests::{binary, TEST_MASTER_KEY};
use serde_json::Value;

/// A server (or the proxy before it) that takes at most 32 KiB in one request: the agent's
/// batches of 1000 records are split until they fit, and the one record that can never fit
/// becomes a dead letter saying so. Before, the 413 put the records back and the same batch
/// was formed again at every run, forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_too_large_for_the_server_are_split_and_a_record_too_large_is_a_dead_letter() {
    let (db, server) = sqlite_server(&[("KENDRIX_SYNC__MAX_BATCH_BYTES", "32768")]).await;
    let site = register_site(&db, "Store 41", "sync:write config:read");
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    let mut rows = order_rows(0, 600);
    // Within the server's 64 KiB for one record's data, beyond its 32 KiB for a request.
    rows[300]["note"] = Value::from("x".repeat(40_000));
    agent.enqueue("orders", &rows);

    let out = agent.run(&["sync"]);
    assert_eq!(
        exit_code(&out),
        2,
        "one record refused: {}",
        output_text(&out)
    );
    let letters: Value =
        serde_json::from_str(&agent.ok(&["dead-letters", "list", "--json"])).unwrap();
    assert_eq!(letters.as_array().unwrap().len(), 1, "{letters}");
    assert_eq!(letters[0]["record_id"], "o000300");
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("too large to send") && reason.contains("413"),
        "{reason}"
    );
    assert_eq!(
        agent.status()["queue_depth"],
        0,
        "nothing waits to be sent again"
    );
    let arrived: Vec<Value> = rows
        .iter()
        .filter(|r| r["id"] != "o000300")
        .cloned()
        .collect();
    assert_eq!(
        server_checksum(&db, "orders").await,
        source_checksum(&arrived)
    );
    assert_eq!(server_applied(&db).await, 599);

    // The next run sends nothing again: the queue is empty, the dead letter waits for staff.
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 2, "{}", output_text(&out));
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(history[0]["batches"], 0, "{history}");
}

/// Runs `kendrix-server` with the test master key (secret values need one).
fn server_cli_with_key(db_url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(binary("kendrix-server"))
        .args(args)
        .env("KENDRIX_DATABASE_URL", db_url)
        .env("KENDRIX_MASTER_KEY", TEST_MASTER_KEY)
        .output()
        .expect("run kendrix-server");
    assert!(
        out.status.success(),
        "kendrix-server {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An admin lets the site read a database password in clear. The agent fetches it with its
/// configuration, yet the password's bytes are in none of its files — the database and its
/// WAL included (before, the whole configuration was cached in `agent.db`) — and the
/// agent's folder is 0700, its database files 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revealed_secret_never_reaches_the_agents_files_and_they_are_private() {
    let secret = "Pa55-for-the-branch-db-7c1e9f";
    let (db, server) = sqlite_server(&[("KENDRIX_MASTER_KEY", TEST_MASTER_KEY)]).await;
    let site = register_site(&db, "Store 42", "sync:write config:read");
    server_cli_with_key(
        &db.url,
        &[
            "config",
            "set",
            "db.password",
            secret,
            "--secret",
            "--reveal",
            "--tenant-id",
            "1",
        ],
    );
    server_cli_with_key(
        &db.url,
        &[
            "config",
            "set",
            "sync.batch_size",
            "7",
            "--type",
            "number",
            "--tenant-id",
            "1",
        ],
    );
    let agent = Agent::new();
    agent.enroll(&enrollment_for(&site, &server.url));
    let rows = order_rows(0, 20);
    agent.enqueue("orders", &rows);
    agent.ok(&["sync"]);
    let history: Value = serde_json::from_str(&agent.ok(&["history", "--json"])).unwrap();
    assert_eq!(
        history[0]["batches"], 3,
        "the configuration was fetched and applies"
    );
    assert!(
        !server.log_text().contains(secret),
        "nor does the server's log"
    );

    agent.assert_no_file_holds(&[secret]);
    #[cfg(unix)]
    {
        let data = agent.data_dir();
        assert_eq!(mode(&data), 0o700, "the agent's folder");
        assert_eq!(mode(&data.join("agent.db")), 0o600, "agent.db");
        // (SQLite removes the -wal and -shm when the last process closes the database; while
        // open they have its mode — crates/engine/tests/secrets_at_rest.rs checks that.)
        for file in ["agent.db-wal", "agent.db-shm"] {
            let path = data.join(file);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{file}");
            }
        }
    }
}

/// Staff paste the string on stdin (`kendrix enroll -`), so it never shows in `ps`; the URL
/// in it ends with a slash. Every later command — each one a new process — still finds the
/// secret (before, the keychain entry was named after the URL as pasted and the enrollment
/// after it without the slash: the next start found no secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrollment_on_stdin_with_a_trailing_slash_keeps_working_after_a_restart() {
    let (db, server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 43", "sync:write config:read");
    let agent = Agent::new();
    let string = enrollment_for(&site, &format!("{}/", server.url));
    let out = agent.run_with_stdin(&["enroll", "-"], &format!("{string}\n"));
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(agent.status()["enrolled"]["server"], server.url.as_str());

    let rows = order_rows(0, 5);
    agent.enqueue("orders", &rows);
    let out = agent.run(&["sync"]);
    assert_eq!(exit_code(&out), 0, "{}", output_text(&out));
    assert_eq!(server_checksum(&db, "orders").await, source_checksum(&rows));

    let help = agent.ok(&["enroll", "--help"]);
    assert!(
        help.contains("kendrix enroll -") && help.contains("ps"),
        "{help}"
    );
}

/// An enrollment string naming a server on another machine over plain http:// is refused
/// before anything is sent or kept, saying to use https://.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_machine_is_refused_with_a_clear_message() {
    let (db, _server) = sqlite_server(&[]).await;
    let site = register_site(&db, "Store 44", "sync:write config:read");
    let agent = Agent::new();
    let string = enrollment_for(&site, "http://sync.example.com:8080");
    for args in [vec!["enroll", "-"], vec!["admin", "enroll", "-"]] {
        let out = agent.run_with_stdin(&args, &string);
        assert_eq!(exit_code(&out), 1, "{}", output_text(&out));
        assert!(
            output_text(&out).contains("is not encrypted (http://)")
                && output_text(&out).contains("https://"),
            "{}",
            output_text(&out)
        );
    }
    let out = agent.run_with_stdin(
        &[
            "enroll",
            "--server",
            "http://10.1.2.3:8080",
            "--client-id",
            &site.client_id,
        ],
        &site.client_secret,
    );
    assert_eq!(exit_code(&out), 1, "{}", output_text(&out));
    assert!(
        output_text(&out).contains("https://"),
        "{}",
        output_text(&out)
    );
    assert_eq!(agent.status()["enrolled"], Value::Null);
}
