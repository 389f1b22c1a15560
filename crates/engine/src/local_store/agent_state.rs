//! What the agent remembers between runs and processes (table `agent_state`, one row a
//! value) as one typed struct: the only code that knows the keys and how each value is
//! written.

use std::collections::HashMap;

use kendrix_core::{Hlc, UnixMillis, Version};
use sqlx::{Sqlite, Transaction};

use super::LocalStore;
use crate::client::FetchedConfig;
use crate::status::{Enrolled, Problem, RunOutcome};
use crate::{EngineError, EngineResult};

/// The keys of `agent_state`.
mod key {
    pub const SERVER: &str = "server";
    pub const CLIENT_ID: &str = "client_id";
    pub const ADMIN_SERVER: &str = "admin.server";
    pub const ADMIN_CLIENT_ID: &str = "admin.client_id";
    pub const SITE_NAME: &str = "site.name";
    pub const SITE_TENANT: &str = "site.tenant";
    pub const ADMIN_NAME: &str = "admin.name";
    pub const ADMIN_TENANT: &str = "admin.tenant";
    pub const NODE_ID: &str = "node_id";
    pub const LAST_SUCCESS: &str = "last_success_at";
    pub const LAST_OUTCOME: &str = "last_outcome";
    pub const LAST_PROBLEM: &str = "last_problem";
    pub const LAST_MESSAGE: &str = "last_message";
    pub const PAUSED_UNTIL: &str = "paused_until";
    pub const NEXT_RUN: &str = "next_run_at";
    pub const RUNNING_PID: &str = "running_pid";
    pub const CONFIG_ETAG: &str = "config_etag";
    pub const CONFIG_VERSION: &str = "config_version";
    pub const CONFIG_BODY: &str = "config_body";
    pub const INTERVAL_OVERRIDE: &str = "interval_override_secs";
    pub const WITNESS_SEQ: &str = "witness_seq";
    pub const WITNESS_HASH: &str = "witness_hash";
    pub const WITNESS_WARNING: &str = "witness_warning";
    pub const AUDIT_KEYS: &str = "audit_keys";
    pub const NOTIFICATIONS: &str = "app.notifications";
    /// The last version the agent's clock gave (written with the changes it dated).
    pub const HLC: &str = "hlc";
}

/// The server's audit chain head as this agent saw it at its last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub seq: i64,
    pub hash: String,
}

/// A credential's names as the server knows them, kept to show without a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Names {
    pub name: String,
    pub tenant: String,
}

/// Everything the agent remembers, typed. Read with [`LocalStore::agent_state`], changed with
/// [`LocalStore::update_state`]. (The HLC's last version is kept beside it, written in the
/// transaction of the changes it dated.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    /// This agent's HLC node id, made once.
    pub node_id: Option<String>,
    /// The server and client enrolled with (the secret is in the OS keychain).
    pub enrolled: Option<Enrolled>,
    /// The admin credential's server and client, apart from the site's enrollment (its
    /// secret is in the OS keychain, in entries of its own).
    pub admin: Option<Enrolled>,
    /// The site's and the admin's names as the server last said (`GET /whoami`).
    pub site_names: Option<Names>,
    pub admin_names: Option<Names>,
    /// The configuration as last fetched: its ETag, version, and only the settings the
    /// engine reads (`SyncSettings::kept_part`), never a secret value.
    pub config: Option<FetchedConfig>,
    pub last_outcome: Option<RunOutcome>,
    /// What stopped the last run, when something did.
    pub last_problem: Option<Problem>,
    pub last_message: Option<String>,
    pub last_success_at: Option<UnixMillis>,
    /// `i64::MAX`: until resumed.
    pub paused_until: Option<UnixMillis>,
    pub next_run_at: Option<UnixMillis>,
    /// The process syncing now, so the status of another process shows it.
    pub running_pid: Option<i64>,
    /// A local sync interval instead of the server's.
    pub interval_override_secs: Option<u64>,
    pub witness: Option<Witness>,
    pub witness_warning: Option<String>,
    /// The server's audit public keys as first seen (JSON), pinned: a signed checkpoint is
    /// checked with them, and new keys are taken only beside them (a rotation).
    pub audit_keys: Option<String>,
    /// Desktop notifications: on unless staff turned them off.
    pub notifications: bool,
}

impl Default for AgentState {
    fn default() -> Self {
        Self::from_values(HashMap::new())
    }
}

impl AgentState {
    /// The problem the last run ended with (older databases kept only the outcome).
    pub fn last_problem(&self) -> Option<Problem> {
        self.last_problem
            .or_else(|| self.last_outcome.and_then(RunOutcome::problem))
    }

    /// Reads the stored values; one that does not parse counts as absent.
    fn from_values(mut values: HashMap<String, String>) -> Self {
        let mut take = |k: &str| values.remove(k);
        fn number<T: std::str::FromStr>(v: Option<String>) -> Option<T> {
            v.and_then(|t| t.parse().ok())
        }
        Self {
            node_id: take(key::NODE_ID),
            enrolled: match (take(key::SERVER), take(key::CLIENT_ID)) {
                (Some(server), Some(client_id)) => Some(Enrolled { server, client_id }),
                _ => None,
            },
            admin: match (take(key::ADMIN_SERVER), take(key::ADMIN_CLIENT_ID)) {
                (Some(server), Some(client_id)) => Some(Enrolled { server, client_id }),
                _ => None,
            },
            site_names: match (take(key::SITE_NAME), take(key::SITE_TENANT)) {
                (Some(name), Some(tenant)) => Some(Names { name, tenant }),
                _ => None,
            },
            admin_names: match (take(key::ADMIN_NAME), take(key::ADMIN_TENANT)) {
                (Some(name), Some(tenant)) => Some(Names { name, tenant }),
                _ => None,
            },
            config: match (
                take(key::CONFIG_ETAG),
                take(key::CONFIG_VERSION),
                take(key::CONFIG_BODY),
            ) {
                (Some(etag), Some(version), Some(body)) => Some(FetchedConfig {
                    etag,
                    version,
                    body,
                }),
                _ => None,
            },
            last_outcome: take(key::LAST_OUTCOME).and_then(|w| RunOutcome::parse(&w)),
            last_problem: take(key::LAST_PROBLEM).and_then(|w| Problem::parse(&w)),
            last_message: take(key::LAST_MESSAGE),
            last_success_at: number(take(key::LAST_SUCCESS)),
            paused_until: number(take(key::PAUSED_UNTIL)),
            next_run_at: number(take(key::NEXT_RUN)),
            running_pid: number(take(key::RUNNING_PID)),
            interval_override_secs: number(take(key::INTERVAL_OVERRIDE)),
            witness: match (number(take(key::WITNESS_SEQ)), take(key::WITNESS_HASH)) {
                (Some(seq), Some(hash)) => Some(Witness { seq, hash }),
                _ => None,
            },
            witness_warning: take(key::WITNESS_WARNING),
            audit_keys: take(key::AUDIT_KEYS),
            notifications: take(key::NOTIFICATIONS).is_none_or(|v| v != "off"),
        }
    }

    /// Every key with the value it is stored as (`None`: no row).
    fn values(&self) -> Vec<(&'static str, Option<String>)> {
        let text = |v: &Option<String>| v.clone();
        let number = |v: Option<i64>| v.map(|n| n.to_string());
        let config = self.config.as_ref();
        let enrolled = self.enrolled.as_ref();
        let admin = self.admin.as_ref();
        let witness = self.witness.as_ref();
        let (site_names, admin_names) = (self.site_names.as_ref(), self.admin_names.as_ref());
        vec![
            (key::NODE_ID, text(&self.node_id)),
            (key::SERVER, enrolled.map(|e| e.server.clone())),
            (key::CLIENT_ID, enrolled.map(|e| e.client_id.clone())),
            (key::ADMIN_SERVER, admin.map(|a| a.server.clone())),
            (key::ADMIN_CLIENT_ID, admin.map(|a| a.client_id.clone())),
            (key::SITE_NAME, site_names.map(|n| n.name.clone())),
            (key::SITE_TENANT, site_names.map(|n| n.tenant.clone())),
            (key::ADMIN_NAME, admin_names.map(|n| n.name.clone())),
            (key::ADMIN_TENANT, admin_names.map(|n| n.tenant.clone())),
            (key::CONFIG_ETAG, config.map(|c| c.etag.clone())),
            (key::CONFIG_VERSION, config.map(|c| c.version.clone())),
            (key::CONFIG_BODY, config.map(|c| c.body.clone())),
            (
                key::LAST_OUTCOME,
                self.last_outcome.map(|o| o.as_str().to_owned()),
            ),
            (
                key::LAST_PROBLEM,
                self.last_problem.map(|p| p.as_str().to_owned()),
            ),
            (key::LAST_MESSAGE, text(&self.last_message)),
            (key::LAST_SUCCESS, number(self.last_success_at)),
            (key::PAUSED_UNTIL, number(self.paused_until)),
            (key::NEXT_RUN, number(self.next_run_at)),
            (key::RUNNING_PID, number(self.running_pid)),
            (
                key::INTERVAL_OVERRIDE,
                self.interval_override_secs.map(|s| s.to_string()),
            ),
            (key::WITNESS_SEQ, witness.map(|w| w.seq.to_string())),
            (key::WITNESS_HASH, witness.map(|w| w.hash.clone())),
            (key::WITNESS_WARNING, text(&self.witness_warning)),
            (key::AUDIT_KEYS, text(&self.audit_keys)),
            (
                key::NOTIFICATIONS,
                Some(if self.notifications { "on" } else { "off" }.to_owned()),
            ),
        ]
    }
}

impl LocalStore {
    /// Everything the agent remembers, in one read.
    pub async fn agent_state(&self) -> EngineResult<AgentState> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM agent_state")
            .fetch_all(&self.pool)
            .await?;
        Ok(AgentState::from_values(rows.into_iter().collect()))
    }

    /// Changes what the agent remembers in one transaction: `change` edits the values as
    /// they are now, and only the values it changed are written (another process may be
    /// writing others). Returns the new state.
    pub async fn update_state(
        &self,
        change: impl FnOnce(&mut AgentState),
    ) -> EngineResult<AgentState> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM agent_state")
            .fetch_all(&mut *tx)
            .await?;
        let before = AgentState::from_values(rows.into_iter().collect());
        let mut after = before.clone();
        change(&mut after);
        for ((key, old), (_, new)) in before.values().into_iter().zip(after.values()) {
            if old == new {
                continue;
            }
            match new {
                Some(value) => set_value(&mut tx, key, &value).await?,
                None => {
                    sqlx::query("DELETE FROM agent_state WHERE key = $1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(after)
    }

    /// The agent's clock for `node`, never behind the last version it handed out.
    pub async fn hlc(&self, node: &str) -> EngineResult<Hlc> {
        let mut hlc = Hlc::new(node).map_err(|e| EngineError::InvalidChange {
            index: 0,
            reason: format!("node id {node:?}: {e}"),
        })?;
        let last: Option<(String,)> =
            sqlx::query_as("SELECT value FROM agent_state WHERE key = $1")
                .bind(key::HLC)
                .fetch_optional(&self.pool)
                .await?;
        if let Some(Ok(last)) = last.map(|(v,)| v.parse::<Version>()) {
            hlc.observe(&last);
        }
        Ok(hlc)
    }
}

/// Keeps the clock's last version in the transaction of the changes it dated, so versions
/// never go backwards across restarts.
pub(super) async fn remember_clock(
    tx: &mut Transaction<'static, Sqlite>,
    last: &Version,
) -> EngineResult<()> {
    set_value(tx, key::HLC, &last.to_string()).await
}

async fn set_value(
    tx: &mut Transaction<'static, Sqlite>,
    key: &str,
    value: &str,
) -> EngineResult<()> {
    sqlx::query("INSERT OR REPLACE INTO agent_state (key, value) VALUES ($1, $2)")
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_state_reads_back_as_written_and_only_changed_values_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("agent.db"))
            .await
            .unwrap();
        let fresh = store.agent_state().await.unwrap();
        assert_eq!(fresh, AgentState::default());
        assert!(
            fresh.notifications,
            "notifications are on unless turned off"
        );
        let written = store
            .update_state(|s| {
                s.enrolled = Some(Enrolled {
                    server: "https://sync.example".into(),
                    client_id: "site-1".into(),
                });
                s.admin = Some(Enrolled {
                    server: "https://sync.example".into(),
                    client_id: "admin-1".into(),
                });
                s.config = Some(FetchedConfig {
                    etag: "e1".into(),
                    version: "1.2".into(),
                    body: "{}".into(),
                });
                s.last_outcome = Some(RunOutcome::Auth);
                s.paused_until = Some(i64::MAX);
                s.witness = Some(Witness {
                    seq: 7,
                    hash: "ab".into(),
                });
                s.notifications = false;
            })
            .await
            .unwrap();
        assert_eq!(store.agent_state().await.unwrap(), written);
        assert_eq!(
            written.last_problem(),
            Some(Problem::Auth),
            "an outcome kept without its problem stands for one"
        );
        // A value this version cannot read is left alone, not overwritten.
        sqlx::query("INSERT INTO agent_state (key, value) VALUES ('next_run_at', 'soon')")
            .execute(&store.pool)
            .await
            .unwrap();
        store
            .update_state(|s| s.last_problem = Some(Problem::Permission))
            .await
            .unwrap();
        let (raw,): (String,) =
            sqlx::query_as("SELECT value FROM agent_state WHERE key = 'next_run_at'")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(raw, "soon");
        let stored: Vec<(String,)> = sqlx::query_as(
            "SELECT key FROM agent_state WHERE key = 'app.notifications' AND value = 'off'",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(stored.len(), 1);
    }
}
