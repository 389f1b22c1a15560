//! `alerts scan|list`.

use anyhow::Context;
use clap::Subcommand;

use super::open_app;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Run one anomaly detection pass now (the audit chain's verification included), as the
    /// server does every minute, and print what it opened and resolved.
    Scan,
    /// List a tenant's alerts, open ones first.
    List {
        #[arg(long)]
        tenant_id: i64,
        /// open or resolved (default: both).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

pub(super) async fn run(settings: Settings, command: AlertsCommand) -> anyhow::Result<()> {
    let app = open_app(settings).await?;
    match command {
        AlertsCommand::Scan => {
            let report = app.anomalies.scan().await?;
            app.sites.rank_fleet().await?;
            println!(
                "{} site(s) checked: {} alert(s) opened, {} resolved, {} open",
                report.sites, report.opened, report.resolved, report.open
            );
        }
        AlertsCommand::List {
            tenant_id,
            state,
            limit,
        } => {
            let open = match state.as_deref() {
                None => None,
                Some("open") => Some(true),
                Some("resolved") => Some(false),
                Some(other) => anyhow::bail!("--state {other}: open or resolved"),
            };
            let alerts = app
                .store
                .alerts(&kendrix_store::AlertQuery {
                    tenant_id: Some(tenant_id),
                    open,
                    limit,
                    ..Default::default()
                })
                .await
                .context("alerts not read")?;
            if alerts.is_empty() {
                println!("no alerts");
            }
            for a in alerts {
                println!(
                    "#{} {} {} {}: {}",
                    a.id,
                    if a.resolved_at.is_some() {
                        "resolved"
                    } else {
                        "OPEN    "
                    },
                    kendrix_core::clock::format_utc(a.opened_at),
                    a.kind,
                    a.summary
                );
            }
        }
    }
    Ok(())
}
