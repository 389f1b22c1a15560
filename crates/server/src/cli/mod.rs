//! The `kendrix-server` command line: the clap definitions of the commands and their
//! dispatch. Each family of commands runs in a module of its own: `serve` (serve, migrate),
//! `clients` (tenants and clients), `config` and `audit`.

mod alerts;
mod audit;
mod clients;
mod config;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kendrix_store::Store;

pub use audit::AuditCommand;
pub use clients::{ClientCommand, TenantCommand};
pub use config::{ConfigCommand, Target};

use crate::app::App;
use crate::settings::Settings;
use kendrix_core::SystemClock;

/// The Kendrix Sync server: OAuth 2.0 client credentials, sync, configuration and audit.
///
/// Settings come from built-in defaults, then the settings file, then KENDRIX_* environment
/// variables (e.g. KENDRIX_DATABASE_URL, KENDRIX_BIND, KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE).
#[derive(Debug, Parser)]
#[command(name = "kendrix-server", version)]
pub struct Cli {
    /// Settings file (TOML). Default: ./kendrix-server.toml if it exists.
    #[arg(long, global = true, env = "KENDRIX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://FILE (default sqlite://kendrix.db) or postgres://USER@HOST/DB.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (creates and migrates the database on first start).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
        /// First set up the "Demo" tenant: a fresh "Demo site" (sync:write config:read) and
        /// "Demo admin" (clients:admin config:read config:write audit:read stats:read),
        /// earlier ones revoked, and the sites "Store 7" (synced) and "Warehouse" (behind,
        /// needing attention). Prints each credential once, the site's first, with the lines
        /// "Demo site enrollment: kendrix1:…" and "Demo admin enrollment: kendrix1:…".
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage OAuth clients (sites).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage central configuration: every change makes a new version.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Verify, sign, export and prune the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Anomaly detection: scan now, list a tenant's alerts.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
}

/// Parses arguments and runs the command on a fresh Tokio runtime.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = load_settings(&cli)?;
    init_logging(&settings, matches!(cli.command, Command::Serve { .. }));
    // `audit verify-report` compares with a database only when one was named.
    let database_named =
        cli.database_url.is_some() || std::env::var_os("KENDRIX_DATABASE_URL").is_some();
    match cli.command {
        Command::Serve { bind, demo } => serve::serve(settings, bind, demo).await,
        Command::Migrate => serve::migrate(&settings).await,
        Command::Tenant(command) => clients::tenant(settings, command).await,
        Command::Client(command) => clients::client(settings, command).await,
        Command::Config(command) => config::run(settings, command).await,
        Command::Audit(command) => audit::run(settings, command, database_named).await,
        Command::Alerts(command) => alerts::run(settings, command).await,
    }
}

fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let default_file = PathBuf::from("kendrix-server.toml");
    let file = cli
        .config
        .clone()
        .or_else(|| default_file.exists().then_some(default_file));
    let mut settings = Settings::load(file.as_deref()).context("reading settings")?;
    if let Some(url) = &cli.database_url {
        settings.database_url = url.clone();
    }
    Ok(settings)
}

fn init_logging(settings: &Settings, serving: bool) {
    let filter = if serving {
        settings.log.as_str()
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if settings.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    kendrix_store::connect(&settings.database_url, settings.max_connections)
        .await
        .with_context(|| {
            format!(
                "opening the database {}",
                kendrix_store::redact_url(&settings.database_url)
            )
        })
}

/// The services on the database the settings name, on the wall clock.
async fn open_app(settings: Settings) -> anyhow::Result<App> {
    let audit_keys = crate::audit_keys::AuditKeys::load(&settings)?;
    let store = open_store(&settings).await?;
    Ok(App::new(store, settings, Arc::new(SystemClock)).with_audit_keys(audit_keys))
}
