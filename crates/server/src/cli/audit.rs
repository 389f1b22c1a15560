//! `audit verify|checkpoint|keygen|prune|export`.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Subcommand;
use futures::StreamExt;

use super::open_app;
use crate::context::RequestContext;
use crate::entropy::Entropy as _;
use crate::services::audit_log::{ExportFormat, Reader};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain and every signed checkpoint (signature, position, no
    /// checkpoint past the end); exits non-zero and names the first broken link if any.
    Verify,
    /// Sign the chain's head now with the audit signing key (the server also does it every
    /// audit_checkpoint_minutes).
    Checkpoint,
    /// Print a new audit signing key (a line for the audit_signing_key_file, or the value
    /// of KENDRIX_AUDIT_SIGNING_KEY) and, on stderr, its key id.
    Keygen,
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
                    "audit chain intact: {} entries, head {} {}; {}",
                    result.entries_checked,
                    result.head_seq,
                    result.head_hash,
                    match result.signed_through {
                        Some(seq) => format!(
                            "{} signed checkpoint(s) match, the newest at entry {seq}",
                            result.checkpoints_checked
                        ),
                        None => "no signed checkpoint yet".to_owned(),
                    }
                ),
                Some(link) => bail!("audit chain broken at entry {}: {}", link.seq, link.reason),
            }
        }
        AuditCommand::Checkpoint => {
            let app = open_app(settings).await?;
            if app.audit_log.keys().signing().is_none() {
                bail!("no audit signing key: set KENDRIX_AUDIT_SIGNING_KEY or audit_signing_key_file (`kendrix-server audit keygen` makes a key)");
            }
            match app.audit_log.checkpoint().await? {
                Some(c) => println!(
                    "signed checkpoint: entry {} {} at {} with key {}",
                    c.seq, c.hash, c.signed_at_ms, c.key_id
                ),
                None => println!("the chain's head is signed already (or the chain is empty)"),
            }
        }
        AuditCommand::Keygen => {
            let mut seed = [0u8; 32];
            crate::entropy::SystemEntropy.fill(&mut seed);
            let key = kendrix_core::checkpoint::AuditSigningKey::from_seed(seed);
            eprintln!("audit signing key {} (keep this line secret; publish nothing but GET /audit/public-key)", key.key_id());
            println!(
                "{}",
                kendrix_core::checkpoint::AuditSigningKey::seed_base64(seed)
            );
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
