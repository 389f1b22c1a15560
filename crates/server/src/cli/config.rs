//! `config set|unset|get|history|diff|rollback|rotate-key`: the central configuration, every
//! change a new version.

use anyhow::{bail, Context};
use clap::Subcommand;

use super::open_app;
use crate::app::App;
use crate::context::RequestContext;
use crate::services::configurations::{ChangedBy, Scope, GLOBAL};
use crate::settings::Settings;

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
            (true, _) => Ok(GLOBAL),
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

pub(super) async fn run(settings: Settings, command: ConfigCommand) -> anyhow::Result<()> {
    let app = open_app(settings).await?;
    let ring = crate::keys::load(&app.settings)?;
    let app = app.with_keys(ring);
    run_config(&app, &RequestContext::cli(), command).await
}

fn changed_by<'a>(ctx: &RequestContext, author: &'a str, comment: &'a str) -> ChangedBy<'a> {
    ChangedBy {
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

async fn run_config(app: &App, ctx: &RequestContext, command: ConfigCommand) -> anyhow::Result<()> {
    let configurations = &app.configurations;
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
            let version = configurations
                .set(target.tenant()?, &scope, &key, value, secret, reveal, &by)
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
                configurations
                    .unset(target.tenant()?, &scope, &key, &by)
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
                    let effective = configurations.effective(ctx, tenant, &client_id).await?;
                    print!("{}", effective.config.render(format));
                    if format == kendrix_core::config::ConfigFormat::Json {
                        println!();
                    }
                }
                None => {
                    let version = match version {
                        Some(v) => v,
                        None => configurations
                            .latest_version(ctx, tenant)
                            .await?
                            .context("this configuration has no versions yet")?,
                    };
                    let (_, entries) = configurations.version(ctx, tenant, version).await?;
                    println!("{}", serde_json::to_string_pretty(&entries)?);
                }
            }
        }
        ConfigCommand::History { target } => {
            for v in configurations.versions(ctx, target.tenant()?).await? {
                println!("{:>5}  {}  {:<16} {}", v.version, v.at, v.author, v.comment);
            }
        }
        ConfigCommand::Diff { from, to, target } => {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &configurations.diff(ctx, target.tenant()?, from, to).await?
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
                configurations
                    .rollback(
                        target.tenant()?,
                        to,
                        &changed_by(ctx, &author(who), &comment),
                    )
                    .await?,
            );
        }
        ConfigCommand::RotateKey => {
            let count = configurations.rotate_master_key(ctx).await?;
            println!("{count} secret value(s) re-sealed under the current master key");
        }
    }
    Ok(())
}
