//! Audit entries as exported, in CSV or NDJSON: any number of them streamed in constant
//! memory, a page at a time.

use std::sync::Arc;

use futures::stream::{self, Stream, StreamExt};
use kendrix_core::audit::AuditEntry;
use kendrix_store::{AuditQuery, Store, StoreError};

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
