//! The admin console's commands: the admin credential's enrollment and sign-out, and its
//! requests to the admin API. They go out with the admin's own credential (the engine's
//! `AdminClient`), never the site's, and only to the admin API's paths.

use std::sync::Arc;

use kendrix_core::enrollment::Enrollment;
use kendrix_engine::{AdminMethod, Engine};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tauri::{AppHandle, Emitter, State};

use crate::commands::Answer;
use crate::error::{CallError, CommandError};
use crate::files::{choose_save_path, SavedFile};

/// The admin signed in, as Settings shows it.
#[derive(Debug, Serialize)]
pub struct AdminIdentity {
    server: String,
    client_id: String,
    name: Option<String>,
    tenant: Option<String>,
}

/// Signs in as admin: the credential is checked against the server and kept in keychain
/// entries of its own; the site's enrollment is untouched.
#[tauri::command]
pub async fn admin_enroll(
    engine: State<'_, Arc<Engine>>,
    enrollment: String,
) -> Answer<AdminIdentity> {
    let enrollment = Enrollment::decode(&enrollment)?;
    let report = engine.admin_enroll(&enrollment).await?;
    let profile = engine.admin_profile().await.ok();
    let (name, tenant) = profile.map(|p| (p.name, p.tenant_name)).unzip();
    Ok(AdminIdentity {
        server: report.server,
        client_id: report.client_id,
        name,
        tenant,
    })
}

#[tauri::command]
pub async fn admin_sign_out(engine: State<'_, Arc<Engine>>) -> Answer<()> {
    engine.admin_sign_out().await?;
    Ok(())
}

/// One admin API request; the answer's JSON (`null` for an empty answer).
#[tauri::command]
pub async fn admin_request(
    engine: State<'_, Arc<Engine>>,
    method: AdminMethod,
    path: String,
    body: Option<Value>,
) -> Answer<Value> {
    let body = body.filter(|b| !b.is_null());
    Ok(engine
        .admin_request(method, &path, body.as_ref())
        .await?
        .unwrap_or(Value::Null))
}

/// The server's audit filter, as the UI sends it.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    since: Option<i64>,
    until: Option<i64>,
    event: Option<String>,
    client_id: Option<String>,
    outcome: Option<String>,
    q: Option<String>,
}

impl AuditQuery {
    /// The query string of `GET /audit/export`, every value encoded.
    fn encoded(&self, format: &str) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        let text = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        for (name, value) in [
            ("since", self.since.map(|v| v.to_string())),
            ("until", self.until.map(|v| v.to_string())),
            ("event", text(&self.event)),
            ("client_id", text(&self.client_id)),
            ("outcome", text(&self.outcome)),
            ("q", text(&self.q)),
        ] {
            if let Some(value) = value {
                pairs.append_pair(name, &value);
            }
        }
        pairs.append_pair("format", format);
        pairs.finish()
    }
}

/// How far an export has come (event `export-progress`).
#[derive(Debug, Clone, Serialize)]
struct ExportProgress {
    bytes: u64,
}

/// Streams the audit entries the filter selects into a file the user picks in the native
/// save dialog (`None`: cancelled), telling the UI how far it has come.
#[tauri::command]
pub async fn admin_export_audit(
    app: AppHandle,
    engine: State<'_, Arc<Engine>>,
    query: AuditQuery,
    format: String,
) -> Answer<Option<SavedFile>> {
    let (extension, label) = match format.as_str() {
        "csv" => ("csv", "CSV"),
        "ndjson" => ("ndjson", "NDJSON"),
        other => {
            return Err(CommandError::new(
                CallError::Invalid,
                format!("unknown export format {other:?}: csv or ndjson"),
            ))
        }
    };
    let name = format!("kendrix-audit-{}.{extension}", crate::files::file_stamp());
    let Some(path) = choose_save_path(&app, &name, label, &[extension]).await else {
        return Ok(None);
    };
    let step = 256 * 1024;
    let next = std::sync::atomic::AtomicU64::new(0);
    let bytes = engine
        .admin_download(
            &format!("/audit/export?{}", query.encoded(&format)),
            &path,
            |written| {
                if written >= next.load(std::sync::atomic::Ordering::Relaxed) {
                    next.store(written + step, std::sync::atomic::Ordering::Relaxed);
                    let _ = app.emit("export-progress", ExportProgress { bytes: written });
                }
            },
        )
        .await?;
    let _ = app.emit("export-progress", ExportProgress { bytes });
    Ok(Some(SavedFile::new(path, bytes)))
}

/// A compliance report as the server sends it (`GET /audit/report`).
#[derive(Debug, Deserialize)]
struct ReportFiles {
    period: String,
    html: String,
    evidence: Value,
}

/// Where a compliance report's two files were saved.
#[derive(Debug, Serialize)]
pub struct SavedReport {
    report: SavedFile,
    evidence: SavedFile,
}

/// Saves the tenant's compliance report of `[since, until)` (the server's default: the last
/// 30 days): the printable page where the admin picks in the save dialog, the signed
/// evidence beside it (`evidence-<period>.json`, for `kendrix-server audit verify-report`).
/// `None`: cancelled.
#[tauri::command]
pub async fn admin_save_report(
    app: AppHandle,
    engine: State<'_, Arc<Engine>>,
    since: Option<i64>,
    until: Option<i64>,
) -> Answer<Option<SavedReport>> {
    let query: Vec<String> = [("since", since), ("until", until)]
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name}={}", value?)))
        .collect();
    let answer = engine
        .admin_request(
            AdminMethod::Get,
            &format!("/audit/report?{}", query.join("&")),
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let files: ReportFiles = serde_json::from_value(answer).map_err(|e| {
        CommandError::new(
            kendrix_engine::Problem::Refused,
            format!("the server's report could not be read: {e}"),
        )
    })?;
    let name = format!("report-{}.html", files.period);
    let Some(path) = choose_save_path(&app, &name, "HTML", &["html"]).await else {
        return Ok(None);
    };
    let evidence_path = path.with_file_name(format!("evidence-{}.json", files.period));
    let evidence = serde_json::to_string_pretty(&files.evidence).expect("a JSON value serializes");
    // (The process's umask, 077, makes both the user's alone.)
    for (target, text) in [(&path, &files.html), (&evidence_path, &evidence)] {
        std::fs::write(target, text).map_err(|e| {
            CommandError::new(
                kendrix_engine::Problem::Local,
                format!("{} could not be written: {e}", target.display()),
            )
        })?;
    }
    Ok(Some(SavedReport {
        report: SavedFile::new(path, files.html.len() as u64),
        evidence: SavedFile::new(evidence_path, evidence.len() as u64),
    }))
}

#[cfg(test)]
mod tests {
    use super::AuditQuery;

    #[test]
    fn an_export_query_encodes_every_value_and_leaves_blank_ones_out() {
        let query = AuditQuery {
            since: Some(5),
            event: Some("sync.batch.applied,oauth.token.failed".into()),
            q: Some("  ".into()),
            client_id: Some("kxc_1&x=2".into()),
            ..AuditQuery::default()
        };
        assert_eq!(
            query.encoded("csv"),
            "since=5&event=sync.batch.applied%2Coauth.token.failed&client_id=kxc_1%26x%3D2&format=csv"
        );
    }
}
