//! Test support for the agent: a site registered on a real server process, the real
//! `kendrix` binary with its own data folder (secrets in the session's real keychain), a
//! fault-injecting TCP proxy between them, and the server-side checksum to compare with the
//! source.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{binary, server_cli, Backend, ServerProcess, TestDb};

/// A site as an admin registers it: `kendrix-server client register`.
#[derive(Debug, Clone)]
pub struct Site {
    pub client_id: String,
    pub client_secret: String,
    pub enrollment: String,
}

/// A fresh SQLite database, migrated, and a `kendrix-server` process on it (with `env`).
pub async fn sqlite_server(env: &[(&str, &str)]) -> (TestDb, ServerProcess) {
    let db = TestDb::new(Backend::Sqlite).await;
    server_cli(&db.url, &["migrate"]);
    let server = ServerProcess::start(&db.url, env);
    (db, server)
}

/// Creates tenant 1 (once per database) and registers a site with the given scopes.
pub fn register_site(db: &TestDb, name: &str, scopes: &str) -> Site {
    let tenants = server_cli(&db.url, &["tenant", "list"]);
    if !tenants.contains("Acme") {
        server_cli(&db.url, &["tenant", "create", "--name", "Acme"]);
    }
    let out = server_cli(
        &db.url,
        &[
            "client",
            "register",
            "--name",
            name,
            "--tenant-id",
            "1",
            "--scopes",
            scopes,
            "--json",
        ],
    );
    let reg: Value = serde_json::from_str(&out).expect("register prints JSON");
    Site {
        client_id: reg["client_id"].as_str().unwrap().into(),
        client_secret: reg["client_secret"].as_str().unwrap().into(),
        enrollment: reg["enrollment"].as_str().unwrap().into(),
    }
}

/// An admin sets a number in tenant 1's configuration (a new version).
pub fn set_config_number(db: &TestDb, key: &str, value: &str) {
    server_cli(
        &db.url,
        &[
            "config",
            "set",
            "--tenant-id",
            "1",
            "--type",
            "number",
            key,
            value,
        ],
    );
}

/// The exit code of a finished `kendrix` run.
pub fn exit_code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Everything a finished run printed, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The enrollment string of `site`, pointing at `server_url` instead (e.g. a proxy).
pub fn enrollment_for(site: &Site, server_url: &str) -> String {
    kendrix_core::enrollment::Enrollment {
        server: server_url.to_owned(),
        client_id: site.client_id.clone(),
        client_secret: site.client_secret.clone(),
    }
    .encode()
}

/// One agent installation: a data folder and the `kendrix` binary (or, under Wine, the
/// Windows `kendrix.exe`).
pub struct Agent {
    pub dir: tempfile::TempDir,
    data_dir: Option<PathBuf>,
    runs: AtomicUsize,
    clock_offset: Mutex<Option<String>>,
    wine: Option<Wine>,
    /// The session bus of a keychain of the story's own, instead of the one tests share.
    session_bus: Option<String>,
}

/// The Windows build of the agent and the Wine prefix (a Windows "PC") it runs in, apart
/// from the agent's folder (Wine keeps its Credential Manager in the prefix's registry).
struct Wine {
    exe: PathBuf,
    prefix: tempfile::TempDir,
}

impl Wine {
    /// `wine <exe>` in this PC's prefix, without Wine's own chatter.
    fn command(&self, exe: &Path) -> Command {
        let mut cmd = Command::new("wine");
        cmd.arg(exe)
            .env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        cmd
    }
}

impl Drop for Wine {
    /// Ends every process of this PC (its services included) with the story.
    fn drop(&mut self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix.path())
            .status();
    }
}

/// The Windows `kendrix.exe` that `scripts/windows.sh` builds for Wine (with its test-only
/// `bcryptprimitives.dll` beside it).
pub fn wine_agent_exe() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let exe = target.join("wine/kendrix.exe");
    assert!(
        exe.exists() && exe.with_file_name("bcryptprimitives.dll").exists(),
        "{} is missing: run `bash scripts/windows.sh` (scripts/test.sh does)",
        exe.display()
    );
    exe
}

impl Default for Agent {
    fn default() -> Self {
        Self::new()
    }
}

impl Agent {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("agent dir"),
            data_dir: None,
            runs: AtomicUsize::new(0),
            clock_offset: Mutex::new(None),
            wine: None,
            session_bus: None,
        }
    }

    /// An agent on a Windows PC: `kendrix.exe` under Wine, in a fresh Wine prefix of its
    /// own (its Credential Manager, its `%LOCALAPPDATA%`).
    pub fn under_wine() -> Self {
        let prefix = tempfile::tempdir().expect("wine prefix");
        // Wine ends its services a few seconds after the last program exits, and boots them
        // again with the next: a PC whose service runs between commands needs its wineserver
        // kept up (until the story ends, see Drop).
        let kept_up = Command::new("wineserver")
            .arg("-p")
            .env("WINEPREFIX", prefix.path())
            .status()
            .expect("wineserver (scripts/windows.sh installs Wine)");
        assert!(kept_up.success(), "wineserver -p failed");
        Self {
            wine: Some(Wine {
                exe: wine_agent_exe(),
                prefix,
            }),
            ..Self::new()
        }
    }

    /// `wine <program>` on this agent's Windows PC: a path, or one of Wine's own programs
    /// (`reg`, `sc`).
    pub fn windows_program(&self, program: impl AsRef<Path>) -> Command {
        let wine = self.wine.as_ref().expect("an agent under Wine");
        wine.command(program.as_ref())
    }

    /// A test aid built beside `kendrix.exe` by `scripts/windows.sh` (`hold-open.exe`, the
    /// installer).
    pub fn windows_test_aid(&self, name: &str) -> PathBuf {
        let wine = self.wine.as_ref().expect("an agent under Wine");
        wine.exe.with_file_name(name)
    }

    /// A path on this agent's Windows PC, under its `C:` drive (e.g. `ProgramData/Kendrix`).
    pub fn windows_drive_c(&self, path: &str) -> PathBuf {
        let wine = self.wine.as_ref().expect("an agent under Wine");
        wine.prefix.path().join("drive_c").join(path)
    }

    /// An agent whose keychain is `keychain`, one the story can freeze.
    pub fn with_keychain(keychain: &crate::keychain::PrivateKeychain) -> Self {
        Self {
            session_bus: Some(keychain.address.clone()),
            ..Self::new()
        }
    }

    /// An agent keeping its database in `data_dir` (e.g. on a small disk).
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir: Some(data_dir),
            ..Self::new()
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| self.dir.path().join("data"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match &self.wine {
            None => Command::new(binary("kendrix")),
            Some(wine) => wine.command(&wine.exe),
        };
        cmd.args(args)
            .env("KENDRIX_AGENT_DIR", self.data_dir())
            .env("NO_COLOR", "1")
            .env("KENDRIX_LOG", "info");
        if let Some(address) = &self.session_bus {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", address);
        }
        if let Some(offset) = self.clock_offset.lock().unwrap().as_deref() {
            // libfaketime shifts the wall clock of this process only; timers stay real.
            cmd.env("LD_PRELOAD", FAKETIME_LIBRARY)
                .env("FAKETIME", offset)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        cmd
    }

    /// Runs the next commands with the wall clock shifted, e.g. `"-5h"` (libfaketime), or
    /// with the real clock again (`None`).
    pub fn set_clock_offset(&self, offset: Option<&str>) {
        if offset.is_some() {
            assert!(
                Path::new(FAKETIME_LIBRARY).exists(),
                "clock-skew stories need libfaketime (Debian package faketime; scripts/test.sh installs it)"
            );
        }
        *self.clock_offset.lock().unwrap() = offset.map(str::to_owned);
    }

    /// Starts `kendrix <args>` with its output going to files of its own (a pipe nobody
    /// reads could block it), stdin as given.
    fn start(&self, args: &[&str], stdin: Stdio) -> Started {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let logs = self.dir.path().join("runs");
        std::fs::create_dir_all(&logs).expect("runs folder");
        let (out, err) = (
            logs.join(format!("{n:03}.out")),
            logs.join(format!("{n:03}.err")),
        );
        let child = self
            .command(args)
            .stdin(stdin)
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("spawn kendrix");
        Started {
            child,
            out,
            err,
            what: format!("kendrix {}", args.join(" ")),
        }
    }

    /// Runs `kendrix <args>` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.start(args, Stdio::null()).finish()
    }

    /// Runs `kendrix <args>` with `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut started = self.start(args, Stdio::piped());
        {
            use std::io::Write;
            let mut stdin = started.child.stdin.take().expect("stdin");
            // A run that stops early (e.g. on a full disk) closes stdin: its output says why.
            let _ = stdin.write_all(input.as_bytes());
        }
        started.finish()
    }

    /// Runs `kendrix <args>` and insists it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kendrix {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Starts `kendrix <args>` and leaves it running (to be killed by the story).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.start(args, Stdio::null()).child
    }

    /// Starts `kendrix <args>` reading stdin from a pipe the story writes to.
    pub fn spawn_with_stdin(&self, args: &[&str]) -> Child {
        self.start(args, Stdio::piped()).child
    }

    pub fn enroll(&self, enrollment: &str) {
        self.ok(&["enroll", enrollment]);
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status JSON")
    }

    /// Queues NDJSON rows for `entity`.
    pub fn enqueue(&self, entity: &str, rows: &[Value]) {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        let out = self.run_with_stdin(&["enqueue", "--entity", entity], &text);
        assert!(
            out.status.success(),
            "enqueue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every file under the agent's folder contains none of `secrets`.
    pub fn assert_no_file_holds(&self, secrets: &[&str]) {
        assert_no_file_under(self.dir.path(), secrets);
    }
}

const FAKETIME_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Longest a `kendrix` command may run in a story: past it the story fails naming the
/// command and showing its output, well before the test runner's own timeout.
const RUN_LIMIT: Duration = Duration::from_secs(100);

/// A started `kendrix` process and the files its output goes to.
struct Started {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    what: String,
}

impl Started {
    /// Waits for the process (at most [`RUN_LIMIT`]) and returns what it printed.
    fn finish(mut self) -> Output {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for kendrix") {
                break status;
            }
            if started.elapsed() > RUN_LIMIT {
                let stacks = thread_stacks(self.child.id());
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`{}` did not finish within {} s; it printed:\n{}\n{}\nwhere its threads were:\n{stacks}",
                    self.what,
                    RUN_LIMIT.as_secs(),
                    std::fs::read_to_string(&self.out).unwrap_or_default(),
                    std::fs::read_to_string(&self.err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Output {
            status,
            stdout: std::fs::read(&self.out).unwrap_or_default(),
            stderr: std::fs::read(&self.err).unwrap_or_default(),
        }
    }
}

/// Each thread's stack of a running process (gdb), to tell where a run that never ended
/// waits; what is missing instead, when gdb is not installed.
fn thread_stacks(pid: u32) -> String {
    let gdb = Command::new("timeout")
        .args(["60", "gdb", "-p", &pid.to_string(), "-batch", "-nx"])
        .args(["-ex", "thread apply all bt 25"])
        .stdin(Stdio::null())
        .output();
    match gdb {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => format!(
            "(gdb could not attach: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("(no stacks: {e})"),
    }
}

/// Every file under `dir` contains none of `secrets`.
pub fn assert_no_file_under(dir: &Path, secrets: &[&str]) {
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in secrets {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} holds a secret",
                file.display()
            );
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `n` order rows `o000000…` with some data, as a source would hand them over.
pub fn order_rows(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| serde_json::json!({"id": format!("o{i:06}"), "total": i as f64 * 1.25, "note": format!("order {i}")}))
        .collect()
}

/// Count and order-independent checksum of (id, data) pairs.
pub fn checksum_of(rows: impl Iterator<Item = (String, Value)>) -> (usize, String) {
    let mut lines: Vec<String> = rows.map(|(id, d)| format!("{id}|{d}")).collect();
    lines.sort();
    (
        lines.len(),
        kendrix_core::credentials::hash_bytes(lines.join("\n").as_bytes()),
    )
}

/// The same of what a source handed over (the id field stays in the data).
pub fn source_checksum(rows: &[Value]) -> (usize, String) {
    checksum_of(
        rows.iter()
            .map(|r| (r["id"].as_str().unwrap().to_owned(), r.clone())),
    )
}

/// Count and checksum of the server's copy of an entity (tenant 1).
pub async fn server_checksum(db: &TestDb, entity: &str) -> (usize, String) {
    let store = db.store().await;
    let stored = store
        .records_page(1, entity, "", 10_000_000)
        .await
        .expect("records");
    checksum_of(stored.into_iter().filter_map(|r| {
        let data: Value = serde_json::from_str(r.data.as_deref()?).ok()?;
        Some((r.record_id, data))
    }))
}

/// Records the server applied in all (tenant 1): equal to the source's count when nothing
/// was applied twice.
pub async fn server_applied(db: &TestDb) -> i64 {
    let store = db.store().await;
    let figures = store.batch_figures(1, 0).await.expect("figures");
    figures.iter().map(|b| b.applied).sum()
}

/// What the proxy does to the next request whose bytes contain the trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Half the request reaches the server, then both sides are cut.
    CutRequest,
    /// The whole request reaches the server; the connection is cut as its answer comes.
    CutResponse,
    /// The request reaches the server; the answer never comes back (the client times out).
    Stall,
    /// Answered by the proxy with this status and `Retry-After: 1`; the server sees nothing.
    Answer(u16),
}

#[derive(Default)]
struct ProxyState {
    upstreams: Vec<SocketAddr>,
    next: usize,
    refuse: bool,
    faults: VecDeque<Fault>,
    trigger: Vec<u8>,
    fired: Vec<Fault>,
    connections: usize,
}

/// A small TCP proxy for fault injection: forwards to one or more upstream servers (round
/// robin per connection), and can refuse connections or break the next requests that
/// contain a trigger (by default `POST /sync/batches`).
#[derive(Clone)]
pub struct TcpProxy {
    pub url: String,
    state: Arc<Mutex<ProxyState>>,
    closer: tokio::sync::watch::Sender<u64>,
}

impl TcpProxy {
    /// Starts the proxy on a thread and runtime of its own, so a test that blocks its own
    /// runtime (waiting for a `kendrix` process) never starves the proxy.
    pub fn start(upstream_urls: &[&str]) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            trigger: b"POST /sync/batches".to_vec(),
            ..Default::default()
        }));
        let proxy = Self {
            url: format!("http://{addr}"),
            state: state.clone(),
            closer: tokio::sync::watch::channel(0).0,
        };
        proxy.set_upstreams(upstream_urls);
        let closer = proxy.closer.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                while let Ok((client, _)) = listener.accept().await {
                    let state = state.clone();
                    let closed = closer.subscribe();
                    tokio::spawn(async move {
                        let _ = serve_connection(client, state, closed).await;
                    });
                }
            });
        });
        proxy
    }

    /// Points the proxy at other servers (e.g. a restarted one); open connections are cut.
    pub fn set_upstreams(&self, urls: &[&str]) {
        let addrs = urls
            .iter()
            .map(|u| {
                u.trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .expect("upstream host:port")
            })
            .collect();
        self.state.lock().unwrap().upstreams = addrs;
        self.cut_all();
    }

    /// Cuts every open connection at once.
    pub fn cut_all(&self) {
        self.closer.send_modify(|g| *g += 1);
    }

    /// While true, connections are closed as soon as they are accepted.
    pub fn refuse(&self, refuse: bool) {
        self.state.lock().unwrap().refuse = refuse;
        if refuse {
            self.cut_all();
        }
    }

    /// Queues faults: each breaks the next request containing the trigger.
    pub fn inject(&self, faults: &[Fault]) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// The faults that happened so far.
    pub fn fired(&self) -> Vec<Fault> {
        self.state.lock().unwrap().fired.clone()
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }
}

async fn serve_connection(
    client: TcpStream,
    state: Arc<Mutex<ProxyState>>,
    mut closed: tokio::sync::watch::Receiver<u64>,
) -> std::io::Result<()> {
    let upstream = {
        let mut s = state.lock().unwrap();
        s.connections += 1;
        if s.refuse || s.upstreams.is_empty() {
            return Ok(());
        }
        s.next += 1;
        s.upstreams[s.next % s.upstreams.len()]
    };
    let server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(_) => return Ok(()),
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // What the answer direction must do after a fault fired on this connection.
    let mut swallow: Option<Fault> = None;
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            _ = closed.changed() => return Ok(()),
            read = client_read.read(&mut up) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                let chunk = &up[..n];
                let fault = {
                    let mut s = state.lock().unwrap();
                    let hit = contains(chunk, &s.trigger);
                    match (hit, s.faults.pop_front()) {
                        (true, Some(fault)) => {
                            s.fired.push(fault);
                            Some(fault)
                        }
                        (_, Some(fault)) => {
                            s.faults.push_front(fault);
                            None
                        }
                        _ => None,
                    }
                };
                match fault {
                    None => server_write.write_all(chunk).await?,
                    Some(Fault::CutRequest) => {
                        server_write.write_all(&chunk[..n / 2]).await?;
                        return Ok(());
                    }
                    Some(Fault::Answer(status)) => {
                        let reason = if status == 429 { "Too Many Requests" } else { "Service Unavailable" };
                        let answer = format!(
                            "HTTP/1.1 {status} {reason}\r\nRetry-After: 1\r\nContent-Type: application/problem+json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                        );
                        client_write.write_all(answer.as_bytes()).await?;
                        return Ok(());
                    }
                    Some(fault) => {
                        server_write.write_all(chunk).await?;
                        swallow = Some(fault);
                    }
                }
            }
            read = server_read.read(&mut down) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                match swallow {
                    None => client_write.write_all(&down[..n]).await?,
                    // The server answered (so it applied the batch); the client never hears.
                    Some(Fault::CutResponse) => return Ok(()),
                    Some(_) => {}
                }
            }
        }
    }
}

/// A small filesystem mounted for one test (tmpfs), to fill up; unmounted on drop.
pub struct SmallDisk {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a small tmpfs failed: the disk-full story needs root (CI runs as root)"
        );
        Self {
            path: dir.path().to_owned(),
            _dir: dir,
        }
    }

    /// Writes a file until the disk is full.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.flush();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Polls `check` every 100 ms for up to `limit`.
pub async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}
