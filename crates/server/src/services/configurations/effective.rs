//! Reading the configuration: the current entries of the global and a tenant's
//! configuration, layered for one client (global → tenant → the client's own), what many
//! clients should run at once, and a client's read of its configuration (secrets opened
//! where it may read them, and audited).

use std::collections::{BTreeMap, HashMap};

use kendrix_core::config::{ConfigValue, EffectiveConfig, MASKED};
use kendrix_core::{AuditEvent, AuditOutcome, UnixMillis};
use kendrix_store::ConfigRow;
use serde_json::json;

use super::{ConfigError, Configurations, Unopenable, GLOBAL};
use crate::context::RequestContext;
use crate::keys::SealedAt;
use crate::services::Within;

/// A client's effective configuration, and what reading it involved.
pub struct Effective {
    pub config: EffectiveConfig,
    /// `<global version>.<tenant version>`, for `X-Config-Version`.
    pub version: String,
    /// Secret keys the client reads in clear (audited).
    pub revealed: Vec<String>,
}

/// The latest entries of the global and one tenant's configuration
/// ([`Configurations::current_entries`]).
pub struct CurrentEntries {
    tenant_id: i64,
    global_version: i64,
    global: Vec<ConfigRow>,
    tenant_version: i64,
    tenant: Vec<ConfigRow>,
    /// When the later of the two versions was written (0: neither exists).
    pub published_at: UnixMillis,
}

/// What a client should run, in brief: for the fleet's drift and schedule, and the drift
/// detector.
#[derive(Debug, Clone)]
pub struct ExpectedRun {
    /// The content hash of its configuration (the ETag of `GET /config`).
    pub hash: String,
    /// `<global version>.<tenant version>`.
    pub version: String,
    /// `sync.interval_seconds`, if set to a whole number.
    pub interval_secs: Option<i64>,
}

impl ExpectedRun {
    fn of(effective: &Effective) -> Self {
        Self {
            hash: effective.config.content_hash(),
            version: effective.version.clone(),
            interval_secs: configured_interval(&effective.config),
        }
    }
}

/// `sync.interval_seconds` of a configuration, if set to a whole number.
fn configured_interval(config: &EffectiveConfig) -> Option<i64> {
    match config.0.get("sync.interval_seconds")? {
        ConfigValue::Number(n) => n.as_i64(),
        ConfigValue::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|secs| *secs > 0)
}

/// What a client receives when it asks for its configuration.
pub struct ClientConfig {
    pub effective: Effective,
    /// The content hash of the configuration (its ETag).
    pub hash: String,
    /// The client already holds this configuration: nothing was sent, no secret was read.
    pub unchanged: bool,
}

impl Configurations {
    pub(super) async fn latest_entries(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<(i64, UnixMillis, Vec<ConfigRow>), ConfigError> {
        match self.store.config_head(tenant_id).await.within(ctx)? {
            Some(head) => Ok((
                head.version,
                head.at,
                self.store
                    .config_entries(tenant_id, head.version)
                    .await
                    .within(ctx)?,
            )),
            None => Ok((0, 0, Vec::new())),
        }
    }

    /// A stored value as the client receives it: opened if it may read it, masked if not.
    fn client_value(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        row: &ConfigRow,
    ) -> Result<(ConfigValue, bool), ConfigError> {
        if !row.secret {
            return Ok((typed_value(row, &row.value)?, false));
        }
        if !row.reveal {
            return Ok((ConfigValue::String(MASKED.into()), false));
        }
        let text = self
            .keys
            .open(
                &self.settings,
                &row.value,
                &SealedAt {
                    tenant_id,
                    scope: &row.scope,
                    key: &row.key,
                    reveal: row.reveal,
                },
            )
            .map_err(Unopenable)
            .within(ctx)?;
        Ok((typed_value(row, &text)?, true))
    }

    /// The configuration a client runs: global, then its tenant's, then its own settings.
    pub async fn effective(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        client_id: &str,
    ) -> Result<Effective, ConfigError> {
        let current = self.current_entries(ctx, tenant_id).await?;
        self.effective_from(ctx, &current, client_id)
    }

    /// The latest entries of the global and a tenant's configuration: what every client of
    /// the tenant runs, read once for all of them.
    pub async fn current_entries(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
    ) -> Result<CurrentEntries, ConfigError> {
        let (global_version, global_at, global) = self.latest_entries(ctx, GLOBAL).await?;
        let (tenant_version, tenant_at, tenant) = self.latest_entries(ctx, tenant_id).await?;
        Ok(CurrentEntries {
            tenant_id,
            global_version,
            global,
            tenant_version,
            tenant,
            published_at: global_at.max(tenant_at),
        })
    }

    /// The configuration one client runs, made from its tenant's current entries.
    pub fn effective_from(
        &self,
        ctx: &RequestContext,
        current: &CurrentEntries,
        client_id: &str,
    ) -> Result<Effective, ConfigError> {
        let CurrentEntries {
            tenant_id,
            global_version,
            global,
            tenant_version,
            tenant,
            published_at: _,
        } = current;
        let mut revealed = Vec::new();
        let config = layered(*tenant_id, Some(client_id), global, tenant, |owner, row| {
            let (value, secret_read) = self.client_value(ctx, owner, row)?;
            if secret_read {
                revealed.push(row.key.clone());
            }
            Ok(value)
        })?;
        Ok(Effective {
            config,
            version: format!("{global_version}.{tenant_version}"),
            revealed,
        })
    }

    /// What each of `client_ids` should run, from its tenant's current entries: layered
    /// (and hashed) once for every client without settings of its own, and again only for
    /// each client with some — the fleet and the drift detector ask for thousands at once.
    pub fn expected_runs<'a>(
        &self,
        ctx: &RequestContext,
        current: &CurrentEntries,
        client_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<&'a str, ExpectedRun>, ConfigError> {
        let own: std::collections::HashSet<&str> = current
            .tenant
            .iter()
            .map(|row| row.scope.as_str())
            .filter(|scope| *scope != "tenant")
            .collect();
        let mut shared: Option<ExpectedRun> = None;
        let mut runs = HashMap::new();
        for client_id in client_ids {
            let run = if own.contains(client_id) {
                ExpectedRun::of(&self.effective_from(ctx, current, client_id)?)
            } else {
                match &shared {
                    Some(run) => run.clone(),
                    None => {
                        // No row names this client: it runs what the tenant runs.
                        let run = ExpectedRun::of(&self.effective_from(ctx, current, client_id)?);
                        shared.insert(run).clone()
                    }
                }
            };
            runs.insert(client_id, run);
        }
        Ok(runs)
    }

    /// A client's effective configuration as it asks for it: `held` tells whether it already
    /// holds the configuration with a given content hash. Secrets it reads in clear are
    /// audited, unless it already held them.
    pub async fn for_client(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        client_id: &str,
        held: impl FnOnce(&str) -> bool,
    ) -> Result<ClientConfig, ConfigError> {
        let effective = self.effective(ctx, tenant_id, client_id).await?;
        let hash = effective.config.content_hash();
        let unchanged = held(&hash);
        if !unchanged {
            self.audit_secret_read(ctx, tenant_id, client_id, &effective.revealed)
                .await?;
        }
        Ok(ClientConfig {
            effective,
            hash,
            unchanged,
        })
    }

    /// Audits a client's clear-text read of secret settings.
    async fn audit_secret_read(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        client_id: &str,
        keys: &[String],
    ) -> Result<(), ConfigError> {
        if keys.is_empty() {
            return Ok(());
        }
        let draft = ctx
            .audit()
            .draft(
                self.clock.now_ms(),
                AuditEvent::ConfigSecretRead,
                AuditOutcome::Success,
                json!({"keys": keys}),
            )
            .tenant(tenant_id)
            .client(client_id.to_owned());
        Ok(self.store.append_audit(&[draft]).await.within(ctx)?)
    }
}

/// A stored value's JSON text read as its type.
pub(super) fn typed_value(row: &ConfigRow, text: &str) -> Result<ConfigValue, ConfigError> {
    let json: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    ConfigValue::from_json(json, Some(&row.value_type)).map_err(ConfigError::Invalid)
}

/// Layers the global entries, then the tenant's, then (if given) one client's own, each
/// value as `value` reads it (`value` gets the entry's owner: [`GLOBAL`] or the tenant).
pub(super) fn layered(
    tenant_id: i64,
    client_id: Option<&str>,
    global: &[ConfigRow],
    tenant: &[ConfigRow],
    mut value: impl FnMut(i64, &ConfigRow) -> Result<ConfigValue, ConfigError>,
) -> Result<EffectiveConfig, ConfigError> {
    let mut layers = [BTreeMap::new(), BTreeMap::new(), BTreeMap::new()];
    for (owner, rows) in [(GLOBAL, global), (tenant_id, tenant)] {
        for row in rows {
            let layer = match row.scope.as_str() {
                "global" if owner == GLOBAL => 0,
                "tenant" if owner != GLOBAL => 1,
                scope if owner != GLOBAL && Some(scope) == client_id => 2,
                _ => continue,
            };
            layers[layer].insert(row.key.clone(), value(owner, row)?);
        }
    }
    Ok(EffectiveConfig::layered(&layers.map(EffectiveConfig)))
}
