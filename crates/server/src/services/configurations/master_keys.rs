//! Master-key rotation and the start-up check that every stored secret can be opened.

use kendrix_core::sealed::key_id_of;
use kendrix_core::{AuditEvent, AuditOutcome};
use kendrix_store::Reseal;
use serde_json::json;

use super::{ConfigError, Configurations, Unopenable};
use crate::context::RequestContext;
use crate::keys::seal_context;
use crate::services::Within;

impl Configurations {
    /// Re-seals every secret value under the current master key (the first of the ring).
    pub async fn rotate_master_key(&self, ctx: &RequestContext) -> Result<u64, ConfigError> {
        let ring = self.keys.ring();
        let current = ring.current().ok_or(ConfigError::NoMasterKey)?.clone();
        let mut updates: Vec<Reseal> = Vec::new();
        for entry in self.store.sealed_entries().await.within(ctx)? {
            if key_id_of(&entry.value).ok() == Some(current.id()) {
                continue;
            }
            let context = seal_context(entry.tenant_id, &entry.scope, &entry.key);
            let plain = self
                .keys
                .open(&self.settings, &entry.value, &context)
                .map_err(Unopenable)
                .within(ctx)?;
            updates.push(Reseal {
                value: current.seal(&plain, &context, &mut self.entropy.rng()),
                ..entry
            });
        }
        let audit = ctx.audit().draft(
            self.clock.now_ms(),
            AuditEvent::ConfigKeyRotated,
            AuditOutcome::Success,
            json!({"key_id": current.id()}),
        );
        Ok(self.store.reseal(&updates, audit).await.within(ctx)?)
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
