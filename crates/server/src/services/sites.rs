//! Tenants and the clients (sites) registered in them: the administration the command line
//! does today and an admin API will do later.

use std::sync::Arc;

use kendrix_core::credentials::{self, CredentialKind};
use kendrix_core::enrollment::Enrollment;
use kendrix_core::{AuditEvent, AuditOutcome, Clock, ScopeSet};
use kendrix_store::{Client, NewClient, RevokedClient, Store, StoreResult, Tenant};
use serde::Serialize;
use serde_json::json;

use crate::context::RequestContext;
use crate::entropy::Entropy;

/// A newly registered client. The secret exists only here: it is shown once, never stored.
#[derive(Serialize)]
pub struct Registration {
    pub client_id: String,
    pub client_secret: String,
    pub tenant_id: i64,
    pub name: String,
    pub scopes: String,
    /// One line to paste into `kendrix enroll` or the desktop app.
    pub enrollment: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// Creates tenants and registers and revokes their clients; every change is audited.
pub struct Sites {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    /// The server URL put into enrollment strings.
    server_url: String,
}

impl Sites {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        server_url: String,
    ) -> Self {
        Self {
            store,
            clock,
            entropy,
            server_url,
        }
    }

    pub async fn create_tenant(&self, ctx: &RequestContext, name: &str) -> StoreResult<Tenant> {
        let now = self.clock.now_ms();
        let audit = ctx.audit().draft(
            now,
            AuditEvent::TenantCreated,
            AuditOutcome::Success,
            json!({"name": name}),
        );
        self.store.create_tenant(name, now, audit).await
    }

    pub async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.store.list_tenants().await
    }

    /// The clients of one tenant, or of all; never their secrets.
    pub async fn clients(&self, tenant_id: Option<i64>) -> StoreResult<Vec<Client>> {
        self.store.list_clients(tenant_id).await
    }

    /// Registers a client with a fresh 256-bit secret; only its hash is stored.
    pub async fn register_client(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        name: &str,
        scopes: &ScopeSet,
    ) -> StoreResult<Registration> {
        let now = self.clock.now_ms();
        let mut rng = self.entropy.rng();
        let client_id = credentials::generate_client_id(&mut rng);
        let secret = credentials::generate(CredentialKind::ClientSecret, &mut rng);
        let audit = ctx
            .audit()
            .draft(
                now,
                AuditEvent::ClientRegistered,
                AuditOutcome::Success,
                json!({"name": name, "scopes": scopes.to_string()}),
            )
            .tenant(tenant_id)
            .client(client_id.clone());
        let client: Client = self
            .store
            .register_client(
                NewClient {
                    client_id: client_id.clone(),
                    tenant_id,
                    name: name.to_owned(),
                    secret_hash: credentials::hash(&secret),
                    scopes: scopes.to_string(),
                    created_at: now,
                },
                audit,
            )
            .await?;
        let enrollment = Enrollment {
            server: self.server_url.clone(),
            client_id: client.client_id.clone(),
            client_secret: secret.clone(),
        }
        .encode();
        Ok(Registration {
            client_id: client.client_id,
            client_secret: secret,
            tenant_id,
            name: client.name,
            scopes: client.scopes,
            enrollment,
        })
    }

    /// Disables a client and revokes all its tokens; `None` if there is no such client.
    pub async fn revoke_client(
        &self,
        ctx: &RequestContext,
        client_id: &str,
    ) -> StoreResult<Option<RevokedClient>> {
        let now = self.clock.now_ms();
        let tenant = self.store.client(client_id).await?.map(|c| c.tenant_id);
        let mut audit = ctx
            .audit()
            .draft(
                now,
                AuditEvent::ClientRevoked,
                AuditOutcome::Success,
                json!({}),
            )
            .client(client_id.to_owned());
        if let Some(tenant) = tenant {
            audit = audit.tenant(tenant);
        }
        self.store.revoke_client(client_id, now, audit).await
    }

    /// Ensures the "Demo" tenant and registers a fresh "Demo site" client with every scope,
    /// revoking earlier demo clients (their secrets were shown once and are gone).
    pub async fn register_demo_site(&self, ctx: &RequestContext) -> StoreResult<Registration> {
        let tenant = match self.tenants().await?.into_iter().find(|t| t.name == "Demo") {
            Some(t) => t,
            None => self.create_tenant(ctx, "Demo").await?,
        };
        for old in self.clients(Some(tenant.id)).await? {
            if old.name == "Demo site" && old.revoked_at.is_none() {
                self.revoke_client(ctx, &old.client_id).await?;
            }
        }
        self.register_client(ctx, tenant.id, "Demo site", &ScopeSet::all())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;
    use kendrix_core::clock::ManualClock;

    /// Registers one client on a fresh SQLite database with ids drawn from `seed`.
    async fn register_with_seed(seed: u64) -> Registration {
        let path = std::env::temp_dir().join(format!("kendrix-sites-{}.db", uuid::Uuid::new_v4()));
        let store = kendrix_store::connect(&format!("sqlite://{}", path.display()), 1)
            .await
            .expect("open store");
        let sites = Sites::new(
            store,
            Arc::new(ManualClock::new(1_800_000_000_000)),
            Arc::new(SeededEntropy::new(seed)),
            "http://127.0.0.1:8080".into(),
        );
        let ctx = RequestContext::cli();
        let tenant = sites.create_tenant(&ctx, "Acme").await.expect("tenant");
        let registration = sites
            .register_client(&ctx, tenant.id, "Site", &ScopeSet::all())
            .await
            .expect("register");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        registration
    }

    #[tokio::test]
    async fn client_ids_and_secrets_come_from_the_injected_entropy() {
        let (first, again) = (register_with_seed(1).await, register_with_seed(1).await);
        assert_eq!(first.client_id, again.client_id);
        assert_eq!(first.client_secret, again.client_secret);
        assert_eq!(first.enrollment, again.enrollment);
        let other = register_with_seed(2).await;
        assert_ne!(first.client_id, other.client_id);
        assert_ne!(first.client_secret, other.client_secret);
    }
}
