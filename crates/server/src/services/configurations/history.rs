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
        let old = self.version_rows(ctx, tenant_id, from).await?;
        let new = self.version_rows(ctx, tenant_id, to).await?;
        Ok(diff_rows(&old, &new))
    }

    /// The stored entries of a version that exists.
    async fn version_rows(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        version: i64,
    ) -> Result<Vec<ConfigRow>, ConfigError> {
        let versions = self.store.config_versions(tenant_id).await.within(ctx)?;
        if !versions.iter().any(|v| v.version == version) {
            return Err(ConfigError::NotFound("this configuration version"));
        }
        Ok(self
            .store
            .config_entries(tenant_id, version)
            .await
            .within(ctx)?)
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

/// What changed from one snapshot to another, by scope and key; secret values masked.
pub(super) fn diff_rows(old: &[ConfigRow], new: &[ConfigRow]) -> Vec<DiffLine> {
    let index = |rows: &[ConfigRow]| -> BTreeMap<(String, String), (EntryView, ConfigRow)> {
        rows.iter()
            .map(|r| {
                let view = masked_view(r);
                ((view.scope.clone(), view.key.clone()), (view, r.clone()))
            })
            .collect()
    };
    let (old, new) = (index(old), index(new));
    let line = |(scope, key): &(String, String), change, from, to| DiffLine {
        scope: scope.clone(),
        key: key.clone(),
        change,
        from,
        to,
    };
    let mut lines = Vec::new();
    for (at, (entry, row)) in &new {
        match old.get(at) {
            None => lines.push(line(at, "added", None, Some(entry.value.clone()))),
            // Secrets compare by their stored (sealed) text: a re-set secret shows as changed.
            Some((before, was))
                if (&was.value, &was.value_type, was.reveal, was.secret)
                    != (&row.value, &row.value_type, row.reveal, row.secret) =>
            {
                lines.push(line(
                    at,
                    "changed",
                    Some(before.value.clone()),
                    Some(entry.value.clone()),
                ));
            }
            Some(_) => {}
        }
    }
    for (at, (entry, _)) in &old {
        if !new.contains_key(at) {
            lines.push(line(at, "removed", Some(entry.value.clone()), None));
        }
    }
    lines.sort_by(|a, b| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
    lines
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(scope: &str, key: &str, value: &str, secret: bool) -> ConfigRow {
        ConfigRow {
            scope: scope.into(),
            key: key.into(),
            value_type: if secret { "string" } else { "number" }.into(),
            value: value.into(),
            secret,
            reveal: false,
        }
    }

    #[test]
    fn a_diff_lists_added_changed_and_removed_entries_by_scope_and_key() {
        let old = [
            row("tenant", "a", "1", false),
            row("tenant", "b", "2", false),
            row("kxc_site", "a", "3", false),
        ];
        let new = [
            row("tenant", "a", "1", false),
            row("tenant", "b", "5", false),
            row("tenant", "c", "6", false),
        ];
        let lines: Vec<_> = diff_rows(&old, &new)
            .into_iter()
            .map(|l| (l.scope, l.key, l.change, l.from, l.to))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "client:kxc_site".into(),
                    "a".into(),
                    "removed",
                    Some(json!(3)),
                    None
                ),
                (
                    "tenant".into(),
                    "b".into(),
                    "changed",
                    Some(json!(2)),
                    Some(json!(5))
                ),
                ("tenant".into(), "c".into(), "added", None, Some(json!(6))),
            ]
        );
    }

    #[test]
    fn a_re_sealed_secret_shows_as_changed_and_stays_masked() {
        let old = [row("tenant", "db.password", "kxs1:k1:aaaa", true)];
        let new = [row("tenant", "db.password", "kxs1:k1:bbbb", true)];
        let lines = diff_rows(&old, &new);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].change, "changed");
        assert_eq!(lines[0].from, Some(json!(MASKED)));
        assert_eq!(lines[0].to, Some(json!(MASKED)));
        assert!(diff_rows(&new, &new).is_empty(), "a snapshot equals itself");
    }
}
