//! The `kendrix-server` command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use kendrix_core::{Clock, ScopeSet};
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
    /// Manage central configuration: every change makes a new version.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Verify, export and prune the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; exits non-zero and names the first broken link if any.
    Verify,
    /// Delete entries older than the retention now (the server also does it in the
    /// background when audit_retention_days is set), keeping a verifiable checkpoint.
    Prune {
        /// Days to keep (default: the audit_retention_days setting).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Write a tenant's audit entries (newest first) to stdout as CSV or NDJSON.
    Export {
        #[arg(long)]
        tenant_id: i64,
        /// csv or ndjson.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Entries at or after this time (Unix ms).
        #[arg(long)]
        since: Option<i64>,
        /// Entries before this time (Unix ms).
        #[arg(long)]
        until: Option<i64>,
        /// Event names, comma-separated.
        #[arg(long)]
        event: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
        /// success or failure.
        #[arg(long)]
        outcome: Option<String>,
        /// Words that must appear in the entry.
        #[arg(long)]
        q: Option<String>,
    },
}

/// Which configuration a command works on.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The tenant whose configuration to use.
    #[arg(long, conflicts_with = "global")]
    tenant_id: Option<i64>,
    /// The global configuration (the base of every tenant's).
    #[arg(long)]
    global: bool,
}

impl Target {
    fn tenant(&self) -> anyhow::Result<i64> {
        match (self.global, self.tenant_id) {
            (true, _) => Ok(crate::configuration::GLOBAL),
            (false, Some(id)) if id > 0 => Ok(id),
            _ => bail!("say which configuration: --tenant-id N or --global"),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a setting (a new version). Keys like `section.name` become INI sections.
    Set {
        key: String,
        value: String,
        /// string (default), number, bool or json.
        #[arg(long = "type", default_value = "string")]
        value_type: String,
        /// Encrypt the value at rest (needs a master key).
        #[arg(long)]
        secret: bool,
        /// Let clients read this secret in clear (each read is audited).
        #[arg(long, requires = "secret")]
        reveal: bool,
        /// Apply to one client of the tenant only.
        #[arg(long)]
        client: Option<String>,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "")]
        comment: String,
        /// Who makes the change (default: $USER).
        #[arg(long)]
        author: Option<String>,
    },
    /// Remove a setting (a new version).
    Unset {
        key: String,
        #[arg(long)]
        client: Option<String>,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        author: Option<String>,
    },
    /// Print a client's effective configuration, or a version's entries (secrets masked).
    Get {
        /// The client whose effective configuration to print.
        #[arg(long)]
        client: Option<String>,
        /// json, xml or ini (with --client).
        #[arg(long, default_value = "json")]
        format: String,
        /// The version to print (without --client; default: the latest).
        #[arg(long)]
        version: Option<i64>,
        #[command(flatten)]
        target: Target,
    },
    /// List the versions, newest first.
    History {
        #[command(flatten)]
        target: Target,
    },
    /// Show what changed between two versions.
    Diff {
        from: i64,
        to: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Make a new version equal to an old one.
    Rollback {
        to: i64,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        author: Option<String>,
    },
    /// Re-seal every secret value under the current master key (the first one configured;
    /// keep the old key configured too until this has run). Safe while servers run.
    RotateKey,
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
            let ring = crate::keys::load(&settings)?;
            let state = AppState::new(store, settings, Arc::new(clock)).with_keys(ring);
            state
                .check_master_keys()
                .await
                .map_err(anyhow::Error::msg)?;
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
        Command::Audit(AuditCommand::Verify) => {
            let store = open_store(&settings).await?;
            let result = crate::audit_log::verify(&*store).await?;
            let audit = ctx.draft(
                clock.now_ms(),
                kendrix_core::AuditEvent::AuditVerified,
                kendrix_core::AuditOutcome::Success,
                serde_json::json!({"ok": result.ok, "entries_checked": result.entries_checked}),
            );
            store.append_audit(&[audit]).await?;
            match &result.first_broken {
                None => println!(
                    "audit chain intact: {} entries, head {} {}",
                    result.entries_checked, result.head_seq, result.head_hash
                ),
                Some(link) => bail!("audit chain broken at entry {}: {}", link.seq, link.reason),
            }
        }
        Command::Audit(AuditCommand::Prune { days }) => {
            let days = days.or(settings.audit_retention_days).context(
                "say how many days to keep: --days N or the audit_retention_days setting",
            )?;
            let store = open_store(&settings).await?;
            let deleted = crate::audit_log::prune(&*store, &ctx, clock.now_ms(), days).await?;
            println!("{deleted} audit entries older than {days} days deleted; the rest verifies from the checkpoint");
        }
        Command::Audit(AuditCommand::Export {
            tenant_id,
            format,
            since,
            until,
            event,
            client_id,
            outcome,
            q,
        }) => {
            use futures::StreamExt;
            use std::io::Write;
            let store = open_store(&settings).await?;
            let format: crate::audit_log::ExportFormat =
                format.parse().map_err(anyhow::Error::msg)?;
            let events = event
                .map(|list| {
                    list.split(',')
                        .map(|e| e.trim().to_owned())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let query = kendrix_store::AuditQuery {
                tenant_id,
                since,
                until,
                events,
                client_id,
                outcome,
                text: q,
                before_seq: None,
                limit: 0,
            };
            let audit = ctx
                .draft(
                    clock.now_ms(),
                    kendrix_core::AuditEvent::AuditExported,
                    kendrix_core::AuditOutcome::Success,
                    serde_json::json!({"via": "cli"}),
                )
                .tenant(tenant_id);
            store.append_audit(&[audit]).await?;
            let mut chunks = crate::audit_log::export(store.clone(), query, format);
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            while let Some(chunk) = chunks.next().await {
                out.write_all(chunk?.as_bytes())?;
            }
        }
        Command::Config(command) => {
            let store = open_store(&settings).await?;
            let ring = crate::keys::load(&settings)?;
            let state = AppState::new(store, settings, Arc::new(clock)).with_keys(ring);
            run_config(&state, &ctx, command).await?;
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

fn changed_by<'a>(
    ctx: &kendrix_core::audit::AuditContext,
    author: &'a str,
    comment: &'a str,
) -> crate::configuration::ChangedBy<'a> {
    crate::configuration::ChangedBy {
        ctx: ctx.clone(),
        author,
        comment,
        client_id: None,
    }
}

fn author(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into())
}

async fn run_config(
    state: &AppState,
    ctx: &kendrix_core::audit::AuditContext,
    command: ConfigCommand,
) -> anyhow::Result<()> {
    use crate::configuration::Scope;
    let scope_of = |target: &Target, client: Option<String>| -> Scope {
        match (target.global, client) {
            (true, _) => Scope::Global,
            (false, Some(id)) => Scope::Client(id),
            (false, None) => Scope::Tenant,
        }
    };
    let print_version = |v: kendrix_store::ConfigVersionRow| {
        println!(
            "version {} of {} ({})",
            v.version,
            if v.tenant_id == 0 {
                "the global configuration".to_owned()
            } else {
                format!("tenant {}", v.tenant_id)
            },
            v.content_hash
        );
    };
    match command {
        ConfigCommand::Set {
            key,
            value,
            value_type,
            secret,
            reveal,
            client,
            target,
            comment,
            author: who,
        } => {
            let json = if value_type == "string" {
                serde_json::Value::String(value)
            } else {
                serde_json::from_str(&value)
                    .with_context(|| format!("{value:?} is not a valid {value_type}"))?
            };
            let value = kendrix_core::config::ConfigValue::from_json(json, Some(&value_type))
                .map_err(anyhow::Error::msg)?;
            let scope = scope_of(&target, client);
            let who = author(who);
            let by = changed_by(ctx, &who, &comment);
            let version = state
                .set_config(target.tenant()?, &scope, &key, value, secret, reveal, &by)
                .await?;
            print_version(version);
        }
        ConfigCommand::Unset {
            key,
            client,
            target,
            comment,
            author: who,
        } => {
            let scope = scope_of(&target, client);
            let who = author(who);
            let by = changed_by(ctx, &who, &comment);
            print_version(
                state
                    .unset_config(target.tenant()?, &scope, &key, &by)
                    .await?,
            );
        }
        ConfigCommand::Get {
            client,
            format,
            version,
            target,
        } => {
            let tenant = target.tenant()?;
            match client {
                Some(client_id) => {
                    let format: kendrix_core::config::ConfigFormat =
                        format.parse().map_err(anyhow::Error::msg)?;
                    let effective = state.effective_config(tenant, &client_id).await?;
                    print!("{}", effective.config.render(format));
                    if format == kendrix_core::config::ConfigFormat::Json {
                        println!();
                    }
                }
                None => {
                    let version = match version {
                        Some(v) => v,
                        None => state
                            .store
                            .config_head(tenant)
                            .await?
                            .map(|h| h.version)
                            .context("this configuration has no versions yet")?,
                    };
                    let (_, entries) = state.config_version(tenant, version).await?;
                    println!("{}", serde_json::to_string_pretty(&entries)?);
                }
            }
        }
        ConfigCommand::History { target } => {
            for v in state.store.config_versions(target.tenant()?).await? {
                println!("{:>5}  {}  {:<16} {}", v.version, v.at, v.author, v.comment);
            }
        }
        ConfigCommand::Diff { from, to, target } => {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &state.config_diff(target.tenant()?, from, to).await?
                )?
            );
        }
        ConfigCommand::Rollback {
            to,
            target,
            comment,
            author: who,
        } => {
            print_version(
                state
                    .rollback_config(
                        target.tenant()?,
                        to,
                        &changed_by(ctx, &author(who), &comment),
                    )
                    .await?,
            );
        }
        ConfigCommand::RotateKey => {
            let count = state.rotate_master_key(ctx).await?;
            println!("{count} secret value(s) re-sealed under the current master key");
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
