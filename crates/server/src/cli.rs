//! The `kendrix-server` command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use kendrix_core::ScopeSet;
use kendrix_store::Store;
use tokio::net::TcpListener;

use crate::admin::{self, Registration};
use crate::app::{self, AppState, SystemClock};
use crate::settings::Settings;

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
        /// First make sure a "Demo" tenant exists and register a fresh "Demo site" client
        /// with every scope, printing its credentials and enrollment string.
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
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id, its secret (shown only this once) and an
    /// enrollment string for `kendrix enroll` or the desktop app.
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        tenant_id: i64,
        /// Space-separated scopes from: sync:write config:read config:write audit:read stats:read.
        #[arg(long, default_value = "sync:write config:read")]
        scopes: String,
        #[arg(long)]
        json: bool,
    },
    /// List clients (never their secrets).
    List {
        #[arg(long)]
        tenant_id: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Disable a client and revoke every token it holds; takes effect on its next request.
    Revoke {
        /// The client id (kxc_…).
        client_id: String,
    },
}

/// Parses arguments and runs the command on a fresh Tokio runtime.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(run(cli))
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

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = load_settings(&cli)?;
    init_logging(&settings, matches!(cli.command, Command::Serve { .. }));
    let clock = SystemClock;
    let ctx = admin::cli_context();
    match cli.command {
        Command::Serve { bind, demo } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            let store = open_store(&settings).await?;
            let listener = TcpListener::bind(settings.bind)
                .await
                .with_context(|| format!("listening on {}", settings.bind))?;
            let local = listener.local_addr()?;
            if settings.public_url.is_none() {
                settings.public_url = Some(format!("http://{local}"));
            }
            if demo {
                let registration = demo_client(&*store, &settings).await?;
                print_registration(&registration, false);
            }
            tracing::info!(
                address = %local,
                database = %kendrix_store::redact_url(&settings.database_url),
                "kendrix-server listening"
            );
            // A line for scripts and tests that start the server on port 0.
            println!("listening on http://{local}");
            let state = AppState::new(store, settings, Arc::new(clock));
            app::serve(state, listener, app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            let store = open_store(&settings).await?;
            println!(
                "database {} is up to date ({})",
                kendrix_store::redact_url(&settings.database_url),
                store.backend().as_str()
            );
        }
        Command::Tenant(TenantCommand::Create { name, json }) => {
            let store = open_store(&settings).await?;
            let tenant = admin::create_tenant(&*store, &clock, &ctx, &name)
                .await
                .with_context(|| format!("creating tenant {name:?}"))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": tenant.id, "name": tenant.name})
                );
            } else {
                println!("tenant {} created with id {}", tenant.name, tenant.id);
            }
        }
        Command::Tenant(TenantCommand::List { json }) => {
            let store = open_store(&settings).await?;
            let tenants = store.list_tenants().await?;
            if json {
                let rows: Vec<_> = tenants
                    .iter()
                    .map(|t| serde_json::json!({"id": t.id, "name": t.name, "created_at": t.created_at}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for t in tenants {
                    println!("{:>5}  {}", t.id, t.name);
                }
            }
        }
        Command::Client(ClientCommand::Register {
            name,
            tenant_id,
            scopes,
            json,
        }) => {
            let scopes: ScopeSet = scopes.parse()?;
            if scopes.is_empty() {
                bail!("a client needs at least one scope");
            }
            let store = open_store(&settings).await?;
            let registration = admin::register_client(
                &*store,
                &clock,
                &ctx,
                tenant_id,
                &name,
                &scopes,
                &settings.public_url(),
            )
            .await
            .with_context(|| format!("registering client {name:?} in tenant {tenant_id}"))?;
            print_registration(&registration, json);
        }
        Command::Client(ClientCommand::List { tenant_id, json }) => {
            let store = open_store(&settings).await?;
            let clients = store.list_clients(tenant_id).await?;
            if json {
                let rows: Vec<_> = clients
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.client_id, "tenant_id": c.tenant_id, "name": c.name,
                            "scopes": c.scopes, "created_at": c.created_at, "revoked_at": c.revoked_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<26} {:>6}  {:<8} {:<40} NAME",
                    "CLIENT ID", "TENANT", "STATE", "SCOPES"
                );
                for c in clients {
                    let state = if c.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<26} {:>6}  {:<8} {:<40} {}",
                        c.client_id, c.tenant_id, state, c.scopes, c.name
                    );
                }
            }
        }
        Command::Client(ClientCommand::Revoke { client_id }) => {
            let store = open_store(&settings).await?;
            match admin::revoke_client(&*store, &clock, &ctx, &client_id).await? {
                Some(revoked) => println!(
                    "client {client_id} revoked; {} token(s) revoked",
                    revoked.tokens_revoked
                ),
                None => bail!("no client with id {client_id:?} (see `kendrix-server client list`)"),
            }
        }
    }
    Ok(())
}

/// Ensures the demo tenant and registers a fresh demo client, revoking earlier demo clients
/// (their secrets were shown once and are gone).
async fn demo_client(store: &dyn Store, settings: &Settings) -> anyhow::Result<Registration> {
    let clock = SystemClock;
    let ctx = admin::cli_context();
    let tenant = match store
        .list_tenants()
        .await?
        .into_iter()
        .find(|t| t.name == "Demo")
    {
        Some(t) => t,
        None => admin::create_tenant(store, &clock, &ctx, "Demo").await?,
    };
    for old in store.list_clients(Some(tenant.id)).await? {
        if old.name == "Demo site" && old.revoked_at.is_none() {
            admin::revoke_client(store, &clock, &ctx, &old.client_id).await?;
        }
    }
    Ok(admin::register_client(
        store,
        &clock,
        &ctx,
        tenant.id,
        "Demo site",
        &ScopeSet::all(),
        &settings.public_url(),
    )
    .await?)
}

fn print_registration(r: &Registration, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(r).expect("registration serializes")
        );
        return;
    }
    println!("client registered: {} (tenant {})", r.name, r.tenant_id);
    println!("  client_id:     {}", r.client_id);
    println!(
        "  client_secret: {}   (shown once; store it now)",
        r.client_secret
    );
    println!("  scopes:        {}", r.scopes);
    println!("  enrollment:    {}", r.enrollment);
}
