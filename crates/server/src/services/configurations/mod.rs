//! The configuration service: effective configuration per client (`effective.rs`), changes
//! as new versions
//! (or dry runs of them), history, diffs, drift, and master-key rotation. Shared by the HTTP
//! API and the CLI.

mod dry_run;
mod effective;
mod history;
mod master_keys;

use std::sync::Arc;

use kendrix_core::config::{check_key, check_value, ConfigValue};
use kendrix_core::{AuditEvent, AuditOutcome, Clock};
use kendrix_store::{
    ConfigChange, ConfigRow, ConfigVersionRow, NewConfigVersion, Store, StoreError,
};
use serde_json::json;

pub use dry_run::DryRun;
use effective::{layered, typed_value};
pub use effective::{ClientConfig, CurrentEntries, Effective, ExpectedRun};
use history::view_scope;
pub use history::{DiffLine, DriftLine, EntryView};

use super::{Failure, Within};
use crate::context::RequestContext;
use crate::entropy::Entropy;
use crate::keys::{Keys, SealedAt};
use crate::settings::Settings;

/// The global configuration is kept as tenant 0's.
pub const GLOBAL: i64 = 0;
/// Longest comment on a configuration change, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

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
    /// The server requires a comment on every change (`require_config_comment`).
    #[error("this server requires a comment saying why the configuration changes")]
    CommentRequired,
    /// The database failed, or a stored secret cannot be opened.
    #[error(transparent)]
    Failed(Failure),
}

impl From<Failure> for ConfigError {
    fn from(failure: Failure) -> Self {
        ConfigError::Failed(failure)
    }
}

impl ConfigError {
    /// A failed write: a version written at the same moment, or a missing setting or
    /// version, are the caller's to act on; anything else is a failure.
    fn of_write(ctx: &RequestContext, err: StoreError) -> Self {
        match err {
            StoreError::AlreadyExists(_) => ConfigError::Conflict,
            StoreError::MissingReference(what) => ConfigError::NotFound(what),
            other => ConfigError::Failed(ctx.failure(other)),
        }
    }
}

/// A stored secret that no master key opens.
#[derive(Debug, thiserror::Error)]
#[error("a secret value cannot be opened: {0}")]
struct Unopenable(kendrix_core::sealed::SealError);

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
                // A client id is visible ASCII (a NUL could not even be looked up).
                .filter(|id| {
                    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
                })
                .map(|id| Scope::Client(id.to_owned()))
                .ok_or_else(|| {
                    ConfigError::Invalid("scope is global, tenant or client:<client id>".into())
                }),
        }
    }

    pub(super) fn stored(&self) -> &str {
        match self {
            Scope::Global => "global",
            Scope::Tenant => "tenant",
            Scope::Client(id) => id,
        }
    }
}

/// Who makes a configuration change and why: the request, the author, the comment, and the
/// calling client (for changes made through the API).
pub struct ChangedBy<'a> {
    pub ctx: RequestContext,
    pub author: &'a str,
    pub comment: &'a str,
    pub client_id: Option<&'a str>,
}

/// A change an admin asks for: written as a new version by [`Configurations::apply`], or
/// only previewed by [`Configurations::dry_run`]. Both check it the same way.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Set a value, sealed if `secret`; `reveal` lets clients read the secret in clear.
    Set {
        scope: Scope,
        key: String,
        value: ConfigValue,
        secret: bool,
        reveal: bool,
    },
    /// Remove a setting.
    Unset { scope: Scope, key: String },
    /// Make a new version equal to an old one.
    Rollback { to: i64 },
}

/// An edit that passed every check, as the store's change with its audit details.
struct Checked {
    change: ConfigChange,
    details: serde_json::Value,
}

/// Keeps the configuration: reads it layered for a client, changes it as new versions, and
/// seals secret values with the master keys.
pub struct Configurations {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    /// Where the master keys are re-read from when an unknown key turns up.
    settings: Arc<Settings>,
    keys: Arc<Keys>,
}

impl Configurations {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        settings: Arc<Settings>,
        keys: Arc<Keys>,
    ) -> Self {
        Self {
            store,
            clock,
            entropy,
            settings,
            keys,
        }
    }

    /// The master keys in use now.
    pub fn key_ring(&self) -> kendrix_core::sealed::KeyRing {
        self.keys.ring()
    }

    /// Writes a checked edit as a new version, with its audit entry.
    async fn write_version(
        &self,
        tenant_id: i64,
        Checked { change, details }: Checked,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        let now = self.clock.now_ms();
        let mut audit = by
            .ctx
            .audit()
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
        self.store
            .change_config(NewConfigVersion {
                tenant_id,
                change,
                author: by.author.to_owned(),
                comment: by.comment.to_owned(),
                at: now,
                audit,
            })
            .await
            .map_err(|e| ConfigError::of_write(&by.ctx, e))
    }

    /// A blank comment is refused where the settings require one.
    fn check_comment(&self, by: &ChangedBy<'_>) -> Result<(), ConfigError> {
        if self.settings.require_config_comment && by.comment.trim().is_empty() {
            return Err(ConfigError::CommentRequired);
        }
        // Kept and shown in the history: line breaks and tabs are fine, a NUL (which
        // PostgreSQL cannot store) or another control character is not.
        let unprintable = by
            .comment
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        if unprintable || by.comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(ConfigError::Invalid(format!(
                "comment must be at most {MAX_COMMENT_CHARS} characters, without control characters other than line breaks and tabs"
            )));
        }
        Ok(())
    }

    /// Checks that a client scope names a client of this tenant.
    async fn check_scope(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        scope: &Scope,
    ) -> Result<(), ConfigError> {
        match scope {
            Scope::Global if tenant_id != GLOBAL => Err(ConfigError::Invalid(
                "the global configuration is changed from the command line only".into(),
            )),
            Scope::Tenant | Scope::Client(_) if tenant_id == GLOBAL => Err(ConfigError::Invalid(
                "a tenant is needed for this scope".into(),
            )),
            Scope::Client(id) => match self.store.client(id).await.within(ctx)? {
                Some(client) if client.tenant_id == tenant_id => Ok(()),
                _ => Err(ConfigError::NotFound(
                    "a client with this id in this tenant",
                )),
            },
            _ => Ok(()),
        }
    }

    /// Checks an edit as a write would (comment, key, value, scope, master key) and makes
    /// it into the store's change, sealing a secret value.
    async fn check(
        &self,
        tenant_id: i64,
        edit: Edit,
        by: &ChangedBy<'_>,
    ) -> Result<Checked, ConfigError> {
        self.check_comment(by)?;
        match edit {
            Edit::Set {
                scope,
                key,
                value,
                secret,
                reveal,
            } => {
                check_key(&key).map_err(|e| ConfigError::Invalid(e.to_string()))?;
                check_value(&value).map_err(|e| ConfigError::Invalid(e.to_string()))?;
                self.check_scope(&by.ctx, tenant_id, &scope).await?;
                let json = value.as_json().to_string();
                let stored = if secret {
                    let ring = self.keys.ring();
                    let key_now = ring.current().ok_or(ConfigError::NoMasterKey)?;
                    let at = SealedAt {
                        tenant_id,
                        scope: scope.stored(),
                        key: &key,
                        reveal,
                    };
                    key_now.seal(&json, &at.context(), &mut self.entropy.rng())
                } else {
                    json
                };
                let details = json!({"action": "set", "scope": view_scope(scope.stored()), "key": key, "secret": secret});
                let row = ConfigRow {
                    scope: scope.stored().to_owned(),
                    key,
                    value_type: value.type_name().to_owned(),
                    value: stored,
                    secret,
                    reveal: secret && reveal,
                };
                Ok(Checked {
                    change: ConfigChange::Set(row),
                    details,
                })
            }
            Edit::Unset { scope, key } => {
                self.check_scope(&by.ctx, tenant_id, &scope).await?;
                let details =
                    json!({"action": "unset", "scope": view_scope(scope.stored()), "key": key});
                Ok(Checked {
                    change: ConfigChange::Unset {
                        scope: scope.stored().to_owned(),
                        key,
                    },
                    details,
                })
            }
            Edit::Rollback { to } => Ok(Checked {
                change: ConfigChange::Rollback { to },
                details: json!({"action": "rollback", "to": to}),
            }),
        }
    }

    /// Makes an edit as a new version of the configuration, with its audit entry.
    pub async fn apply(
        &self,
        tenant_id: i64,
        edit: Edit,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        let checked = self.check(tenant_id, edit, by).await?;
        self.write_version(tenant_id, checked, by).await
    }

    /// Sets a value (sealed if secret) as a new version of the configuration.
    #[allow(clippy::too_many_arguments)]
    pub async fn set(
        &self,
        tenant_id: i64,
        scope: &Scope,
        key: &str,
        value: ConfigValue,
        secret: bool,
        reveal: bool,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        let edit = Edit::Set {
            scope: scope.clone(),
            key: key.to_owned(),
            value,
            secret,
            reveal,
        };
        self.apply(tenant_id, edit, by).await
    }

    /// Removes a setting as a new version of the configuration.
    pub async fn unset(
        &self,
        tenant_id: i64,
        scope: &Scope,
        key: &str,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        let edit = Edit::Unset {
            scope: scope.clone(),
            key: key.to_owned(),
        };
        self.apply(tenant_id, edit, by).await
    }

    /// Makes a new version equal to version `to`.
    pub async fn rollback(
        &self,
        tenant_id: i64,
        to: i64,
        by: &ChangedBy<'_>,
    ) -> Result<ConfigVersionRow, ConfigError> {
        self.apply(tenant_id, Edit::Rollback { to }, by).await
    }
}
