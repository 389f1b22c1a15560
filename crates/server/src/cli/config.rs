//! `config set|unset|get|history|diff|rollback|rotate-key`: the central configuration, every
//! change a new version (`--dry-run` shows what a change would do and writes nothing).

use anyhow::{bail, Context};
use clap::Subcommand;

use super::open_app;
use crate::app::App;
use crate::context::RequestContext;
use crate::services::configurations::{ChangedBy, ConfigError, Edit, Scope, GLOBAL};
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

/// Who makes a change, why, and whether only to show what it would do.
#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Why the change is made (kept with the version; required when the server setting
    /// require_config_comment is on).
    #[arg(long, default_value = "")]
    comment: String,
    /// Who makes the change (default: $USER).
    #[arg(long)]
    author: Option<String>,
    /// Print the version it would make and the diff against the current version, checked
    /// as the change itself is, and write nothing (no version, no audit entry).
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a setting (a new version; --dry-run only shows the diff). Keys like
    /// `section.name` become INI sections.
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
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Remove a setting (a new version; --dry-run only shows the diff).
    Unset {
        key: String,
        #[arg(long)]
        client: Option<String>,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        change: ChangeArgs,
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
    /// Make a new version equal to an old one (--dry-run only shows the diff).
    Rollback {
        to: i64,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        change: ChangeArgs,
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

/// Makes an edit as a new version and prints it, or with `--dry-run` prints what it would do.
async fn change(
    app: &App,
    ctx: &RequestContext,
    tenant_id: i64,
    edit: Edit,
    args: ChangeArgs,
) -> anyhow::Result<()> {
    let author = args
        .author
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    let by = ChangedBy {
        ctx: ctx.clone(),
        author: &author,
        comment: &args.comment,
        client_id: None,
    };
    let configurations = &app.configurations;
    let hint = |err: ConfigError| match err {
        ConfigError::CommentRequired => anyhow::anyhow!("{err}: pass --comment \"why\""),
        other => other.into(),
    };
    if args.dry_run {
        let run = configurations
            .dry_run(tenant_id, edit, &by)
            .await
            .map_err(hint)?;
        println!(
            "dry run: would make version {} of {}; nothing was written",
            run.version,
            configuration_name(tenant_id)
        );
        println!("{}", serde_json::to_string_pretty(&run.diff)?);
    } else {
        let v = configurations
            .apply(tenant_id, edit, &by)
            .await
            .map_err(hint)?;
        println!(
            "version {} of {} ({})",
            v.version,
            configuration_name(v.tenant_id),
            v.content_hash
        );
    }
    Ok(())
}

fn configuration_name(tenant_id: i64) -> String {
    if tenant_id == GLOBAL {
        "the global configuration".to_owned()
    } else {
        format!("tenant {tenant_id}")
    }
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
    match command {
        ConfigCommand::Set {
            key,
            value,
            value_type,
            secret,
            reveal,
            client,
            target,
            change: args,
        } => {
            let json = if value_type == "string" {
                serde_json::Value::String(value)
            } else {
                serde_json::from_str(&value)
                    .with_context(|| format!("{value:?} is not a valid {value_type}"))?
            };
            let value = kendrix_core::config::ConfigValue::from_json(json, Some(&value_type))
                .map_err(anyhow::Error::msg)?;
            let edit = Edit::Set {
                scope: scope_of(&target, client),
                key,
                value,
                secret,
                reveal,
            };
            change(app, ctx, target.tenant()?, edit, args).await?;
        }
        ConfigCommand::Unset {
            key,
            client,
            target,
            change: args,
        } => {
            let edit = Edit::Unset {
                scope: scope_of(&target, client),
                key,
            };
            change(app, ctx, target.tenant()?, edit, args).await?;
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
            change: args,
        } => {
            change(app, ctx, target.tenant()?, Edit::Rollback { to }, args).await?;
        }
        ConfigCommand::RotateKey => {
            let count = configurations.rotate_master_key(ctx).await?;
            println!("{count} secret value(s) re-sealed under the current master key");
        }
    }
    Ok(())
}
