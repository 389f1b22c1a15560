//! Test support: real servers on `127.0.0.1:0` (in-process or as `kendrix-server`
//! processes), a fresh SQLite file or PostgreSQL database per test, and helpers that act the
//! way an admin or a site would.
//!
//! PostgreSQL: `KENDRIX_TEST_PG_URL` names an admin connection (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates its own database from it
//! and drops it when done.

pub mod agent;
pub mod desktop;
pub mod keychain;
pub mod storm;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use kendrix_core::SystemClock;
use kendrix_core::{Clock, ScopeSet};
use kendrix_server::services::sites::{Registration, Sites};
use kendrix_server::settings::RateLimits;
use kendrix_server::{App, RequestContext, Settings};
use kendrix_store::Store;
use sqlx::Connection;

/// The two storage backends every story runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each story function, so the test output
/// names the backend: `sqlite::story` and `postgres::story`.
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story($crate::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story($crate::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Polls `work` `steps` times, letting the database's own threads answer in between, then
/// drops it: as axum drops a handler whose client hung up, or an app quits mid-write.
pub async fn abandon_after_steps(work: impl std::future::Future, steps: usize) {
    let mut work = std::pin::pin!(work);
    for _ in 0..steps {
        let done =
            std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx).is_ready()))
                .await;
        if done {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

fn pg_admin_url() -> String {
    std::env::var("KENDRIX_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test: a SQLite file in a temp dir, or a PostgreSQL
/// database created now and dropped on drop.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("kendrix.db").display());
                Self {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "kxtest_{}_{}_{}",
                    std::process::id(),
                    DB_COUNTER.fetch_add(1, Ordering::SeqCst),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is not reachable at {admin} ({e}); start it or set KENDRIX_TEST_PG_URL")
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("admin url");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// Runs one SQL statement on the database directly, as someone with database access
    /// would (the store's own code never sees it).
    pub async fn execute(&self, sql: &str) {
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }

    /// The one integer a SQL query answers (a count, say), read directly.
    pub async fn scalar(&self, sql: &str) -> i64 {
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        kendrix_store::connect(&self.url, 4)
            .await
            .expect("open store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async context: use a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A master key for tests, as `KENDRIX_MASTER_KEY` would hold it (base64 of 32 bytes).
pub const TEST_MASTER_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

pub fn test_key_ring() -> kendrix_core::sealed::KeyRing {
    kendrix_core::sealed::KeyRing::new(vec![kendrix_core::sealed::MasterKey::from_base64(
        TEST_MASTER_KEY,
    )
    .expect("test key")])
}

/// Settings for tests: generous limits unless a test tightens them.
pub fn test_settings(url: &str) -> Settings {
    Settings {
        database_url: url.to_owned(),
        max_connections: 4,
        rate_limits: RateLimits {
            token_per_client_per_minute: 10_000,
            token_per_address_per_minute: 100_000,
            api_per_client_per_minute: 100_000,
            failed_auth_max: 1_000,
            failed_auth_max_per_address: 1_000,
            ..RateLimits::default()
        },
        ..Settings::default()
    }
}

/// A real server on 127.0.0.1:0 inside the test process.
pub struct TestServer {
    pub url: String,
    /// The server's services, for what only the command line does (the global configuration).
    pub app: App,
    /// Tenants and clients, administered as from the command line: on the wall clock,
    /// whatever clock the server runs on.
    pub sites: Arc<Sites>,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}, Arc::new(SystemClock)).await
    }

    /// Starts a server with adjusted settings and a chosen clock.
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        clock: Arc<dyn Clock>,
    ) -> Self {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mut settings = test_settings(&db.url);
        settings.public_url = Some(url.clone());
        adjust(&mut settings);
        let audit_keys = kendrix_server::audit_keys::AuditKeys::load(&settings)
            .expect("the story's audit signing keys");
        let app = App::new(store.clone(), settings.clone(), clock)
            .with_keys(test_key_ring())
            .with_audit_keys(audit_keys);
        let wall_clock = App::new(store.clone(), settings.clone(), Arc::new(SystemClock))
            .with_keys(test_key_ring());
        let sites = wall_clock.sites.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.clone().serve(listener, async move {
            let _ = rx.await;
        }));
        Self {
            url,
            app,
            sites,
            store,
            http: reqwest::Client::new(),
            db,
            shutdown: Some(tx),
        }
    }

    pub async fn tenant(&self, name: &str) -> i64 {
        self.sites
            .create_tenant(&RequestContext::cli(), name)
            .await
            .expect("create tenant")
            .id
    }

    /// Registers a site with the given scopes, as an admin would with `client register`.
    pub async fn register(&self, tenant_id: i64, name: &str, scopes: &str) -> Registration {
        let scopes: ScopeSet = scopes.parse().expect("scopes");
        self.sites
            .register_client(&RequestContext::cli(), tenant_id, name, &scopes)
            .await
            .expect("register client")
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Requests a token with HTTP Basic; returns the raw response.
    pub async fn token_request(
        &self,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.endpoint("/oauth/token"))
            .basic_auth(client_id, Some(secret))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// A fresh access token for a registered client.
    pub async fn access_token(&self, reg: &Registration) -> String {
        let response = self
            .token_request(
                &reg.client_id,
                &reg.client_secret,
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(response.status(), 200, "token request failed");
        let body: serde_json::Value = response.json().await.expect("token json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.endpoint(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET request")
    }

    /// GETs a public endpoint (no token): `/metrics`, `/audit/public-key`.
    pub async fn get_public(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.endpoint(path))
            .send()
            .await
            .expect("GET request")
    }

    /// Posts a batch body under an Idempotency-Key with a bearer token.
    pub async fn post_batch(
        &self,
        token: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.endpoint("/sync/batches"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("batch request")
    }

    /// The tenant's stored records as (entity, id, version, deleted, data), in key order.
    pub async fn stored_records(
        &self,
        tenant_id: i64,
        entity: &str,
    ) -> Vec<(String, String, bool, Option<String>)> {
        self.store
            .records_page(tenant_id, entity, "", 1_000_000)
            .await
            .expect("records")
            .into_iter()
            .map(|r| (r.record_id, r.version, r.deleted, r.data))
            .collect()
    }

    /// Every audit entry so far, in chain order.
    pub async fn audit(&self) -> Vec<kendrix_core::audit::AuditEntry> {
        self.store
            .audit_entries(0, 1_000_000)
            .await
            .expect("audit entries")
    }

    /// The audit entries with this event name, waiting up to two seconds for at least `n`
    /// (some entries, like idempotency hits, are written after the response).
    pub async fn eventually_audited(
        &self,
        event: &str,
        n: usize,
    ) -> Vec<kendrix_core::audit::AuditEntry> {
        for _ in 0..40 {
            let found = self.audit_events(event).await;
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.audit_events(event).await
    }

    /// The audit entries with this event name.
    pub async fn audit_events(&self, event: &str) -> Vec<kendrix_core::audit::AuditEntry> {
        self.audit()
            .await
            .into_iter()
            .filter(|e| e.event == event)
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Checks that every entry links to its predecessor and hashes to its stored hash; returns
/// the first broken sequence number.
pub fn first_broken_link(entries: &[kendrix_core::audit::AuditEntry]) -> Option<i64> {
    let mut prev = kendrix_core::audit::GENESIS_HASH.to_owned();
    for (expected_seq, entry) in (1..).zip(entries) {
        if entry.seq != expected_seq
            || entry.prev_hash != prev
            || entry.computed_hash() != entry.hash
        {
            return Some(entry.seq);
        }
        prev = entry.hash.clone();
    }
    None
}

/// Path of a workspace binary next to the test executable (`target/<profile>/NAME`).
/// The test command builds every binary before running tests (`cargo build --bins`).
/// Sends `signal` to a process (`target` > 0) or a whole process group (`target` < 0,
/// `-pgid`). Never through `/usr/bin/kill`: Debian 12's procps 4.0.2 turns `kill -KILL -PGID`
/// into `kill(-1)`, which kills every process the user may signal.
pub fn send_signal(target: i32, signal: i32) {
    assert!(
        target != 0 && target != -1,
        "a signal to everyone: {target}"
    );
    // SAFETY: kill(2) has no memory effects; the target is one process or one group.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(target, signal);
    }
}

pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the tests (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A `kendrix-server serve` process on a free port, with its log captured to a file.
pub struct ServerProcess {
    pub url: String,
    pub log: PathBuf,
    /// What it printed on stdout before its "listening on" line (e.g. `--demo`'s credentials).
    pub banner: Vec<String>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with_args(database_url, &[], env)
    }

    /// `kendrix-server serve --bind 127.0.0.1:0` with more arguments (e.g. `--demo`).
    pub fn start_with_args(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("server.log");
        let mut cmd = Command::new(binary("kendrix-server"));
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("KENDRIX_DATABASE_URL", database_url)
            .env("NO_COLOR", "1")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn kendrix-server");
        let stdout = child.stdout.take().expect("stdout");
        let (url, banner) = read_listening_line(stdout).unwrap_or_else(|| {
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("kendrix-server did not start:\n{log_text}")
        });
        Self {
            url,
            log,
            banner,
            child,
            _dir: dir,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's process id (for what `/proc` says about it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server at once (SIGKILL), as a crash or power cut would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) -> String {
        send_signal(self.child.id() as i32, libc::SIGTERM);
        let _ = self.child.wait();
        self.log_text()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The URL of the "listening on" line, and the lines printed before it.
fn read_listening_line(stdout: std::process::ChildStdout) -> Option<(String, Vec<String>)> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            match line.strip_prefix("listening on ") {
                Some(url) => {
                    let _ = tx.send((url.trim().to_owned(), std::mem::take(&mut banner)));
                }
                None => banner.push(line),
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(60)).ok()
}

/// Runs `kendrix-server` with arguments against a database; returns stdout, panics on failure.
pub fn server_cli(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(binary("kendrix-server"))
        .args(args)
        .env("KENDRIX_DATABASE_URL", database_url)
        .output()
        .expect("run kendrix-server");
    assert!(
        output.status.success(),
        "kendrix-server {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}
