//! `tenant create|list` and `client register|list|revoke`.

use anyhow::{bail, Context};
use clap::Subcommand;
use kendrix_core::ScopeSet;

use super::open_app;
use crate::context::RequestContext;
use crate::services::sites::{Registration, SiteError};
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
    /// enrollment string for `kendrix enroll` (a site) or `kendrix admin enroll` (an admin).
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        tenant_id: i64,
        /// Space-separated scopes from: sync:write config:read config:write audit:read
        /// stats:read clients:admin. A site needs only the default; an admin credential
        /// (e.g. "clients:admin config:read config:write audit:read stats:read") manages
        /// its tenant's sites over the admin API.
        #[arg(long, default_value = "sync:write config:read")]
        scopes: String,
        #[arg(long)]
        json: bool,
    },
    /// List clients (never their secrets) with when each was last seen and why a site
    /// needs attention.
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
    /// Give a client a new secret and enrollment string (shown only this once); the old
    /// secret keeps working for the grace period, so the site can be re-enrolled meanwhile
    /// without losing its queue.
    RotateSecret {
        /// The client id (kxc_…).
        client_id: String,
        /// How long the old secret keeps working: e.g. 90s, 30m, 1h, 2d, or 0 to stop it
        /// at once (at most 30d).
        #[arg(long, value_parser = parse_grace)]
        grace: u64,
        #[arg(long)]
        json: bool,
    },
}

/// A grace period as seconds: a number with an optional unit (s, m, h, d).
fn parse_grace(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: use e.g. 90s, 30m, 1h or 2d"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?}: use s, m, h or d")),
    };
    Ok(number * unit)
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
            let tenants = match tenant_id {
                Some(id) => vec![id],
                None => app.sites.tenants().await?.iter().map(|t| t.id).collect(),
            };
            let mut rows = Vec::new();
            for tenant in tenants {
                for site in app.sites.fleet(&ctx, tenant, true).await? {
                    rows.push((tenant, site));
                }
            }
            if json {
                let rows: Vec<_> = rows
                    .iter()
                    .map(|(tenant, site)| {
                        let mut row = serde_json::to_value(site).expect("a site serializes");
                        row["tenant_id"] = serde_json::json!(tenant);
                        row
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<26} {:>6}  {:<8} {:<6} {:<23} {:<24} NEEDS ATTENTION",
                    "CLIENT ID", "TENANT", "STATE", "ROLE", "LAST SEEN", "NAME"
                );
                for (tenant, site) in rows {
                    let seen = site
                        .last_seen_ms
                        .map(kendrix_core::clock::format_utc)
                        .unwrap_or_else(|| "never".into());
                    println!(
                        "{:<26} {:>6}  {:<8} {:<6} {:<23} {:<24} {}",
                        site.client_id,
                        tenant,
                        site.status,
                        site.role,
                        seen,
                        site.name,
                        site.needs_attention.join("; ")
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
        ClientCommand::RotateSecret {
            client_id,
            grace,
            json,
        } => {
            let app = open_app(settings).await?;
            let rotation = app
                .sites
                .rotate_client_secret(&ctx, &client_id, grace)
                .await
                .map_err(|e| match e {
                    SiteError::NotFound => anyhow::anyhow!(
                        "no client with id {client_id:?} (see `kendrix-server client list`)"
                    ),
                    other => other.into(),
                })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&rotation).expect("a rotation serializes")
                );
            } else {
                println!("new secret for {}", rotation.client_id);
                println!(
                    "  client_secret: {}   (shown once; store it now)",
                    rotation.client_secret
                );
                println!("  enrollment:    {}", rotation.enrollment);
                match rotation.previous_secret_until_ms {
                    Some(until) => println!(
                        "  the old secret works until {}; re-enroll the site before then (`kendrix enroll <string>` keeps its queue)",
                        kendrix_core::clock::format_utc(until)
                    ),
                    None => println!("  the old secret stopped working now"),
                }
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
    print_credentials(r);
    println!("  enrollment:    {}", r.enrollment);
}

/// Prints a registration for a person, its enrollment string on a line of its own that
/// starts with `label` (`Demo site enrollment: kendrix1:…`), for scripts to pick.
pub(super) fn print_labelled_registration(label: &str, r: &Registration) {
    print_credentials(r);
    println!("{label} enrollment: {}", r.enrollment);
}

fn print_credentials(r: &Registration) {
    println!("client registered: {} (tenant {})", r.name, r.tenant_id);
    println!("  client_id:     {}", r.client_id);
    println!(
        "  client_secret: {}   (shown once; store it now)",
        r.client_secret
    );
    println!("  scopes:        {}", r.scopes);
}

#[cfg(test)]
mod tests {
    use super::parse_grace;

    #[test]
    fn grace_periods_read_with_their_units() {
        assert_eq!(parse_grace("90"), Ok(90));
        assert_eq!(parse_grace("30m"), Ok(1800));
        assert_eq!(parse_grace("1h"), Ok(3600));
        assert_eq!(parse_grace("2d"), Ok(172_800));
        assert!(parse_grace("1w").is_err());
        assert!(parse_grace("soon").is_err());
    }
}
