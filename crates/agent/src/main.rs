//! `kendrix`: the headless sync agent, a thin command line over `kendrix-engine` for
//! machines without a desktop (and for scripts). No sync logic lives here.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kendrix_core::clock::format_utc;
use kendrix_core::enrollment::Enrollment;
use kendrix_core::SystemClock;
use kendrix_engine::{Engine, Format, Inbox, RowShape, RunOutcome, Status, SyncRun, Trigger};

mod admin;
#[cfg(windows)]
mod service;

use admin::AdminCommand;

/// Exit codes of `kendrix sync`, for scripts and service managers.
mod exit {
    /// Everything arrived: the queue is empty and no record was refused.
    pub const ALL_SYNCED: u8 = 0;
    /// Local trouble (not enrolled, keychain, disk) — see the message.
    pub const FAILED: u8 = 1;
    /// Delivered, but the server refused some records: see `kendrix dead-letters list`.
    pub const REJECTED: u8 = 2;
    /// The server could not be reached (or kept asking to wait); the queue is intact.
    pub const OFFLINE: u8 = 3;
    /// The server refused the credentials or a permission: enroll again.
    pub const AUTH: u8 = 4;
}

#[derive(Parser)]
#[command(
    name = "kendrix",
    version,
    about = "Kendrix Sync agent: keeps a site's records in a local outbox and delivers them to the server exactly once",
    after_help = "Exit codes of `sync`: 0 all synced, 1 local error, 2 records refused (see dead-letters), 3 server unreachable, 4 credentials refused.\n\
Secrets live only in the OS keychain (Secret Service, Credential Manager or Keychain)."
)]
struct Cli {
    /// Where the agent keeps its local database.
    #[arg(long, env = "KENDRIX_AGENT_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this agent with the string an admin got from `kendrix-server client register`,
    /// or with --server and --client-id and the secret on stdin.
    ///
    /// Prefer giving the string on stdin (`kendrix enroll -`, or no argument): an argument is
    /// visible to every user of this machine in `ps` while the command runs. The server must
    /// be https://, except on this machine (http://127.0.0.1, http://[::1], http://localhost).
    Enroll {
        /// The `kendrix1:…` enrollment string; `-` or omitted reads it from stdin.
        enrollment: Option<String>,
        /// The server's https:// URL (http:// only for this machine).
        #[arg(long, requires = "client_id", conflicts_with = "enrollment")]
        server: Option<String>,
        #[arg(long, requires = "server")]
        client_id: Option<String>,
    },
    /// Queue records from a file or stdin (NDJSON, JSON or CSV), all in one transaction.
    Enqueue {
        /// The entity (table) the records belong to, e.g. `orders`.
        #[arg(long)]
        entity: String,
        /// The file to read; `-` or omitted reads stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        /// ndjson, json or csv; by default from the file's extension (stdin: ndjson).
        #[arg(long)]
        format: Option<Format>,
        /// The field holding each record's id.
        #[arg(long, default_value = "id")]
        id_field: String,
    },
    /// Sync now; the exit code tells the outcome.
    Sync {
        /// How long to keep retrying while the server is unreachable or busy.
        #[arg(long, default_value_t = 60)]
        retry_for_secs: u64,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the status: state, queue, dead letters, last and next sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Run as a daemon: sync on the server's schedule and take in the inbox folder; stops
    /// gracefully on SIGTERM or Ctrl-C (on Windows also Ctrl-Break and the console closing).
    Run {
        /// A folder whose NDJSON/JSON/CSV files are taken in (entity = file name up to the
        /// first dot), then moved to processed/ or failed/.
        #[arg(long)]
        inbox: Option<PathBuf>,
        #[arg(long, default_value = "id")]
        id_field: String,
    },
    /// Pause the schedule (Sync Now still works).
    Pause {
        /// Minutes to pause; until `kendrix resume` when omitted.
        #[arg(long)]
        minutes: Option<u64>,
    },
    /// Resume the schedule.
    Resume,
    /// Records the server refused: list, send again, fix or discard them.
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
    /// The latest sync runs.
    History {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// The admin credential: enroll it, list the sites it oversees, sign it out.
    ///
    /// It is kept beside the site's enrollment, in keychain entries of its own, and never
    /// used to sync.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The Windows service: install, uninstall, start, stop, status, and enroll its own agent.
    #[cfg(windows)]
    #[command(subcommand)]
    Service(service::ServiceCommand),
}

#[derive(Subcommand)]
enum DeadLetterCommand {
    /// List the dead letters with the server's reasons and their data.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send dead letters again as new changes.
    Retry(Selection),
    /// Replace a dead letter's data with corrected JSON and send it again.
    Fix {
        id: i64,
        /// The corrected record data, a JSON object.
        #[arg(long)]
        data: String,
    },
    /// Drop dead letters for good.
    Discard(Selection),
}

#[derive(Args)]
struct Selection {
    /// Dead-letter ids (see `kendrix dead-letters list`).
    ids: Vec<i64>,
    #[arg(long, conflicts_with = "ids")]
    all: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(windows)]
    if let Command::Service(service::ServiceCommand::Run { inbox, id_field }) = &cli.command {
        // Started by the Service Control Manager: no console, the log goes to a file.
        return match service::run_under_scm(inbox.clone(), id_field.clone()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(exit::FAILED)
            }
        };
    }
    let daemon = matches!(cli.command, Command::Run { .. });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KENDRIX_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(if daemon { "info" } else { "warn" })
            }),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    let result = runtime.block_on(run(cli));
    // A keychain call past its deadline may still hold a thread: do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => kendrix_engine::default_data_dir()
            .context("no data folder: set --data-dir or KENDRIX_AGENT_DIR"),
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    #[cfg(windows)]
    if let Command::Service(command) = cli.command {
        return service::command(command).await;
    }
    let engine = Engine::open(&data_dir(&cli)?, Arc::new(SystemClock)).await?;
    match cli.command {
        Command::Enroll {
            enrollment,
            server,
            client_id,
        } => {
            let enrollment = match (server, client_id) {
                (Some(server), Some(client_id)) => Enrollment {
                    // Checked before the secret is asked for: it would not be sent anyway.
                    server: kendrix_core::enrollment::server_url(&server)?,
                    client_id,
                    client_secret: read_stdin_line("the client secret")?,
                },
                _ => Enrollment::decode(&argument_or_stdin(enrollment, "the enrollment string")?)?,
            };
            let report = engine.enroll(&enrollment).await?;
            println!(
                "enrolled as client {} with {}; the secret is in the OS keychain",
                report.client_id, report.server
            );
            if let Some(note) = report.note {
                println!("note: {note}");
            }
            Ok(exit::ALL_SYNCED)
        }
        Command::Enqueue {
            entity,
            file,
            format,
            id_field,
        } => {
            let shape = RowShape { entity, id_field };
            let from_stdin = file.as_deref().is_none_or(|f| f.as_os_str() == "-");
            let queued = if from_stdin {
                let format = format.unwrap_or(Format::Ndjson);
                engine
                    .enqueue_rows(std::io::stdin().lock(), format, &shape)
                    .await?
            } else {
                let path = file.expect("a file was given");
                let format = match format.or_else(|| Format::of_path(&path)) {
                    Some(f) => f,
                    None => anyhow::bail!(
                        "cannot tell the format of {}: pass --format ndjson|json|csv",
                        path.display()
                    ),
                };
                let input = std::fs::File::open(&path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                engine.enqueue_rows(input, format, &shape).await?
            };
            let status = engine.status().await?;
            println!(
                "queued {queued} record(s); {} waiting to be sent",
                status.queue_depth
            );
            Ok(exit::ALL_SYNCED)
        }
        Command::Sync {
            retry_for_secs,
            json,
        } => {
            let progress = show_progress(&engine);
            let run = engine
                .sync(Trigger::Manual, Duration::from_secs(retry_for_secs))
                .await;
            if let Some(progress) = progress {
                progress.abort();
            }
            let run = run?;
            let status = engine.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else {
                print_run(&run);
                println!("status: {}", status.summary());
            }
            Ok(match run.outcome {
                Some(RunOutcome::Synced) if status.all_synced => exit::ALL_SYNCED,
                Some(RunOutcome::Synced) if status.dead_letters > 0 => exit::REJECTED,
                Some(RunOutcome::Synced) => exit::ALL_SYNCED,
                Some(RunOutcome::Partial) => exit::REJECTED,
                Some(RunOutcome::Offline) => exit::OFFLINE,
                Some(RunOutcome::Auth) => exit::AUTH,
                Some(RunOutcome::Error) | None => exit::FAILED,
            })
        }
        Command::Status { json } => {
            let status = engine.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status, "kendrix enroll <enrollment string>");
                #[cfg(windows)]
                service::mention(&status);
            }
            Ok(exit::ALL_SYNCED)
        }
        Command::Run { inbox, id_field } => {
            daemon(&engine, inbox, id_field, shutdown_signal()).await?;
            Ok(exit::ALL_SYNCED)
        }
        Command::Pause { minutes } => {
            engine.pause(minutes).await?;
            println!("{}", engine.status().await?.summary());
            Ok(exit::ALL_SYNCED)
        }
        Command::Resume => {
            engine.resume().await?;
            println!("{}", engine.status().await?.summary());
            Ok(exit::ALL_SYNCED)
        }
        Command::DeadLetters(command) => dead_letters(&engine, command).await,
        Command::Admin(command) => admin::run(&engine, command).await,
        #[cfg(windows)]
        Command::Service(_) => unreachable!("service commands are run above"),
        Command::History { limit, json } => {
            let runs = engine.history(limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else if runs.is_empty() {
                println!("no sync runs yet");
            } else {
                for run in &runs {
                    print_run(run);
                }
            }
            Ok(exit::ALL_SYNCED)
        }
    }
}

/// The daemon of `kendrix run` and of the Windows service: the schedule and the inbox until
/// `stop` resolves, then the current request finishes and it returns.
async fn daemon(
    engine: &Arc<Engine>,
    inbox: Option<PathBuf>,
    id_field: String,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let inbox = inbox.map(|dir| Inbox { dir, id_field });
    if let Some(inbox) = &inbox {
        std::fs::create_dir_all(&inbox.dir)
            .with_context(|| format!("cannot create the inbox {}", inbox.dir.display()))?;
        tracing::info!(inbox = %inbox.dir.display(), "watching the inbox");
    }
    let stopper = engine.clone();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("stopping after the current request");
        stopper.shutdown();
    });
    engine.run(inbox).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn dead_letters(engine: &Engine, command: DeadLetterCommand) -> anyhow::Result<u8> {
    let select = |selection: Selection, all: Vec<i64>| {
        if selection.all {
            Ok(all)
        } else if selection.ids.is_empty() {
            anyhow::bail!("name dead-letter ids or pass --all")
        } else {
            Ok(selection.ids)
        }
    };
    let all = || async {
        anyhow::Ok(
            engine
                .dead_letters()
                .await?
                .iter()
                .map(|d| d.id)
                .collect::<Vec<_>>(),
        )
    };
    match command {
        DeadLetterCommand::List { json } => {
            let letters = engine.dead_letters().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&letters)?);
            } else if letters.is_empty() {
                println!("no dead letters");
            } else {
                for d in &letters {
                    println!(
                        "#{} {}/{} ({}, version {}) at {}: {}\n    data: {}",
                        d.id,
                        d.entity,
                        d.record_id,
                        d.op,
                        d.version,
                        format_utc(d.at),
                        d.reason,
                        d.data.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        DeadLetterCommand::Retry(selection) => {
            let ids = select(selection, all().await?)?;
            let n = engine.retry_dead_letters(&ids).await?;
            println!("{n} record(s) queued again; run `kendrix sync` to send them");
        }
        DeadLetterCommand::Fix { id, data } => {
            engine.fix_dead_letter(id, &data).await?;
            println!("dead letter #{id} fixed and queued again");
        }
        DeadLetterCommand::Discard(selection) => {
            let ids = select(selection, all().await?)?;
            let n = engine.discard_dead_letters(&ids).await?;
            println!("{n} dead letter(s) discarded");
        }
    }
    Ok(exit::ALL_SYNCED)
}

/// A progress bar on stderr while a sync runs, when stderr is a terminal.
fn show_progress(engine: &Engine) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let mut status = engine.subscribe();
    Some(tokio::spawn(async move {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} records ({per_sec}, {eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        while status.changed().await.is_ok() {
            let now = status.borrow_and_update().clone();
            if let Some(p) = now.progress {
                bar.set_length(p.total.max(0) as u64);
                bar.set_position(p.sent.max(0) as u64);
            }
            bar.set_message(now.state.as_str());
        }
        bar.finish_and_clear();
    }))
}

/// A secret-bearing argument, or stdin when it is `-` or omitted (an argument shows in `ps`).
fn argument_or_stdin(argument: Option<String>, what: &str) -> anyhow::Result<String> {
    match argument {
        Some(text) if text != "-" => Ok(text),
        _ => read_stdin_line(what),
    }
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprintln!("paste {what} and press Enter (then Ctrl-D):");
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} from stdin"))?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        anyhow::bail!("{what} is empty: give it on stdin");
    }
    Ok(text)
}

/// Prints a status; `enroll_with` is the command that enrolls this agent.
fn print_status(s: &Status, enroll_with: &str) {
    println!("status:       {}", s.summary());
    match &s.enrolled {
        Some(e) => println!("enrolled:     client {} with {}", e.client_id, e.server),
        None => println!("enrolled:     no — run `{enroll_with}`"),
    }
    println!("queue:        {} record(s) waiting", s.queue_depth);
    println!("dead letters: {}", s.dead_letters);
    println!(
        "last success: {}",
        s.last_success_at.map(format_utc).unwrap_or("never".into())
    );
    if let Some(next) = s.next_run_at {
        println!("next run:     {}", format_utc(next));
    }
    if let Some(version) = &s.config_version {
        println!("config:       version {version}");
    }
    if let Some(warning) = &s.warning {
        println!("WARNING:      {warning}");
    }
}

fn print_run(run: &SyncRun) {
    let took = run
        .finished_at
        .map(|f| format!("{:.1} s", (f - run.started_at) as f64 / 1000.0))
        .unwrap_or_else(|| "running".into());
    println!(
        "run #{} ({}) {} — {}: {} sent in {} batch(es): {} applied, {} duplicate, {} stale, {} refused{}",
        run.id,
        run.trigger.as_str(),
        format_utc(run.started_at),
        run.outcome.map_or("unfinished", RunOutcome::as_str),
        run.sent,
        run.batches,
        run.applied,
        run.duplicate,
        run.stale,
        run.rejected,
        match (&run.error, took) {
            (Some(e), took) => format!(" ({took}); {e}"),
            (None, took) => format!(" ({took})"),
        }
    );
}

/// Resolves when the agent is asked to stop: Ctrl-C, and SIGTERM on Unix; on Windows also
/// Ctrl-Break, the console window closing and the user logging off or the PC shutting down.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows;
        let mut brk = windows::ctrl_break().expect("Ctrl-Break handler");
        let mut close = windows::ctrl_close().expect("console close handler");
        let mut logoff = windows::ctrl_logoff().expect("log-off handler");
        let mut shutdown = windows::ctrl_shutdown().expect("shutdown handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = brk.recv() => {}
            _ = close.recv() => {}
            _ = logoff.recv() => {}
            _ = shutdown.recv() => {}
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
