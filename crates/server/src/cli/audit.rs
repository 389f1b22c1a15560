//! `audit verify|checkpoint|keygen|prune|export`.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Subcommand;
use futures::StreamExt;

use super::open_app;
use crate::context::RequestContext;
use crate::entropy::Entropy as _;
use crate::services::audit_log::report::{self, Figures, SignedEvidence};
use crate::services::audit_log::{report_html, ExportFormat, Reader};
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
    /// Write a tenant's compliance report for a period into DIR: report-<period>.html (a
    /// printable page) and evidence-<period>.json (the same figures, the covering signed
    /// checkpoints, signed with the audit key).
    Report {
        #[arg(long)]
        tenant_id: i64,
        /// Start of the period (Unix ms; default: 30 days before --until).
        #[arg(long)]
        since: Option<i64>,
        /// End of the period (Unix ms, exclusive; default: now).
        #[arg(long)]
        until: Option<i64>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Check an evidence file offline: its signature and every checkpoint in it, with the
    /// configured audit keys or --public-key; with --database-url, also its figures against
    /// the database. Exits non-zero naming what does not match.
    VerifyReport {
        file: std::path::PathBuf,
        /// An audit public key (base64, from GET /audit/public-key); may be repeated.
        #[arg(long)]
        public_key: Vec<String>,
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

pub(super) async fn run(
    settings: Settings,
    command: AuditCommand,
    database_named: bool,
) -> anyhow::Result<()> {
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
        AuditCommand::Report {
            tenant_id,
            since,
            until,
            out,
        } => {
            let app = open_app(settings).await?;
            let (since, until) = app.audit_log.report_period(since, until)?;
            let signed = app
                .audit_log
                .evidence(Reader::Operator(&ctx), tenant_id, since, until)
                .await?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let period = report::period_name(since, until);
            let html = out.join(format!("report-{period}.html"));
            let json = out.join(format!("evidence-{period}.json"));
            std::fs::write(&html, report_html::render(&signed))
                .with_context(|| format!("cannot write {}", html.display()))?;
            std::fs::write(&json, serde_json::to_vec_pretty(&signed)?)
                .with_context(|| format!("cannot write {}", json.display()))?;
            println!("{}\n{}", html.display(), json.display());
        }
        AuditCommand::VerifyReport { file, public_key } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let signed: SignedEvidence = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an evidence file", file.display()))?;
            let mut keys = crate::audit_keys::AuditKeys::load(&settings)?
                .trusted()
                .to_vec();
            for text in &public_key {
                keys.push(report::public_key_from_base64(text).map_err(anyhow::Error::msg)?);
            }
            if keys.is_empty() {
                bail!(
                    "no audit public key to check with: pass --public-key (GET /audit/public-key)"
                );
            }
            signed.verify(&keys).map_err(anyhow::Error::msg)?;
            let figures = &signed.evidence.figures;
            if database_named {
                let app = open_app(settings).await?;
                let now = app
                    .audit_log
                    .figures(figures.tenant_id, figures.since, figures.until)
                    .await?;
                if &now != figures {
                    bail!(
                        "the evidence's figures differ from the database's: {}",
                        differences(figures, &now)
                    );
                }
                println!("evidence verified: signature and {} checkpoint(s) match, and the figures match the database", signed.evidence.chain.checkpoints.len());
            } else {
                println!("evidence verified: signature and {} checkpoint(s) match (figures not compared: no --database-url)", signed.evidence.chain.checkpoints.len());
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

/// A day as `YYYY-MM-DD` (UTC), for file names.
/// Which figures differ, by name.
fn differences(claimed: &Figures, derived: &Figures) -> String {
    let claimed = serde_json::to_value(claimed).unwrap_or_default();
    let derived = serde_json::to_value(derived).unwrap_or_default();
    let names: Vec<String> = claimed
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| derived.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    names.join(", ")
}
