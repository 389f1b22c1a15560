//! The agent as a Windows service. `kendrix service install|uninstall|start|stop|status`
//! manage it through the Service Control Manager (SCM), which starts `kendrix service run`:
//! the same daemon as `kendrix run`, stopped by the SCM instead of Ctrl-C.
//!
//! The service runs as LocalSystem, so its agent is its own: its folder is
//! `%ProgramData%\Kendrix` (the database in `agent\`, the rotated log in `logs\`, the inbox in
//! `inbox\`) and its secret is in LocalSystem's Credential Manager, which no user's
//! `kendrix enroll` reaches. `kendrix service enroll` (from an administrator's prompt) hands
//! the enrollment string to the service as a start argument — through the SCM, never a file
//! or a command line — and the service enrolls itself. It writes what it is doing to
//! `service-status.json` (no secret in it) for `kendrix service status`, `kendrix service
//! enroll` and the tray app to read.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use kendrix_core::enrollment::Enrollment;
use kendrix_core::{Clock, SystemClock};
use kendrix_engine::service_report::{
    agent_dir, ask_service_to_sync, log_dir, report_path, service_root, EnrollmentAnswer,
    ServiceReport, SERVICE_NAME, SYNC_NOW_CONTROL,
};
use kendrix_engine::Engine;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

const DISPLAY_NAME: &str = "Kendrix Sync agent";
const DESCRIPTION: &str = "Delivers this site's records to the Kendrix Sync server on its schedule and takes in the inbox folder.";
/// How long a start or stop may take before the command gives up waiting.
const STATE_WAIT: Duration = Duration::from_secs(60);

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Register the service: it starts with Windows, restarts after a failure (10 s, 1 min,
    /// 5 min) and runs as LocalSystem. Needs an administrator's prompt.
    Install {
        /// The inbox folder the service takes files in from (default
        /// %ProgramData%\Kendrix\inbox).
        #[arg(long)]
        inbox: Option<PathBuf>,
        /// The field holding each inbox record's id.
        #[arg(long, default_value = "id")]
        id_field: String,
    },
    /// Stop the service and remove it; its folder (queue, log) stays.
    Uninstall,
    /// Start the service and wait until it runs.
    Start,
    /// Stop the service after its current request and wait until it has stopped.
    Stop,
    /// Ask the running service to sync now (any user of the PC may).
    Sync,
    /// The service's state and its agent's status (queue, dead letters, last sync).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Enroll the service's own agent (its secret goes to LocalSystem's Credential Manager):
    /// the `kendrix1:…` string on stdin (`-` or omitted) or as an argument. Restarts the
    /// service with the string as a start argument and waits for its answer.
    Enroll { enrollment: Option<String> },
    /// What the SCM starts; not meant to be run from a prompt (use `kendrix run` there).
    #[command(hide = true)]
    Run {
        #[arg(long)]
        inbox: Option<PathBuf>,
        #[arg(long, default_value = "id")]
        id_field: String,
    },
}

/// Runs a `kendrix service …` command from a prompt.
pub async fn command(command: ServiceCommand) -> anyhow::Result<u8> {
    match command {
        ServiceCommand::Install { inbox, id_field } => install(inbox, &id_field),
        ServiceCommand::Uninstall => uninstall(),
        ServiceCommand::Start => {
            let service = open(ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
            if service.query_status()?.current_state == ServiceState::Running {
                println!("the {SERVICE_NAME} service already runs");
                return Ok(0);
            }
            service
                .start::<&OsStr>(&[])
                .context("the service did not start")?;
            wait_for(&service, ServiceState::Running)?;
            println!("the {SERVICE_NAME} service runs");
            Ok(0)
        }
        ServiceCommand::Stop => {
            stop()?;
            println!("the {SERVICE_NAME} service has stopped");
            Ok(0)
        }
        ServiceCommand::Sync => {
            ask_service_to_sync().map_err(|e| {
                anyhow::anyhow!("the {SERVICE_NAME} service cannot be asked to sync ({e}): is it installed and running (`kendrix service status`)?")
            })?;
            println!(
                "the {SERVICE_NAME} service syncs now; `kendrix service status` shows how it went"
            );
            Ok(0)
        }
        ServiceCommand::Status { json } => status(json),
        ServiceCommand::Enroll { enrollment } => {
            let text = crate::argument_or_stdin(enrollment, "the enrollment string")?;
            enroll(&text).await
        }
        ServiceCommand::Run { .. } => {
            anyhow::bail!("`kendrix service run` is started by the Service Control Manager: use `kendrix service start`, or `kendrix run` at a prompt")
        }
    }
}

/// The Windows error under a windows-service error (whose own words, "IO error in winapi
/// call", say nothing).
fn reason(e: &windows_service::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => source.to_string(),
        None => e.to_string(),
    }
}

fn manager(access: ServiceManagerAccess) -> anyhow::Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, access).map_err(|e| {
        anyhow::anyhow!("cannot reach the Service Control Manager ({}); run this from an administrator's prompt", reason(&e))
    })
}

fn open(access: ServiceAccess) -> anyhow::Result<windows_service::service::Service> {
    manager(ServiceManagerAccess::CONNECT)?
        .open_service(SERVICE_NAME, access)
        .map_err(|e| anyhow::anyhow!("the {SERVICE_NAME} service cannot be opened ({}): is it installed (`kendrix service install`, from an administrator's prompt)?", reason(&e)))
}

fn install(inbox: Option<PathBuf>, id_field: &str) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("cannot tell where kendrix.exe is")?;
    let inbox = inbox.unwrap_or_else(|| service_root().join("inbox"));
    // The queue and the log are for SYSTEM and the Administrators only; the folder itself
    // keeps ProgramData's access (users read the service's status file, drop inbox files).
    for dir in [agent_dir(), log_dir()] {
        kendrix_engine::private_files::private_dir(&dir)
            .with_context(|| format!("cannot prepare {}", dir.display()))?;
    }
    std::fs::create_dir_all(&inbox)
        .with_context(|| format!("cannot create the inbox {}", inbox.display()))?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![
            "service".into(),
            "run".into(),
            "--inbox".into(),
            inbox.clone().into_os_string(),
            "--id-field".into(),
            id_field.into(),
        ],
        dependencies: vec![],
        account_name: None, // LocalSystem
        account_password: None,
    };
    let manager = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
        .map_err(|e| anyhow::anyhow!("the service cannot be registered ({}): run this from an administrator's prompt; if it is installed already, `kendrix service uninstall` first", reason(&e)))?;
    service.set_description(DESCRIPTION)?;
    let restart = |secs| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(secs),
    };
    // Restart settings are a courtesy some SCMs (Wine's) lack: say so rather than fail.
    let restarts = service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart(10), restart(60), restart(300)]),
        })
        .and_then(|()| service.set_failure_actions_on_non_crash_failures(true));
    println!(
        "installed the {SERVICE_NAME} service (starts with Windows, runs as LocalSystem); inbox {}, log in {}",
        inbox.display(),
        log_dir().display()
    );
    if let Err(e) = restarts {
        println!(
            "warning: restart after a failure could not be set ({})",
            reason(&e)
        );
    }
    println!("next: `kendrix service enroll -` with the site's enrollment string on stdin");
    Ok(0)
}

fn uninstall() -> anyhow::Result<u8> {
    let service = open(ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE)?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        service.stop().context("the service did not stop")?;
        wait_for(&service, ServiceState::Stopped)?;
    }
    service.delete().context("the service cannot be removed")?;
    println!(
        "removed the {SERVICE_NAME} service; its queue and log stay in {}",
        service_root().display()
    );
    Ok(0)
}

fn stop() -> anyhow::Result<()> {
    let service = open(ServiceAccess::QUERY_STATUS | ServiceAccess::STOP)?;
    if service.query_status()?.current_state == ServiceState::Stopped {
        return Ok(());
    }
    service.stop().context("the service did not stop")?;
    wait_for(&service, ServiceState::Stopped)
}

fn wait_for(
    service: &windows_service::service::Service,
    state: ServiceState,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let now = service.query_status()?;
        if now.current_state == state {
            return Ok(());
        }
        if state == ServiceState::Running && now.current_state == ServiceState::Stopped {
            anyhow::bail!(
                "the service stopped at once ({:?}); see its log in {}",
                now.exit_code,
                log_dir().display()
            );
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the service is still {:?} after {} s; see its log in {}",
                now.current_state,
                STATE_WAIT.as_secs(),
                log_dir().display()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn state_name(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Stopped => "stopped",
        ServiceState::StartPending => "starting",
        ServiceState::StopPending => "stopping",
        ServiceState::Running => "running",
        ServiceState::ContinuePending => "resuming",
        ServiceState::PausePending => "pausing",
        ServiceState::Paused => "paused",
    }
}

fn status(json: bool) -> anyhow::Result<u8> {
    let service = open(ServiceAccess::QUERY_STATUS)?;
    let now = service.query_status()?;
    let report = ServiceReport::read();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "service": state_name(now.current_state),
                "pid": now.process_id,
                "report": report,
            }))?
        );
        return Ok(0);
    }
    match now.process_id {
        Some(pid) => println!(
            "service:      {} (pid {pid})",
            state_name(now.current_state)
        ),
        None => println!("service:      {}", state_name(now.current_state)),
    }
    match report {
        Some(report) => {
            if now.current_state != ServiceState::Running {
                println!(
                    "(as the service last wrote it, {})",
                    kendrix_core::clock::format_utc(report.written_at)
                );
            }
            crate::print_status(&report.status, "kendrix service enroll -");
            if let Some(problem) = &report.problem {
                println!("PROBLEM:      {problem}");
            }
        }
        None => println!("status:       the service has not reported yet"),
    }
    println!("log:          {}", log_dir().display());
    Ok(0)
}

/// Under a user's `kendrix status`: the PC's service, when it syncs for this site instead.
pub fn mention(user_agent: &kendrix_engine::Status) {
    if user_agent.enrolled.is_some() {
        return;
    }
    if let Some(report) = ServiceReport::read().filter(|r| r.status.enrolled.is_some()) {
        println!(
            "service:      this PC's {SERVICE_NAME} service syncs it: {} (`kendrix service status`)",
            report.status.summary()
        );
    }
}

/// Restarts the service with the enrollment string as its start argument and waits for the
/// service's answer in its report.
async fn enroll(text: &str) -> anyhow::Result<u8> {
    // Checked here first: a string that cannot be decoded never reaches the service.
    let enrollment = Enrollment::decode(text)?.checked()?;
    let asked_at = SystemClock.now_ms();
    stop()?;
    let service = open(ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
    service
        .start(&[OsStr::new(ENROLL_ARGUMENT), OsStr::new(text)])
        .context("the service did not start")?;
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        if let Some(answer) = ServiceReport::read()
            .and_then(|r| r.enrollment)
            .filter(|a| a.at >= asked_at)
        {
            println!("{}", answer.message);
            return Ok(if answer.enrolled { 0 } else { 1 });
        }
        if service.query_status()?.current_state == ServiceState::Stopped {
            anyhow::bail!(
                "the service stopped before it enrolled client {}; see its log in {}",
                enrollment.client_id,
                log_dir().display()
            );
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the service gave no answer in {} s; see its log in {}",
                STATE_WAIT.as_secs(),
                log_dir().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The start argument before an enrollment string (`kendrix service enroll`).
const ENROLL_ARGUMENT: &str = "--enroll";

/// The inbox settings from the service's command line, for the SCM's thread.
static LAUNCH: OnceLock<(Option<PathBuf>, String)> = OnceLock::new();

/// `kendrix service run`: hands the process to the SCM's dispatcher, which calls
/// [`service_main`] on a thread of its own. Logs go to a daily file in `logs\` (14 kept).
pub fn run_under_scm(inbox: Option<PathBuf>, id_field: String) -> anyhow::Result<()> {
    kendrix_engine::private_files::private_dir(&log_dir())?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("kendrix-service")
        .filename_suffix("log")
        .max_log_files(14)
        .build(log_dir())
        .context("cannot open the service's log")?;
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(appender))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KENDRIX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let _ = LAUNCH.set((inbox, id_field));
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|e| {
        anyhow::anyhow!("not started by the Service Control Manager ({}): use `kendrix service start`, or `kendrix run` at a prompt", reason(&e))
    })
}

define_windows_service!(ffi_service_main, service_main);

fn service_main(arguments: Vec<OsString>) {
    if let Err(e) = serve(arguments) {
        tracing::error!("the service failed: {e:#}");
    }
}

fn serve(arguments: Vec<OsString>) -> anyhow::Result<()> {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    // Sync Now from a user (the tray app, `kendrix service sync`), before the engine is open.
    let sync_now = Arc::new(tokio::sync::Notify::new());
    let sync_asked = sync_now.clone();
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
            stop_tx.send_replace(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::UserEvent(code) if code.to_raw() == SYNC_NOW_CONTROL => {
            sync_asked.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(SERVICE_NAME, handler)?;
    let set = |state, accept, exit_code| {
        handle.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code,
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        })
    };
    set(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        ServiceExitCode::Win32(0),
    )?;
    tracing::info!(pid = std::process::id(), "the service starts");
    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(async {
        let engine = Engine::open(&agent_dir(), Arc::new(SystemClock)).await?;
        let enrollment = enrollment_argument(&arguments);
        let reporter = Reporter::start(engine.clone(), enrollment.is_some()).await;
        if let Some(text) = enrollment {
            reporter.answer(enroll_service(&engine, &text).await).await;
        }
        reporter.check_secret().await;
        let waker = engine.clone();
        tokio::spawn(async move {
            loop {
                sync_now.notified().await;
                tracing::info!("sync asked for by a user");
                waker.request_sync();
            }
        });
        let (inbox, id_field) = LAUNCH.get().cloned().unwrap_or((None, "id".into()));
        let stopping = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        crate::daemon(&engine, inbox, id_field, stopping).await
    });
    // Stop pending while the runtime winds down; a keychain call past its deadline may
    // still hold a thread, which the stop does not wait for.
    let _ = set(
        ServiceState::StopPending,
        ServiceControlAccept::empty(),
        ServiceExitCode::Win32(0),
    );
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    let exit_code = match &outcome {
        Ok(()) => ServiceExitCode::Win32(0),
        // A failure the SCM answers with a restart (failure actions apply to non-crash
        // failures too).
        Err(_) => ServiceExitCode::ServiceSpecific(1),
    };
    set(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        exit_code,
    )?;
    outcome
}

fn enrollment_argument(arguments: &[OsString]) -> Option<String> {
    let at = arguments.iter().position(|a| a == ENROLL_ARGUMENT)?;
    arguments.get(at + 1)?.to_str().map(str::to_owned)
}

async fn enroll_service(engine: &Engine, text: &str) -> anyhow::Result<String> {
    let enrollment = Enrollment::decode(text)?;
    let report = engine.enroll(&enrollment).await?;
    let mut message = format!(
        "the service is enrolled as client {} with {}; its secret is in LocalSystem's Credential Manager",
        report.client_id, report.server
    );
    if let Some(note) = report.note {
        message.push_str(&format!("\nnote: {note}"));
    }
    Ok(message)
}

/// Keeps `service-status.json` in step with the engine's status.
struct Reporter {
    engine: Arc<Engine>,
    report: tokio::sync::Mutex<ServiceReport>,
}

impl Reporter {
    async fn start(engine: Arc<Engine>, enrolling: bool) -> Arc<Self> {
        let previous = ServiceReport::read();
        let reporter = Arc::new(Self {
            report: tokio::sync::Mutex::new(ServiceReport {
                pid: std::process::id(),
                written_at: 0,
                status: engine.status().await.unwrap_or_default(),
                last_run: None,
                problem: None,
                // The last answer stays until a newer enrollment replaces it.
                enrollment: previous.and_then(|p| p.enrollment).filter(|_| !enrolling),
            }),
            engine,
        });
        reporter.write().await;
        let watcher = reporter.clone();
        let mut changes = watcher.engine.subscribe();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let status = changes.borrow_and_update().clone();
                let last_run = watcher
                    .engine
                    .history(1)
                    .await
                    .ok()
                    .and_then(|mut runs| runs.pop());
                {
                    let mut report = watcher.report.lock().await;
                    report.status = status;
                    report.last_run = last_run;
                }
                watcher.write().await;
            }
        });
        reporter
    }

    async fn write(&self) {
        let mut report = self.report.lock().await;
        report.written_at = SystemClock.now_ms();
        if let Err(e) = report.write() {
            tracing::warn!(error = %e, path = %report_path().display(), "the service's status file cannot be written");
        }
    }

    async fn answer(&self, outcome: anyhow::Result<String>) {
        let answer = match outcome {
            Ok(message) => {
                tracing::info!("{message}");
                EnrollmentAnswer {
                    at: SystemClock.now_ms(),
                    enrolled: true,
                    message,
                }
            }
            Err(e) => {
                let message = format!("the service could not enroll: {e:#}");
                tracing::error!("{message}");
                EnrollmentAnswer {
                    at: SystemClock.now_ms(),
                    enrolled: false,
                    message,
                }
            }
        };
        self.report.lock().await.enrollment = Some(answer);
        if let Ok(status) = self.engine.status().await {
            self.report.lock().await.status = status;
        }
        self.write().await;
    }

    /// A service enrolled but unable to read its secret says exactly that, in its log and
    /// its status, instead of failing every run with a vaguer message.
    async fn check_secret(&self) {
        let problem = match self.engine.secret_readable().await {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "the service runs as LocalSystem and cannot read its client secret from LocalSystem's Credential Manager (an enrollment made by a user with `kendrix enroll` is that user's own): run `kendrix service enroll -` from an administrator's prompt; its log is in {}",
                log_dir().display()
            )),
            Err(e) => Some(format!("the service cannot use its Credential Manager: {e}")),
        };
        if let Some(problem) = &problem {
            tracing::error!("{problem}");
        }
        self.report.lock().await.problem = problem;
        self.write().await;
    }
}
