//! Reading the audit log: verification of the hash chain, pages of entries, and exports
//! that stream any number of entries in constant memory. Shared by the API and the CLI.

use futures::stream::{self, Stream, StreamExt};
use kendrix_core::audit::{AuditEntry, BrokenLink, ChainVerifier};
use kendrix_store::{AuditQuery, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// Entries read per round trip when verifying or exporting.
const PAGE: i64 = 5000;

/// The outcome of verifying the whole chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub entries_checked: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The first entry that does not fit, and why.
    #[schema(value_type = Option<Object>)]
    pub first_broken: Option<BrokenLink>,
}

/// Verifies the chain from its start (or the retention checkpoint) to its recorded head,
/// one page at a time.
pub async fn verify(store: &dyn Store) -> Result<Verification, StoreError> {
    let (head_seq, head_hash) = store.audit_head().await?;
    let (pruned_seq, pruned_hash) = store.audit_checkpoint().await?;
    let mut verifier = ChainVerifier::starting_after(pruned_seq, &pruned_hash);
    let mut after = pruned_seq;
    let mut broken = None;
    'pages: loop {
        let page = store.audit_entries(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for entry in &page {
            if let Err(link) = verifier.check(entry) {
                broken = Some(link);
                break 'pages;
            }
        }
    }
    if broken.is_none() {
        broken = verifier.finish(head_seq, &head_hash).err();
    }
    Ok(Verification {
        ok: broken.is_none(),
        entries_checked: verifier.checked(),
        head_seq,
        head_hash,
        first_broken: broken,
    })
}

/// Deletes entries older than the retention, keeping a checkpoint; audited.
pub async fn prune(
    store: &dyn Store,
    ctx: &kendrix_core::audit::AuditContext,
    now: i64,
    retention_days: u32,
) -> Result<u64, StoreError> {
    let before = now - i64::from(retention_days) * 86_400_000;
    let audit = ctx.draft(
        now,
        kendrix_core::AuditEvent::AuditPruned,
        kendrix_core::AuditOutcome::Success,
        serde_json::json!({"retention_days": retention_days}),
    );
    store.prune_audit(before, audit).await
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "ndjson" => Ok(ExportFormat::Ndjson),
            other => Err(format!("format {other:?} is unknown; use csv or ndjson")),
        }
    }
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }
}

const CSV_HEADER: &str =
    "seq,at,tenant_id,client_id,request_id,source,event,outcome,details,hash\n";

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn render(format: ExportFormat, entry: AuditEntry) -> String {
    match format {
        ExportFormat::Ndjson => {
            let mut line = serde_json::to_string(&entry).expect("entry serializes");
            line.push('\n');
            line
        }
        ExportFormat::Csv => {
            let opt = |v: &Option<String>| v.as_deref().map(csv_field).unwrap_or_default();
            format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                entry.seq,
                entry.at,
                entry.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
                opt(&entry.client_id),
                opt(&entry.request_id),
                opt(&entry.source),
                csv_field(&entry.event),
                csv_field(&entry.outcome),
                csv_field(&entry.details),
                entry.hash
            )
        }
    }
}

/// Streams every entry the query selects, newest first, a page at a time.
pub fn export(
    store: std::sync::Arc<dyn Store>,
    mut query: AuditQuery,
    format: ExportFormat,
) -> impl Stream<Item = Result<String, StoreError>> + Send {
    query.limit = PAGE;
    let header = stream::iter(match format {
        ExportFormat::Csv => vec![Ok(CSV_HEADER.to_owned())],
        ExportFormat::Ndjson => vec![],
    });
    let pages = stream::unfold(Some(query), move |state| {
        let store = store.clone();
        async move {
            let mut query = state?;
            match store.query_audit(&query).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let full = page.len() as i64 == query.limit;
                    query.before_seq = page.last().map(|e| e.seq);
                    let chunk: String = page.into_iter().map(|e| render(format, e)).collect();
                    Some((Ok(chunk), full.then_some(query)))
                }
                Err(err) => Some((Err(err), None)),
            }
        }
    });
    header.chain(pages).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            csv_field(r#"{"a":1,"b":"x"}"#),
            r#""{""a"":1,""b"":""x""}""#
        );
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
