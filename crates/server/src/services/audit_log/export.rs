//! Audit entries as listed and exported: the entry view, and exports in CSV or NDJSON that
//! stream any number of entries in constant memory, a page at a time.

use std::sync::Arc;

use futures::stream::{self, Stream, StreamExt};
use kendrix_store::{AuditQuery, Store, StoreError, StoredAuditEntry};
use serde::Serialize;
use utoipa::ToSchema;

use super::PAGE;

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

/// An audit entry as exported and listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryView {
    pub seq: i64,
    pub at: i64,
    pub tenant_id: Option<i64>,
    pub client_id: Option<String>,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub event: String,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub hash: String,
}

impl From<StoredAuditEntry> for EntryView {
    fn from(e: StoredAuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            tenant_id: e.tenant_id,
            client_id: e.client_id,
            request_id: e.request_id,
            source: e.source,
            event: e.event,
            outcome: e.outcome,
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
            hash: e.hash,
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

fn render(format: ExportFormat, entry: StoredAuditEntry) -> String {
    match format {
        ExportFormat::Ndjson => {
            let mut line =
                serde_json::to_string(&EntryView::from(entry)).expect("entry serializes");
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
pub(super) fn export(
    store: Arc<dyn Store>,
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
