//! `tenant create|list` and `client register|list|revoke`.

use anyhow::{bail, Context};
use clap::Subcommand;
use kendrix_core::ScopeSet;

use super::open_app;
use crate::context::RequestContext;
use crate::services::sites::Registration;
use crate::settings::Settings;

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

pub(super) async fn tenant(settings: Settings, command: TenantCommand) -> anyhow::Result<()> {
    let ctx = RequestContext::cli();
    match command {
        TenantCommand::Create { name, json } => {
            let app = open_app(settings).await?;
            let tenant = app
                .sites
                .create_tenant(&ctx, &name)
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
        TenantCommand::List { json } => {
            let app = open_app(settings).await?;
            let tenants = app.sites.tenants().await?;
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
    }
    Ok(())
}

pub(super) async fn client(settings: Settings, command: ClientCommand) -> anyhow::Result<()> {
    let ctx = RequestContext::cli();
    match command {
        ClientCommand::Register {
            name,
            tenant_id,
            scopes,
            json,
        } => {
            let scopes: ScopeSet = scopes.parse()?;
            if scopes.is_empty() {
                bail!("a client needs at least one scope");
            }
            let app = open_app(settings).await?;
            let registration = app
                .sites
                .register_client(&ctx, tenant_id, &name, &scopes)
                .await
                .with_context(|| format!("registering client {name:?} in tenant {tenant_id}"))?;
            print_registration(&registration, json);
        }
        ClientCommand::List { tenant_id, json } => {
            let app = open_app(settings).await?;
            let clients = app.sites.clients(tenant_id).await?;
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
        ClientCommand::Revoke { client_id } => {
            let app = open_app(settings).await?;
            match app.sites.revoke_client(&ctx, &client_id).await? {
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

/// Prints a registration: as JSON, or for a person, with the secret shown this once.
pub(super) fn print_registration(r: &Registration, json: bool) {
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
