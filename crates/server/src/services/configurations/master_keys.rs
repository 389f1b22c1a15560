//! Master-key rotation and the start-up check that every stored secret can be opened.

use kendrix_core::sealed::{self, format_and_key_id, key_id_of};
use kendrix_core::{AuditEvent, AuditOutcome};
use kendrix_store::Reseal;
use serde_json::json;

use super::{ConfigError, Configurations, Unopenable};
use crate::context::RequestContext;
use crate::keys::SealedAt;
use crate::services::Within;

impl Configurations {
    /// Re-seals every secret value under the current master key (the first of the ring),
    /// and every value of an older format in the current one.
    pub async fn rotate_master_key(&self, ctx: &RequestContext) -> Result<u64, ConfigError> {
        self.reseal(ctx, |_| true).await
    }

    /// Re-seals the values of an older sealed format (`kxs1`, which did not bind the
    /// `reveal` flag) in the current one; the server does it at start. None left: no write.
    pub async fn upgrade_sealed_values(&self, ctx: &RequestContext) -> Result<u64, ConfigError> {
        let old_format = |value: &str| {
            format_and_key_id(value).is_ok_and(|(format, _)| format != sealed::FORMAT)
        };
        let any = self
            .store
            .sealed_entries()
            .await
            .within(ctx)?
            .iter()
            .any(|e| old_format(&e.value));
        if !any || self.keys.ring().is_empty() {
            return Ok(0);
        }
        self.reseal(ctx, old_format).await
    }

    /// Re-seals the values that are not sealed with the current key in the current format
    /// and that `also` picks, in one write with its audit entry.
    async fn reseal(
        &self,
        ctx: &RequestContext,
        also: impl Fn(&str) -> bool,
    ) -> Result<u64, ConfigError> {
        let ring = self.keys.ring();
        let current = ring.current().ok_or(ConfigError::NoMasterKey)?.clone();
        let mut updates: Vec<Reseal> = Vec::new();
        for entry in self.store.sealed_entries().await.within(ctx)? {
            let up_to_date =
                format_and_key_id(&entry.value).ok() == Some((sealed::FORMAT, current.id()));
            if up_to_date || !also(&entry.value) {
                continue;
            }
            let at = SealedAt {
                tenant_id: entry.tenant_id,
                scope: &entry.scope,
                key: &entry.key,
                reveal: entry.reveal,
            };
            let plain = self
                .keys
                .open(&self.settings, &entry.value, &at)
                .map_err(Unopenable)
                .within(ctx)?;
            let value = current.seal(&plain, &at.context(), &mut self.entropy.rng());
            updates.push(Reseal { value, ..entry });
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
