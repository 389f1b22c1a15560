//! A configuration's history as admins read it: its versions, one version's entries with
//! secrets masked, the difference between two versions, and the clients off the current one.

use std::collections::BTreeMap;

use kendrix_core::config::MASKED;
use kendrix_store::{ConfigRow, ConfigVersionRow};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ConfigError, Configurations};
use crate::context::RequestContext;
use crate::services::Within;

/// One entry of a version as admins see it: secrets masked.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EntryView {
    /// `global`, `tenant` or `client:<client id>`.
    pub scope: String,
    pub key: String,
    #[serde(rename = "type")]
    pub value_type: String,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub secret: bool,
    /// Whether clients may read this secret in clear.
    pub reveal: bool,
}

/// A difference between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiffLine {
    pub scope: String,
    pub key: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    #[schema(value_type = Option<Object>)]
    pub from: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub to: Option<serde_json::Value>,
}

/// A client and whether it runs its current configuration.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DriftLine {
    pub client_id: String,
    pub name: String,
    pub expected_hash: String,
    pub reported_hash: Option<String>,
    pub reported_at: Option<i64>,
}

pub(super) fn view_scope(scope: &str) -> String {
    match scope {
        "global" | "tenant" => scope.to_owned(),
        client => format!("client:{client}"),
    }
}

fn masked_view(row: &ConfigRow) -> EntryView {
    EntryView {
        scope: view_scope(&row.scope),
        key: row.key.clone(),
        value_type: row.value_type.clone(),
        value: if row.secret {
            serde_json::Value::String(MASKED.into())
        } else {
            serde_json::from_str(&row.value).unwrap_or(serde_json::Value::Null)
        },
        secret: row.secret,
        reveal: row.reveal,
    }
}

impl Configurations {
    /// The versions of a configuration, newest first.
    pub async fn versions(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<Vec<ConfigVersionRow>, ConfigError> {
        Ok(self.store.config_versions(tenant_id).await.within(ctx)?)
    }

    /// The number of the current version, if there is one.
    pub async fn latest_version(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<Option<i64>, ConfigError> {
        let head = self.store.config_head(tenant_id).await.within(ctx)?;
        Ok(head.map(|h| h.version))
    }

    /// One version's entries, secrets masked.
    pub async fn version(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        version: i64,
    ) -> Result<(ConfigVersionRow, Vec<EntryView>), ConfigError> {
        let versions = self.store.config_versions(tenant_id).await.within(ctx)?;
        let meta = versions
            .into_iter()
            .find(|v| v.version == version)
            .ok_or(ConfigError::NotFound("this configuration version"))?;
        let rows = self
            .store
            .config_entries(tenant_id, version)
            .await
            .within(ctx)?;
        Ok((meta, rows.iter().map(masked_view).collect()))
    }

    /// What changed from one version to another (secret values are never shown).
    pub async fn diff(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<DiffLine>, ConfigError> {
        let (_, old) = self.version(ctx, tenant_id, from).await?;
        let (_, new) = self.version(ctx, tenant_id, to).await?;
        let index = |entries: Vec<EntryView>| -> BTreeMap<(String, String), EntryView> {
            entries
                .into_iter()
                .map(|e| ((e.scope.clone(), e.key.clone()), e))
                .collect()
        };
        let (old, new) = (index(old), index(new));
        let old_rows = self
            .store
            .config_entries(tenant_id, from)
            .await
            .within(ctx)?;
        let new_rows = self.store.config_entries(tenant_id, to).await.within(ctx)?;
        let stored = |rows: &[ConfigRow], scope: &str, key: &str| {
            rows.iter()
                .find(|r| view_scope(&r.scope) == scope && r.key == key)
                .map(|r| (r.value.clone(), r.value_type.clone(), r.reveal))
        };
        let mut lines = Vec::new();
        for ((scope, key), entry) in &new {
            match old.get(&(scope.clone(), key.clone())) {
                None => lines.push(DiffLine {
                    scope: scope.clone(),
                    key: key.clone(),
                    change: "added",
                    from: None,
                    to: Some(entry.value.clone()),
                }),
                Some(before) => {
                    // Secrets compare by their stored (sealed) text: a re-set secret shows as changed.
                    if stored(&old_rows, scope, key) != stored(&new_rows, scope, key)
                        || before.secret != entry.secret
                    {
                        lines.push(DiffLine {
                            scope: scope.clone(),
                            key: key.clone(),
                            change: "changed",
                            from: Some(before.value.clone()),
                            to: Some(entry.value.clone()),
                        });
                    }
                }
            }
        }
        for ((scope, key), entry) in &old {
            if !new.contains_key(&(scope.clone(), key.clone())) {
                lines.push(DiffLine {
                    scope: scope.clone(),
                    key: key.clone(),
                    change: "removed",
                    from: Some(entry.value.clone()),
                    to: None,
                });
            }
        }
        lines.sort_by(|a, b| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
        Ok(lines)
    }

    /// The clients of a tenant not running their current configuration.
    pub async fn drift(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<Vec<DriftLine>, ConfigError> {
        let current = self.current_entries(ctx, tenant_id).await?;
        let mut drift = Vec::new();
        for report in self.store.config_reports(tenant_id).await.within(ctx)? {
            let expected = self
                .effective_from(ctx, &current, &report.client_id)?
                .config
                .content_hash();
            if report.config_hash.as_deref() != Some(expected.as_str()) {
                drift.push(DriftLine {
                    client_id: report.client_id,
                    name: report.name,
                    expected_hash: expected,
                    reported_hash: report.config_hash,
                    reported_at: report.reported_at,
                });
            }
        }
        Ok(drift)
    }
}
