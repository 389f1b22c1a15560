//! `audit verify|prune|export`.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Subcommand;
use futures::StreamExt;

use super::open_app;
use crate::context::RequestContext;
use crate::services::audit_log::{ExportFormat, Reader};
use crate::settings::Settings;

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

pub(super) async fn run(settings: Settings, command: AuditCommand) -> anyhow::Result<()> {
    let ctx = RequestContext::cli();
    match command {
        AuditCommand::Verify => {
            let app = open_app(settings).await?;
            let result = app.audit_log.verify_for(Reader::Operator(&ctx)).await?;
            match &result.first_broken {
                None => println!(
                    "audit chain intact: {} entries, head {} {}",
                    result.entries_checked, result.head_seq, result.head_hash
                ),
                Some(link) => bail!("audit chain broken at entry {}: {}", link.seq, link.reason),
            }
        }
        AuditCommand::Prune { days } => {
            let days = days.or(settings.audit_retention_days).context(
                "say how many days to keep: --days N or the audit_retention_days setting",
            )?;
            let app = open_app(settings).await?;
            let deleted = app.audit_log.prune(&ctx, days).await?;
            println!("{deleted} audit entries older than {days} days deleted; the rest verifies from the checkpoint");
        }
        AuditCommand::Export {
            tenant_id,
            format,
            since,
            until,
            event,
            client_id,
            outcome,
            q,
        } => {
            let app = open_app(settings).await?;
            let format: ExportFormat = format.parse().map_err(anyhow::Error::msg)?;
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
            let details = serde_json::json!({"via": "cli"});
            let mut chunks = app
                .audit_log
                .export_for(Reader::Operator(&ctx), query, format, details)
                .await?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            while let Some(chunk) = chunks.next().await {
                out.write_all(chunk?.as_bytes())?;
            }
        }
    }
    Ok(())
}
