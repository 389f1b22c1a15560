//! A dry run: what a change would do — the version it would make, the diff against the
//! current version, and the configuration that results — read from the current version
//! without any write (no version, no audit entry).

use kendrix_core::config::{ConfigValue, EffectiveConfig, MASKED};
use kendrix_store::{ConfigChange, ConfigRow};

use super::history::{diff_rows, view_scope};
use super::{layered, typed_value, ChangedBy, ConfigError, Configurations, DiffLine, Edit};
use super::{Scope, GLOBAL};
use crate::services::Within;

/// What a change would do if it were written now.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    /// The number the new version would get (unless another change comes first).
    pub version: i64,
    /// From the current version to the would-be new one, as `diff` shows it.
    pub diff: Vec<DiffLine>,
    /// Whose configuration `config` is: `global`, `tenant` or `client:<client id>`.
    pub rendered_for: String,
    /// The configuration `rendered_for` would receive: the global settings, then the
    /// tenant's, then (for a client) its own. Every secret is masked, revealable or not, so
    /// a dry run reads no secret and audits nothing.
    pub config: EffectiveConfig,
}

impl Configurations {
    /// What an edit would do, checked exactly as [`Configurations::apply`] checks it, with
    /// nothing written.
    pub async fn dry_run(
        &self,
        tenant_id: i64,
        edit: Edit,
        by: &ChangedBy<'_>,
    ) -> Result<DryRun, ConfigError> {
        let ctx = &by.ctx;
        let rendered_for = match &edit {
            Edit::Set { scope, .. } | Edit::Unset { scope, .. } => scope.clone(),
            Edit::Rollback { .. } if tenant_id == GLOBAL => Scope::Global,
            Edit::Rollback { .. } => Scope::Tenant,
        };
        let checked = self.check(tenant_id, edit, by).await?;
        let (current_version, _, current) = self.latest_entries(ctx, tenant_id).await?;
        let next = match &checked.change {
            ConfigChange::Rollback { to } if *to < 1 || *to > current_version => {
                return Err(ConfigError::NotFound("the configuration version"));
            }
            ConfigChange::Rollback { to } => self
                .store
                .config_entries(tenant_id, *to)
                .await
                .within(ctx)?,
            change => next_entries(current.clone(), change)?,
        };
        let (global, tenant) = if tenant_id == GLOBAL {
            (next.clone(), Vec::new())
        } else {
            (self.latest_entries(ctx, GLOBAL).await?.2, next.clone())
        };
        let client = match &rendered_for {
            Scope::Client(id) => Some(id.as_str()),
            Scope::Global | Scope::Tenant => None,
        };
        let config = layered(tenant_id, client, &global, &tenant, |_, row| masked(row))?;
        Ok(DryRun {
            version: current_version + 1,
            diff: diff_rows(&current, &next),
            rendered_for: view_scope(rendered_for.stored()),
            config,
        })
    }
}

/// A value as an admin may see it without a secret read: secrets masked.
fn masked(row: &ConfigRow) -> Result<ConfigValue, ConfigError> {
    if row.secret {
        Ok(ConfigValue::String(MASKED.into()))
    } else {
        typed_value(row, &row.value)
    }
}

/// The entries a set or unset makes of the current ones: the store's rule for a new
/// version (`kendrix_store`'s `config::apply_change`), kept here too because a dry run
/// must not open a write transaction. The stories check that a dry run's diff is the one
/// the write then makes.
fn next_entries(
    mut entries: Vec<ConfigRow>,
    change: &ConfigChange,
) -> Result<Vec<ConfigRow>, ConfigError> {
    match change {
        ConfigChange::Set(row) => {
            entries.retain(|e| !(e.scope == row.scope && e.key == row.key));
            entries.push(row.clone());
        }
        ConfigChange::Unset { scope, key } => {
            let before = entries.len();
            entries.retain(|e| !(&e.scope == scope && &e.key == key));
            if entries.len() == before {
                return Err(ConfigError::NotFound("the setting"));
            }
        }
        ConfigChange::Rollback { .. } => {}
    }
    entries.sort_by(|a, b| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scope: &str, key: &str, value: &str) -> ConfigRow {
        ConfigRow {
            scope: scope.into(),
            key: key.into(),
            value_type: "number".into(),
            value: value.into(),
            secret: false,
            reveal: false,
        }
    }

    #[test]
    fn a_set_replaces_the_same_scope_and_key_and_leaves_other_scopes_alone() {
        let current = vec![row("tenant", "a", "1"), row("kxc_site", "a", "2")];
        let next = next_entries(current, &ConfigChange::Set(row("tenant", "a", "3"))).unwrap();
        let values: Vec<_> = next
            .iter()
            .map(|r| (r.scope.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(values, [("kxc_site", "2"), ("tenant", "3")]);
    }

    #[test]
    fn unsetting_a_missing_setting_is_not_found_as_in_a_write() {
        let unset = ConfigChange::Unset {
            scope: "tenant".into(),
            key: "nope".into(),
        };
        let err = next_entries(vec![row("tenant", "a", "1")], &unset).unwrap_err();
        assert!(matches!(err, ConfigError::NotFound("the setting")), "{err}");
        let unset_a = ConfigChange::Unset {
            scope: "tenant".into(),
            key: "a".into(),
        };
        assert!(next_entries(vec![row("tenant", "a", "1")], &unset_a)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn secrets_are_masked_even_when_clients_may_read_them() {
        let secret = ConfigRow {
            value_type: "string".into(),
            value: "kxs1:k1:sealed".into(),
            secret: true,
            reveal: true,
            ..row("tenant", "db.password", "")
        };
        assert_eq!(masked(&secret).unwrap(), ConfigValue::String(MASKED.into()));
        assert_eq!(
            masked(&row("tenant", "a", "7")).unwrap(),
            ConfigValue::Number(7.into())
        );
    }
}
