//! Administrative actions on tenants and clients, shared by the CLI (and later the admin API).

use kendrix_core::audit::AuditContext;
use kendrix_core::credentials::{self, CredentialKind};
use kendrix_core::enrollment::Enrollment;
use kendrix_core::{AuditEvent, AuditOutcome, Clock, ScopeSet};
use kendrix_store::{Client, NewClient, RevokedClient, Store, StoreResult, Tenant};
use serde::Serialize;
use serde_json::json;

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

/// Audit context for actions taken from the command line.
pub fn cli_context() -> AuditContext {
    AuditContext {
        request_id: Some(format!("cli-{}", uuid::Uuid::now_v7())),
        source: Some("cli".into()),
    }
}

pub async fn create_tenant(
    store: &dyn Store,
    clock: &dyn Clock,
    ctx: &AuditContext,
    name: &str,
) -> StoreResult<Tenant> {
    let now = clock.now_ms();
    let audit = ctx.draft(
        now,
        AuditEvent::TenantCreated,
        AuditOutcome::Success,
        json!({"name": name}),
    );
    store.create_tenant(name, now, audit).await
}

/// Registers a client with a fresh 256-bit secret; only its hash is stored.
pub async fn register_client(
    store: &dyn Store,
    clock: &dyn Clock,
    ctx: &AuditContext,
    tenant_id: i64,
    name: &str,
    scopes: &ScopeSet,
    server_url: &str,
) -> StoreResult<Registration> {
    let now = clock.now_ms();
    let mut rng = rand::thread_rng();
    let client_id = credentials::generate_client_id(&mut rng);
    let secret = credentials::generate(CredentialKind::ClientSecret, &mut rng);
    let audit = ctx
        .draft(
            now,
            AuditEvent::ClientRegistered,
            AuditOutcome::Success,
            json!({"name": name, "scopes": scopes.to_string()}),
        )
        .tenant(tenant_id)
        .client(client_id.clone());
    let client: Client = store
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
        server: server_url.to_owned(),
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
    store: &dyn Store,
    clock: &dyn Clock,
    ctx: &AuditContext,
    client_id: &str,
) -> StoreResult<Option<RevokedClient>> {
    let now = clock.now_ms();
    let tenant = store.client(client_id).await?.map(|c| c.tenant_id);
    let mut audit = ctx
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
    store.revoke_client(client_id, now, audit).await
}
