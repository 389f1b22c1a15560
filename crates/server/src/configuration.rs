//! The configuration service: effective configuration per client, changes as new versions,
//! history, diffs, drift, and master-key rotation. Shared by the HTTP API and the CLI.

use std::collections::BTreeMap;

use kendrix_core::audit::AuditContext;
use kendrix_core::config::{check_key, check_value, ConfigValue, EffectiveConfig, MASKED};
use kendrix_core::sealed::key_id_of;
use kendrix_core::{AuditEvent, AuditOutcome};
use kendrix_store::{
    ConfigChange, ConfigRow, ConfigVersionRow, NewConfigVersion, Reseal, StoreError,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::keys::seal_context;

/// The global configuration is kept as tenant 0's.
pub const GLOBAL: i64 = 0;

/// Why a configuration request cannot be done, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} does not exist")]
    NotFound(&'static str),
    #[error("the configuration changed at the same moment; read it again and retry")]
    Conflict,
    #[error("secret values need a master key: set KENDRIX_MASTER_KEY or master_key_file")]
    NoMasterKey,
    #[error("a secret value cannot be opened: {0}")]
    Sealed(kendrix_core::sealed::SealError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ConfigError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::AlreadyExists(_) => ConfigError::Conflict,
            StoreError::MissingReference(what) => ConfigError::NotFound(what),
            other => ConfigError::Store(other),
        }
    }
}

/// Where a setting applies, as callers name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Global,
    Tenant,
    /// One client of the tenant, by client id.
    Client(String),
}

impl Scope {
    /// `global`, `tenant` or `client:<client id>`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text {
            "global" => Ok(Scope::Global),
            "tenant" => Ok(Scope::Tenant),
            other => other
                .strip_prefix("client:")
                .filter(|id| !id.is_empty())
                .map(|id| Scope::Client(id.to_owned()))
                .ok_or_else(|| {
                    ConfigError::Invalid("scope is global, tenant or client:<client id>".into())
                }),
        }
    }

    fn stored(&self) -> &str {
        match self {
            Scope::Global => "global",
            Scope::Tenant => "tenant",
            Scope::Client(id) => id,
        }
    }
}

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

/// Who makes a configuration change and why: the audit context, the author, the comment,
/// and the calling client (for changes made through the API).
pub struct ChangedBy<'a> {
    pub ctx: AuditContext,
    pub author: &'a str,
    pub comment: &'a str,
    pub client_id: Option<&'a str>,
}

/// A client's effective configuration, and what reading it involved.
pub struct Effective {
    pub config: EffectiveConfig,
    /// `<global version>.<tenant version>`, for `X-Config-Version`.
    pub version: String,
    /// Secret keys the client reads in clear (audited).
    pub revealed: Vec<String>,
}

fn view_scope(scope: &str) -> String {
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

impl AppState {
    async fn latest_entries(&self, tenant_id: i64) -> Result<(i64, Vec<ConfigRow>), ConfigError> {
        match self.store.config_head(tenant_id).await? {
            Some(head) => Ok((
                head.version,
                self.store.config_entries(tenant_id, head.version).await?,
            )),
            None => Ok((0, Vec::new())),
        }
    }

    /// A stored value as the client receives it: opened if it may read it, masked if not.
    fn client_value(
        &self,
        tenant_id: i64,
        row: &ConfigRow,
    ) -> Result<(ConfigValue, bool), ConfigError> {
        let text = if row.secret {
            if !row.reveal {
                return Ok((ConfigValue::String(MASKED.into()), false));
            }
            self.keys
                .open(
                    &self.settings,
                    &row.value,
                    &seal_context(tenant_id, &row.scope, &row.key),
                )
                .map_err(ConfigError::Sealed)?
        } else {
            row.value.clone()
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        let value =
            ConfigValue::from_json(json, Some(&row.value_type)).map_err(ConfigError::Invalid)?;
        Ok((value, row.secret))
    }

    /// The configuration a client runs: global, then its tenant's, then its own settings.
    pub async fn effective_config(
        &self,
        tenant_id: i64,
        client_id: &str,
    ) -> Result<Effective, ConfigError> {
        let (global_version, global) = self.latest_entries(GLOBAL).await?;
        let (tenant_version, tenant) = self.latest_entries(tenant_id).await?;
        let mut layers = [BTreeMap::new(), BTreeMap::new(), BTreeMap::new()];
        let mut revealed = Vec::new();
        for (owner, rows) in [(GLOBAL, &global), (tenant_id, &tenant)] {
            for row in rows {
                let layer = match row.scope.as_str() {
                    "global" if owner == GLOBAL => 0,
                    "tenant" if owner != GLOBAL => 1,
                    scope if owner != GLOBAL && scope == client_id => 2,
                    _ => continue,
                };
                let (value, secret_read) = self.client_value(owner, row)?;
                if secret_read {
                    revealed.push(row.key.clone());
                }
                layers[layer].insert(row.key.clone(), value);
            }
        }
        let layers = layers.map(EffectiveConfig);
        Ok(Effective {
            config: EffectiveConfig::layered(&layers),
            version: format!("{global_version}.{tenant_version}"),
            revealed,
        })
    }

    /// Audits a client's clear-text read of secret settings.
    pub async fn audit_secret_read(
        &self,
        ctx: &AuditContext,
        tenant_id: i64,
        client_id: &str,
        keys: &[String],
    ) -> Result<(), ConfigError> {
        if keys.is_empty() {
            return Ok(());
        }
        let draft = ctx
            .draft(
                self.clock.now_ms(),
                AuditEvent::ConfigSecretRead,
                AuditOutcome::Success,
                json!({"keys": keys}),
            )
            .tenant(tenant_id)
            .client(client_id.to_owned());
        Ok(self.store.append_audit(&[draft]).await?)
    }

    async fn change(
        &self,
        tenant_id: i64,
        change: ConfigChange,
        details: serde_json::Value,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        let now = self.clock.now_ms();
        let mut audit = by
            .ctx
            .draft(
                now,
                AuditEvent::ConfigChanged,
                AuditOutcome::Success,
                details,
            )
            .with_detail("author", by.author.to_owned())
            .with_detail("comment", by.comment.to_owned());
        if tenant_id != GLOBAL {
            audit = audit.tenant(tenant_id);
        }
        if let Some(client_id) = by.client_id {
            audit = audit.client(client_id.to_owned());
        }
        Ok(self
            .store
            .change_config(NewConfigVersion {
                tenant_id,
                change,
                author: by.author.to_owned(),
                comment: by.comment.to_owned(),
                at: now,
                audit,
            })
            .await?)
    }

    /// Checks that a client scope names a client of this tenant.
    async fn check_scope(&self, tenant_id: i64, scope: &Scope) -> Result<(), ConfigError> {
        match scope {
            Scope::Global if tenant_id != GLOBAL => Err(ConfigError::Invalid(
                "the global configuration is changed from the command line only".into(),
            )),
            Scope::Tenant | Scope::Client(_) if tenant_id == GLOBAL => Err(ConfigError::Invalid(
                "a tenant is needed for this scope".into(),
            )),
            Scope::Client(id) => match self.store.client(id).await? {
                Some(client) if client.tenant_id == tenant_id => Ok(()),
                _ => Err(ConfigError::NotFound(
                    "a client with this id in this tenant",
                )),
            },
            _ => Ok(()),
        }
    }

    /// Sets a value (sealed if secret) as a new version of the configuration.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_config(
        &self,
        tenant_id: i64,
        scope: &Scope,
        key: &str,
        value: ConfigValue,
        secret: bool,
        reveal: bool,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        check_key(key).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        check_value(&value).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.check_scope(tenant_id, scope).await?;
        let json = value.as_json().to_string();
        let stored = if secret {
            let ring = self.keys.ring();
            let key_now = ring.current().ok_or(ConfigError::NoMasterKey)?;
            key_now.seal(
                &json,
                &seal_context(tenant_id, scope.stored(), key),
                &mut rand::thread_rng(),
            )
        } else {
            json
        };
        let row = ConfigRow {
            scope: scope.stored().to_owned(),
            key: key.to_owned(),
            value_type: value.type_name().to_owned(),
            value: stored,
            secret,
            reveal: secret && reveal,
        };
        let details = json!({"action": "set", "scope": view_scope(scope.stored()), "key": key, "secret": secret});
        self.change(tenant_id, ConfigChange::Set(row), details, by)
            .await
    }

    pub async fn unset_config(
        &self,
        tenant_id: i64,
        scope: &Scope,
        key: &str,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        self.check_scope(tenant_id, scope).await?;
        let change = ConfigChange::Unset {
            scope: scope.stored().to_owned(),
            key: key.to_owned(),
        };
        let details = json!({"action": "unset", "scope": view_scope(scope.stored()), "key": key});
        self.change(tenant_id, change, details, by).await
    }

    pub async fn rollback_config(
        &self,
        tenant_id: i64,
        to: i64,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        let details = json!({"action": "rollback", "to": to});
        self.change(tenant_id, ConfigChange::Rollback { to }, details, by)
            .await
    }

    /// One version's entries, secrets masked.
    pub async fn config_version(
        &self,
        tenant_id: i64,
        version: i64,
    ) -> Result<(ConfigVersionRow, Vec<EntryView>), ConfigError> {
        let versions = self.store.config_versions(tenant_id).await?;
        let meta = versions
            .into_iter()
            .find(|v| v.version == version)
            .ok_or(ConfigError::NotFound("this configuration version"))?;
        let rows = self.store.config_entries(tenant_id, version).await?;
        Ok((meta, rows.iter().map(masked_view).collect()))
    }

    /// What changed from one version to another (secret values are never shown).
    pub async fn config_diff(
        &self,
        tenant_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<DiffLine>, ConfigError> {
        let (_, old) = self.config_version(tenant_id, from).await?;
        let (_, new) = self.config_version(tenant_id, to).await?;
        let index = |entries: Vec<EntryView>| -> BTreeMap<(String, String), EntryView> {
            entries
                .into_iter()
                .map(|e| ((e.scope.clone(), e.key.clone()), e))
                .collect()
        };
        let (old, new) = (index(old), index(new));
        let old_rows = self.store.config_entries(tenant_id, from).await?;
        let new_rows = self.store.config_entries(tenant_id, to).await?;
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
    pub async fn config_drift(&self, tenant_id: i64) -> Result<Vec<DriftLine>, ConfigError> {
        let mut drift = Vec::new();
        for report in self.store.config_reports(tenant_id).await? {
            let expected = self
                .effective_config(tenant_id, &report.client_id)
                .await?
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

    /// Re-seals every secret value under the current master key (the first of the ring).
    pub async fn rotate_master_key(&self, ctx: &AuditContext) -> Result<u64, ConfigError> {
        let ring = self.keys.ring();
        let current = ring.current().ok_or(ConfigError::NoMasterKey)?.clone();
        let mut updates: Vec<Reseal> = Vec::new();
        for entry in self.store.sealed_entries().await? {
            if key_id_of(&entry.value).ok() == Some(current.id()) {
                continue;
            }
            let context = seal_context(entry.tenant_id, &entry.scope, &entry.key);
            let plain = self
                .keys
                .open(&self.settings, &entry.value, &context)
                .map_err(ConfigError::Sealed)?;
            updates.push(Reseal {
                value: current.seal(&plain, &context, &mut rand::thread_rng()),
                ..entry
            });
        }
        let audit = ctx.draft(
            self.clock.now_ms(),
            AuditEvent::ConfigKeyRotated,
            AuditOutcome::Success,
            json!({"key_id": current.id()}),
        );
        Ok(self.store.reseal(&updates, audit).await?)
    }

    /// Refuses to serve when stored secrets were sealed with keys this server lacks.
    pub async fn check_master_keys(&self) -> Result<(), String> {
        let ring = self.keys.ring();
        let mut missing: Vec<String> = self
            .store
            .sealed_entries()
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .filter_map(|e| key_id_of(&e.value).ok().map(str::to_owned))
            .filter(|id| !ring.has(id))
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "encrypted configuration values exist that no configured master key can open (key id {}); \
                 set KENDRIX_MASTER_KEY or list the key in master_key_file",
                missing.join(", ")
            ))
        }
    }
}
