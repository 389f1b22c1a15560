//! Stories about real `kendrix-server` processes: two instances sharing one PostgreSQL, the
//! command line an admin uses, and secrets that must never reach a log or the audit log.

use kendrix_tests::{first_broken_link, server_cli, Backend, ServerProcess, TestDb};
use serde_json::Value;

struct Site {
    client_id: String,
    secret: String,
    enrollment: String,
}

fn register(db: &TestDb, tenant: &str, scopes: &str) -> Site {
    let tenant: Value = serde_json::from_str(&server_cli(
        &db.url,
        &["tenant", "create", "--name", tenant, "--json"],
    ))
    .unwrap();
    let tenant_id = tenant["id"].to_string();
    let out = server_cli(
        &db.url,
        &[
            "client",
            "register",
            "--name",
            "Site 12",
            "--tenant-id",
            &tenant_id,
            "--scopes",
            scopes,
            "--json",
        ],
    );
    let reg: Value = serde_json::from_str(&out).unwrap();
    Site {
        client_id: reg["client_id"].as_str().unwrap().into(),
        secret: reg["client_secret"].as_str().unwrap().into(),
        enrollment: reg["enrollment"].as_str().unwrap().into(),
    }
}

async fn token(http: &reqwest::Client, base: &str, site: &Site) -> reqwest::Response {
    http.post(format!("{base}/oauth/token"))
        .basic_auth(&site.client_id, Some(&site.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn access_token(http: &reqwest::Client, base: &str, site: &Site) -> String {
    let body: Value = token(http, base, site).await.json().await.unwrap();
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

async fn versions_status(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/sync/versions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Rate windows are aligned minutes; a sequence that must fit in one waits for a fresh one
/// when fewer than five seconds of the current minute are left.
async fn wait_unless_a_minute_has_five_seconds_left() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let into_minute = now % 60_000;
    if into_minute > 55_000 {
        tokio::time::sleep(std::time::Duration::from_millis(60_000 - into_minute + 100)).await;
    }
}

#[tokio::test]
async fn postgres_two_instances_share_revocation_rate_limits_and_one_audit_chain() {
    let db = TestDb::new(Backend::Postgres).await;
    server_cli(&db.url, &["migrate"]);
    let site = register(&db, "Acme", "sync:write");
    let limits = [("KENDRIX_RATE_LIMITS__TOKEN_PER_CLIENT_PER_MINUTE", "6")];
    let a = ServerProcess::start(&db.url, &limits);
    let b = ServerProcess::start(&db.url, &limits);
    let http = reqwest::Client::new();

    // A token revoked through instance A is refused by instance B on its next request.
    let t1 = access_token(&http, &a.url, &site).await;
    assert_eq!(versions_status(&http, &b.url, &t1).await, 200);
    let revoke = http
        .post(format!("{}/oauth/revoke", a.url))
        .basic_auth(&site.client_id, Some(&site.secret))
        .form(&[("token", t1.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    assert_eq!(versions_status(&http, &b.url, &t1).await, 401);

    // The per-client limit of 6 a minute counts requests to both instances: the token and
    // the revocation above used 2, so 4 more pass, alternating instances, and then no more.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let base = if i % 2 == 0 { &b.url } else { &a.url };
        statuses.push(token(&http, base, &site).await.status().as_u16());
    }
    let minute_turned_over = statuses[4..].contains(&200);
    assert!(
        statuses == [200, 200, 200, 200, 429, 429] || minute_turned_over,
        "{statuses:?}"
    );

    // API limits are shared too, once each instance has flushed its counts (every 100 ms).
    let site_api = register(&db, "Initech", "sync:write");
    let a2 = ServerProcess::start(
        &db.url,
        &[("KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE", "4")],
    );
    let b2 = ServerProcess::start(
        &db.url,
        &[("KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE", "4")],
    );
    let api_token = access_token(&http, &a2.url, &site_api).await;
    wait_unless_a_minute_has_five_seconds_left().await;
    let mut statuses = Vec::new();
    for base in [&a2.url, &a2.url, &b2.url, &b2.url, &a2.url] {
        statuses.push(versions_status(&http, base, &api_token).await);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    a2.stop();
    b2.stop();

    // A client revoked by the admin is refused by both instances.
    let out = server_cli(&db.url, &["client", "revoke", &site.client_id]);
    assert!(out.contains("revoked"), "{out}");
    for base in [&a.url, &b.url] {
        let response = token(&http, base, &site).await;
        assert!(matches!(response.status().as_u16(), 401 | 429));
    }

    a.stop();
    b.stop();

    // Concurrent writes through two instances (default limits) leave one unbroken audit chain.
    let a = ServerProcess::start(&db.url, &[]);
    let b = ServerProcess::start(&db.url, &[]);
    let other = register(&db, "Globex", "sync:write");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let base = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let (id, secret) = (other.client_id.clone(), other.secret.clone());
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let store = db.store().await;
    let entries = store.audit_entries(0, 100_000).await.unwrap();
    assert!(entries.len() > 40);
    assert_eq!(first_broken_link(&entries), None, "no fork in the chain");
    a.stop();
    b.stop();
}

#[tokio::test]
async fn sqlite_no_secret_or_token_reaches_the_debug_log_or_the_audit_log() {
    secrets_stay_secret(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_no_secret_or_token_reaches_the_debug_log_or_the_audit_log() {
    secrets_stay_secret(Backend::Postgres).await;
}

async fn secrets_stay_secret(backend: Backend) {
    let db = TestDb::new(backend).await;
    server_cli(&db.url, &["migrate"]);
    let site = register(&db, "Acme", "sync:write stats:read");
    let server = ServerProcess::start(
        &db.url,
        &[("RUST_LOG", "debug"), ("KENDRIX_REFRESH_TOKENS", "true")],
    );
    let http = reqwest::Client::new();
    let base = &server.url;
    let mut secrets = vec![site.secret.clone()];

    let first: Value = token(&http, base, &site).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    secrets.extend([access.clone(), refresh.clone()]);
    let rotated: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", site.client_id.as_str()),
            ("client_secret", site.secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(rotated["access_token"].as_str().unwrap().into());
    secrets.push(rotated["refresh_token"].as_str().unwrap().into());
    // Reuse, wrong secrets, bad bearer tokens, introspection and revocation: every path that logs.
    let _ = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&site.client_id, Some(&site.secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let wrong = format!("{}x", site.secret);
    secrets.push(wrong.clone());
    let _ = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&site.client_id, Some(&wrong))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let fresh = access_token(&http, base, &site).await;
    secrets.push(fresh.clone());
    assert_eq!(versions_status(&http, base, &fresh).await, 200);
    let _ = http
        .get(format!("{base}/auth/stats"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    for endpoint in ["introspect", "revoke"] {
        let _ = http
            .post(format!("{base}/oauth/{endpoint}"))
            .basic_auth(&site.client_id, Some(&site.secret))
            .form(&[("token", fresh.as_str())])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(versions_status(&http, base, &fresh).await, 401);

    let log = server.stop();
    assert!(log.contains("DEBUG"), "the server logged at debug level");
    let store = db.store().await;
    let audit = serde_json::to_string(
        &store
            .audit_entries(0, 100_000)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {} {:?} {:?} {:?}",
                    e.event, e.details, e.client_id, e.request_id, e.source
                )
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(audit.contains("token.refresh_reuse") && audit.contains("auth.client.failure"));
    for secret in &secrets {
        // The random part of each credential, so a prefix-stripped leak is caught too.
        let needle = &secret[4..];
        assert!(!log.contains(needle), "a secret appeared in the server log");
        assert!(
            !audit.contains(needle),
            "a secret appeared in the audit log"
        );
    }
    // And the enrollment string (which embeds the secret) is not in the log either.
    assert!(!log.contains(&site.enrollment[9..40]));
}

#[test]
fn sqlite_admin_registers_lists_and_revokes_clients_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    let created = server_cli(&url, &["tenant", "create", "--name", "Acme"]);
    assert!(created.contains("id 1"), "{created}");
    let text = server_cli(
        &url,
        &[
            "client",
            "register",
            "--name",
            "Site 12",
            "--tenant-id",
            "1",
        ],
    );
    assert!(text.contains("client_secret: kxs_") && text.contains("enrollment:    kendrix1:"));
    let client_id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("client_id:"))
        .unwrap()
        .trim()
        .to_owned();
    let listed = server_cli(&url, &["client", "list"]);
    assert!(listed.contains(&client_id) && listed.contains("active") && !listed.contains("kxs_"));
    server_cli(&url, &["client", "revoke", &client_id]);
    assert!(server_cli(&url, &["client", "list"]).contains("revoked"));

    // Bad input: a clear error and no change.
    let output = std::process::Command::new(kendrix_tests::binary("kendrix-server"))
        .args(["client", "register", "--name", "X", "--tenant-id", "99"])
        .env("KENDRIX_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tenant") && stderr.contains("does not exist"),
        "{stderr}"
    );
    let bad_scope = std::process::Command::new(kendrix_tests::binary("kendrix-server"))
        .args([
            "client",
            "register",
            "--name",
            "X",
            "--tenant-id",
            "1",
            "--scopes",
            "root",
        ])
        .env("KENDRIX_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("unknown scope \"root\""));
    assert_eq!(
        server_cli(&url, &["client", "list", "--json"])
            .matches("client_id")
            .count(),
        1
    );
}

#[tokio::test]
async fn postgres_health_answers_503_when_the_database_is_gone() {
    use sqlx::Connection;
    let db = TestDb::new(Backend::Postgres).await;
    server_cli(&db.url, &["migrate"]);
    let server = ServerProcess::start(&db.url, &[]);
    let http = reqwest::Client::new();
    let healthy = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);

    let admin = std::env::var("KENDRIX_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();

    let sick = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sick.status(), 503);
    let body: Value = sick.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["reachable"], false);
}

/// Runs `kendrix-server` with extra environment; returns (success, stdout, stderr).
fn server_cli_env(
    database_url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(kendrix_tests::binary("kendrix-server"));
    cmd.args(args)
        .env("KENDRIX_DATABASE_URL", database_url)
        .env_remove("KENDRIX_MASTER_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn sqlite_secrets_need_their_master_key_and_survive_a_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    let old_key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let new_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    server_cli(&url, &["tenant", "create", "--name", "Acme"]);
    let reg: Value = serde_json::from_str(&server_cli(
        &url,
        &[
            "client",
            "register",
            "--name",
            "S",
            "--tenant-id",
            "1",
            "--json",
        ],
    ))
    .unwrap();
    let client = reg["client_id"].as_str().unwrap();

    // Without a key, a secret cannot be set.
    let (ok, _, err) = server_cli_env(
        &url,
        &[
            "config",
            "set",
            "db.password",
            "hunter2",
            "--secret",
            "--reveal",
            "--tenant-id",
            "1",
        ],
        &[],
    );
    assert!(!ok && err.contains("master key"), "{err}");
    let (ok, _, err) = server_cli_env(
        &url,
        &[
            "config",
            "set",
            "db.password",
            "hunter2",
            "--secret",
            "--reveal",
            "--tenant-id",
            "1",
        ],
        &[("KENDRIX_MASTER_KEY", old_key)],
    );
    assert!(ok, "{err}");
    let raw = std::fs::read(dir.path().join("k.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("hunter2"),
        "sealed at rest"
    );

    // A server without the key refuses to start, and says why.
    let (ok, _, err) = server_cli_env(&url, &["serve", "--bind", "127.0.0.1:0"], &[]);
    assert!(
        !ok && err.contains("no configured master key can open"),
        "{err}"
    );

    // A server runs with the old key (from a key file) while the key is rotated.
    let key_file = dir.path().join("keys");
    std::fs::write(&key_file, format!("{old_key}\n")).unwrap();
    let keys = [("KENDRIX_MASTER_KEY_FILE", key_file.to_str().unwrap())];
    let running = ServerProcess::start(&url, &keys);
    let http = reqwest::Client::new();
    let token = access_token(
        &http,
        &running.url,
        &Site {
            client_id: client.to_owned(),
            secret: reg["client_secret"].as_str().unwrap().to_owned(),
            enrollment: String::new(),
        },
    )
    .await;
    let read = |http: reqwest::Client, base: String, token: String| async move {
        http.get(format!("{base}/config"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(
        read(http.clone(), running.url.clone(), token.clone()).await["db.password"],
        "hunter2"
    );

    // Rotation: the new key first, the old one kept until every value is re-sealed.
    std::fs::write(&key_file, format!("{new_key}\n{old_key}\n")).unwrap();
    let (ok, out, err) = server_cli_env(&url, &["config", "rotate-key"], &keys);
    assert!(
        ok && out.contains("1 secret value(s) re-sealed"),
        "{out}{err}"
    );
    std::fs::write(&key_file, format!("{new_key}\n")).unwrap();
    let (ok, out, err) = server_cli_env(
        &url,
        &["config", "get", "--tenant-id", "1", "--client", client],
        &keys,
    );
    assert!(
        ok && out.contains("hunter2"),
        "the new key alone opens it: {out}{err}"
    );
    let (ok, _, err) = server_cli_env(
        &url,
        &["config", "get", "--tenant-id", "1", "--client", client],
        &[("KENDRIX_MASTER_KEY", old_key)],
    );
    assert!(!ok && err.contains("no master key with id"), "{err}");
}
