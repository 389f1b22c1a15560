//! The configuration endpoints: a client's effective configuration as JSON, App.config XML
//! or INI (with ETag), the version history, diffs, admin changes (each with a dry run) and
//! drift.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kendrix_core::config::{ConfigFormat, ConfigValue, EffectiveConfig};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bearer::{Bearer, Caller, ConfigRead, ConfigWrite};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::configurations::{
    ChangedBy, DiffLine, DriftLine, DryRun, Edit, EntryView, Scope,
};

/// The response header naming the configuration version served.
pub const CONFIG_VERSION: &str = "x-config-version";

/// Changes through the API are made by the calling client.
fn changed_by<'a>(caller: &'a Caller, comment: &'a Option<String>) -> ChangedBy<'a> {
    ChangedBy {
        ctx: caller.ctx.clone(),
        author: &caller.client_id,
        comment: comment.as_deref().unwrap_or_default(),
        client_id: Some(&caller.client_id),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FormatQuery {
    /// `json` (default), `xml` (.NET App.config) or `ini`.
    pub format: Option<String>,
}

/// The calling client's effective configuration (global, then tenant, then client
/// settings), with `ETag` (its content hash) and `X-Config-Version`; 304 on `If-None-Match`.
#[utoipa::path(
    get, path = "/config", tag = "config",
    security(("bearer" = ["config:read"])),
    params(FormatQuery),
    responses(
        (status = 200, description = "The effective configuration in the requested format"),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 400, description = "Unknown format", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks config:read", body = Problem),
    )
)]
pub async fn effective(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigRead>,
    Query(query): Query<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format: ConfigFormat = query
        .format
        .as_deref()
        .unwrap_or("json")
        .parse()
        .map_err(ApiError::BadRequest)?;
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let held = |hash: &str| {
        let etag = etag_of(hash);
        if_none_match.is_some_and(|v| {
            v.split(',').any(|t| {
                let t = t.trim();
                t == "*" || t.trim_start_matches("W/") == etag
            })
        })
    };
    let answer = app
        .configurations
        .for_client(&caller.ctx, caller.tenant_id, &caller.client_id, held)
        .await?;
    let effective = answer.effective;
    let etag = etag_of(&answer.hash);
    let mut response = if answer.unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, format.content_type())],
            effective.config.render(format),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&effective.version) {
        headers.insert(CONFIG_VERSION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The `ETag` of a configuration with this content hash.
fn etag_of(hash: &str) -> String {
    format!("\"{hash}\"")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub author: String,
    pub at: i64,
    pub comment: String,
    pub content_hash: String,
}

impl From<kendrix_store::ConfigVersionRow> for VersionView {
    fn from(v: kendrix_store::ConfigVersionRow) -> Self {
        Self {
            version: v.version,
            author: v.author,
            at: v.at,
            comment: v.comment,
            content_hash: v.content_hash,
        }
    }
}

/// The caller's tenant's configuration versions, newest first.
#[utoipa::path(
    get, path = "/config/versions", tag = "config",
    security(("bearer" = ["config:read"])),
    responses(
        (status = 200, description = "Versions, newest first", body = Vec<VersionView>),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks config:read", body = Problem),
    )
)]
pub async fn versions(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigRead>,
) -> Result<Json<Vec<VersionView>>, ApiError> {
    let versions = app
        .configurations
        .versions(&caller.ctx, caller.tenant_id)
        .await?;
    Ok(Json(versions.into_iter().map(VersionView::from).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: VersionView,
    /// Every entry of the version; secret values masked.
    pub entries: Vec<EntryView>,
}

/// One version of the caller's tenant's configuration, secrets masked.
#[utoipa::path(
    get, path = "/config/versions/{version}", tag = "config",
    security(("bearer" = ["config:read"])),
    params(("version" = i64, Path, description = "Version number")),
    responses(
        (status = 200, description = "The version and its entries", body = VersionDetail),
        (status = 400, description = "version is not a whole number", body = Problem),
        (status = 404, description = "No such version in this tenant", body = Problem),
    )
)]
pub async fn version(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigRead>,
    version: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Json<VersionDetail>, ApiError> {
    let Path(version) = version.map_err(|_| ApiError::InvalidParam {
        name: "version",
        reason: "version must be a whole number (see GET /config/versions)".into(),
    })?;
    let (meta, entries) = app
        .configurations
        .version(&caller.ctx, caller.tenant_id, version)
        .await?;
    Ok(Json(VersionDetail {
        version: meta.into(),
        entries,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DiffQuery {
    pub from: i64,
    pub to: i64,
}

/// What changed between two versions of the caller's tenant's configuration.
#[utoipa::path(
    get, path = "/config/diff", tag = "config",
    security(("bearer" = ["config:read"])),
    params(DiffQuery),
    responses(
        (status = 200, description = "Added, removed and changed entries", body = Vec<DiffLine>),
        (status = 400, description = "Bad query", body = Problem),
        (status = 404, description = "No such version in this tenant", body = Problem),
    )
)]
pub async fn diff(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigRead>,
    query: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DiffLine>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let lines = app
        .configurations
        .diff(&caller.ctx, caller.tenant_id, query.from, query.to)
        .await?;
    Ok(Json(lines))
}

/// A setting to set.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetEntry {
    /// `tenant` or `client:<client id>` (a client of the caller's tenant).
    pub scope: String,
    pub key: String,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// `string`, `number`, `bool` or `json`; inferred from `value` if absent.
    #[serde(rename = "type")]
    pub value_type: Option<String>,
    /// Encrypt the value at rest.
    #[serde(default)]
    pub secret: bool,
    /// Let clients read the secret in clear (every such read is audited).
    #[serde(default)]
    pub reveal: bool,
    /// Why the change is made, kept with the version and its audit entry. Optional (stored
    /// as an empty string) unless the server's `require_config_comment` is on; then a
    /// missing or blank one is refused with 400 naming `comment`.
    pub comment: Option<String>,
}

/// `?dry_run=true` on a change.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DryRunQuery {
    /// `true`: answer what the change would do (a `DryRunView`), checked as a real change
    /// is, and write nothing: no version, no audit entry.
    #[serde(default)]
    pub dry_run: bool,
}

/// A configuration in each format `GET /config` serves, secrets masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Renderings {
    /// What `GET /config` answers, as a JSON object (typed values).
    #[schema(value_type = Object)]
    pub json: serde_json::Value,
    /// What `GET /config?format=xml` answers: .NET App.config `<appSettings>`.
    pub xml: String,
    /// What `GET /config?format=ini` answers.
    pub ini: String,
}

impl From<&EffectiveConfig> for Renderings {
    fn from(config: &EffectiveConfig) -> Self {
        Self {
            json: serde_json::Value::Object(
                config
                    .0
                    .iter()
                    .map(|(key, value)| (key.clone(), value.as_json()))
                    .collect(),
            ),
            xml: config.render(ConfigFormat::Xml),
            ini: config.render(ConfigFormat::Ini),
        }
    }
}

/// What a change would do, answered to `?dry_run=true`; nothing was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunView {
    /// Always `true`: this is a dry run, not a new version.
    pub dry_run: bool,
    /// The number the new version would get (unless another change comes first).
    pub version: i64,
    /// From the current version to the would-be new one, as `GET /config/diff` shows it.
    pub diff: Vec<DiffLine>,
    /// Whose configuration `renderings` shows: `tenant` (the global settings, then the
    /// tenant's; also for a rollback) or `client:<client id>` (then that client's own too).
    pub rendered_for: String,
    /// The resulting configuration; every secret masked (`********`), revealable or not.
    pub renderings: Renderings,
}

impl From<DryRun> for DryRunView {
    fn from(run: DryRun) -> Self {
        Self {
            dry_run: true,
            version: run.version,
            diff: run.diff,
            rendered_for: run.rendered_for,
            renderings: Renderings::from(&run.config),
        }
    }
}

/// The answer to a change: the new version, or with `?dry_run=true` what it would do.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ChangeAnswer {
    Written(VersionView),
    DryRun(DryRunView),
}

/// Writes an edit, or only dry-runs it.
async fn change(
    app: &AppState,
    caller: &Caller,
    edit: Edit,
    comment: &Option<String>,
    dry_run: bool,
) -> Result<Json<ChangeAnswer>, ApiError> {
    let by = changed_by(caller, comment);
    let configurations = &app.configurations;
    Ok(Json(if dry_run {
        ChangeAnswer::DryRun(
            configurations
                .dry_run(caller.tenant_id, edit, &by)
                .await?
                .into(),
        )
    } else {
        ChangeAnswer::Written(
            configurations
                .apply(caller.tenant_id, edit, &by)
                .await?
                .into(),
        )
    }))
}

/// Sets a setting: a new version of the caller's tenant's configuration (or, with
/// `?dry_run=true`, what it would be).
#[utoipa::path(
    put, path = "/config/entries", tag = "config",
    security(("bearer" = ["config:write"])),
    params(DryRunQuery),
    request_body = SetEntry,
    responses(
        (status = 200, description = "The new version (VersionView), or with dry_run what it would be (DryRunView)", body = ChangeAnswer),
        (status = 400, description = "Bad key, value, type or scope, or no comment where the server requires one", body = Problem),
        (status = 404, description = "No such client in this tenant", body = Problem),
        (status = 409, description = "A concurrent change, or no master key for a secret", body = Problem),
    )
)]
pub async fn set(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigWrite>,
    query: Result<Query<DryRunQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Json<SetEntry>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ChangeAnswer>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Json(entry) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let edit = Edit::Set {
        scope: Scope::parse(&entry.scope)?,
        key: entry.key,
        value: ConfigValue::from_json(entry.value, entry.value_type.as_deref())
            .map_err(ApiError::BadRequest)?,
        secret: entry.secret,
        reveal: entry.reveal,
    };
    change(&app, &caller, edit, &entry.comment, query.dry_run).await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UnsetQuery {
    /// `tenant` or `client:<client id>`.
    pub scope: String,
    pub key: String,
    /// Why the change is made, kept with the version and its audit entry. Optional (stored
    /// as an empty string) unless the server's `require_config_comment` is on; then a
    /// missing or blank one is refused with 400 naming `comment`.
    pub comment: Option<String>,
    /// `true`: answer what the change would do (a `DryRunView`) and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Removes a setting: a new version of the caller's tenant's configuration (or, with
/// `?dry_run=true`, what it would be).
#[utoipa::path(
    delete, path = "/config/entries", tag = "config",
    security(("bearer" = ["config:write"])),
    params(UnsetQuery),
    responses(
        (status = 200, description = "The new version (VersionView), or with dry_run what it would be (DryRunView)", body = ChangeAnswer),
        (status = 400, description = "Bad scope, or no comment where the server requires one", body = Problem),
        (status = 404, description = "No such setting", body = Problem),
    )
)]
pub async fn unset(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigWrite>,
    query: Result<Query<UnsetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ChangeAnswer>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let edit = Edit::Unset {
        scope: Scope::parse(&query.scope)?,
        key: query.key,
    };
    change(&app, &caller, edit, &query.comment, query.dry_run).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Rollback {
    /// The version to make current again (as a new version).
    pub to: i64,
    /// Why the change is made, kept with the version and its audit entry. Optional (stored
    /// as an empty string) unless the server's `require_config_comment` is on; then a
    /// missing or blank one is refused with 400 naming `comment`.
    pub comment: Option<String>,
}

/// Makes a new version equal to an old one (or, with `?dry_run=true`, shows what it would
/// change).
#[utoipa::path(
    post, path = "/config/rollback", tag = "config",
    security(("bearer" = ["config:write"])),
    params(DryRunQuery),
    request_body = Rollback,
    responses(
        (status = 200, description = "The new version (VersionView), or with dry_run what it would be (DryRunView)", body = ChangeAnswer),
        (status = 400, description = "No comment where the server requires one", body = Problem),
        (status = 404, description = "No such version", body = Problem),
    )
)]
pub async fn rollback(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigWrite>,
    query: Result<Query<DryRunQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Json<Rollback>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ChangeAnswer>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Json(rollback) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let edit = Edit::Rollback { to: rollback.to };
    change(&app, &caller, edit, &rollback.comment, query.dry_run).await
}

/// The clients of the caller's tenant not running their current configuration (by the
/// `config_hash` they send with each batch).
#[utoipa::path(
    get, path = "/config/drift", tag = "config",
    security(("bearer" = ["config:write"])),
    responses((status = 200, description = "Clients off their current configuration", body = Vec<DriftLine>))
)]
pub async fn drift(
    State(app): State<AppState>,
    Bearer(caller, ..): Bearer<ConfigWrite>,
) -> Result<Json<Vec<DriftLine>>, ApiError> {
    let lines = app
        .configurations
        .drift(&caller.ctx, caller.tenant_id)
        .await?;
    Ok(Json(lines))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[test]
    fn the_openapi_document_describes_dry_runs_of_every_change() {
        let doc = serde_json::to_value(crate::http::ApiDoc::openapi()).unwrap();
        for (path, method) in [
            ("/config/entries", "put"),
            ("/config/entries", "delete"),
            ("/config/rollback", "post"),
        ] {
            let operation = &doc["paths"][path][method];
            let params = operation["parameters"].as_array().unwrap();
            assert!(
                params.iter().any(|p| p["name"] == "dry_run"),
                "{method} {path} takes dry_run"
            );
            assert_eq!(
                operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ChangeAnswer",
                "{method} {path}"
            );
        }
        let schemas = &doc["components"]["schemas"];
        for schema in [
            "ChangeAnswer",
            "DryRunView",
            "Renderings",
            "DiffLine",
            "InvalidParam",
        ] {
            assert!(schemas[schema].is_object(), "{schema} is described");
        }
        assert!(schemas["DryRunView"]["properties"]["renderings"].is_object());
        let answers: Vec<_> = schemas["ChangeAnswer"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["$ref"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            answers,
            [
                "#/components/schemas/VersionView",
                "#/components/schemas/DryRunView"
            ]
        );
    }

    #[test]
    fn renderings_are_what_get_config_serves() {
        let config = EffectiveConfig(
            [
                (
                    "db.password".to_owned(),
                    ConfigValue::String("********".into()),
                ),
                ("sync.interval".to_owned(), ConfigValue::Number(300.into())),
            ]
            .into(),
        );
        let renderings = Renderings::from(&config);
        let served: serde_json::Value =
            serde_json::from_str(&config.render(ConfigFormat::Json)).unwrap();
        assert_eq!(renderings.json, served);
        assert_eq!(renderings.xml, config.render(ConfigFormat::Xml));
        assert_eq!(renderings.ini, config.render(ConfigFormat::Ini));
        assert!(renderings.ini.contains("[sync]\ninterval = \"300\""));
    }
}
