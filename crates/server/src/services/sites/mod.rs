//! Tenants and the clients registered in them: sites, which sync, and admin credentials,
//! which manage a tenant's sites (`whoami.rs`: who a token belongs to; `demo.rs`: the demo
//! tenant of `serve --demo`). The server's command line does everything here; an admin
//! credential does, over the admin API, what concerns the sites of its own tenant, and can
//! never make another admin or widen a scope (`Scope::SITE` is all it may grant).

mod demo;
mod fleet;
mod heartbeat;
mod whoami;

use std::sync::Arc;

use kendrix_core::credentials::{self, CredentialKind};
use kendrix_core::enrollment::Enrollment;
use kendrix_core::{AuditDraft, AuditEvent, AuditOutcome, Clock, ScopeSet, UnixMillis};
use kendrix_store::{Client, NewClient, RevokedClient, Store, StoreResult, Tenant};
use serde::Serialize;
use serde_json::json;

pub use demo::{demo_admin_scopes, Demo, DEMO_ADMIN, DEMO_SITE, DEMO_STORE, DEMO_WAREHOUSE};
pub use fleet::{BatchView, FleetPage, FleetQuery, FleetTally, SiteDetail, DEFAULT_PAGE, MAX_PAGE};
pub use heartbeat::{Heartbeat, ReportedRun};
pub use kendrix_core::admin::SiteSummary;
pub use whoami::Identity;

use super::authorizer::Caller;
use super::{Failure, Within};
use crate::context::RequestContext;
use crate::entropy::Entropy;
use crate::services::Configurations;

/// The longest grace a rotation may give the replaced secret.
pub const MAX_GRACE_SECS: u64 = 30 * 24 * 3600;
const MAX_NAME_CHARS: usize = 100;

/// A newly registered client. The secret exists only here: it is shown once, never stored.
#[derive(Serialize, utoipa::ToSchema)]
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

/// A client's new secret. The old one keeps working until `previous_secret_until_ms`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Rotation {
    pub client_id: String,
    pub client_secret: String,
    /// One line for `kendrix enroll`: re-enrolling keeps the site's queue.
    pub enrollment: String,
    /// When the replaced secret stops working; `null`: it stopped at once.
    pub previous_secret_until_ms: Option<UnixMillis>,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("client_id", &self.client_id)
            .field("previous_secret_until_ms", &self.previous_secret_until_ms)
            .finish_non_exhaustive()
    }
}

/// Why an administration request cannot be done, in terms the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// No such site in the caller's tenant (another tenant's site is "not found" too).
    #[error("no site with this id in your tenant")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    /// The caller may not grant what it asked for.
    #[error("{0}")]
    NotGrantable(String),
    /// The site is revoked: nothing more can be done with it.
    #[error("the site is revoked; register a new one")]
    Revoked,
    #[error(transparent)]
    Failed(Failure),
}

impl From<Failure> for SiteError {
    fn from(failure: Failure) -> Self {
        SiteError::Failed(failure)
    }
}

/// Who asks for an administrative change, for its audit entry: the server's operator at its
/// command line, or an admin credential over the API (named by id and name, never a secret).
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    Operator(&'a RequestContext),
    Admin(&'a Caller),
}

impl Actor<'_> {
    fn ctx(&self) -> &RequestContext {
        match self {
            Actor::Operator(ctx) => ctx,
            Actor::Admin(caller) => &caller.ctx,
        }
    }

    /// The audit entry of a change to `site` in `tenant_id`: the operator's names the site as
    /// its client; an admin's names the admin, with the site in its details.
    fn audit(
        &self,
        at: UnixMillis,
        event: AuditEvent,
        tenant_id: Option<i64>,
        site: &str,
        mut details: serde_json::Value,
    ) -> AuditDraft {
        match self {
            Actor::Operator(ctx) => {
                let draft = ctx
                    .audit()
                    .draft(at, event, AuditOutcome::Success, details)
                    .client(site.to_owned());
                match tenant_id {
                    Some(tenant) => draft.tenant(tenant),
                    None => draft,
                }
            }
            Actor::Admin(caller) => {
                details["site_client_id"] = json!(site);
                details["actor"] =
                    json!({"client_id": caller.client_id, "name": caller.client_name});
                caller.audit(at, event, AuditOutcome::Success, details)
            }
        }
    }
}

/// Creates tenants, registers, rotates and revokes their clients, and shows their sites as
/// an admin sees them; every change is audited.
pub struct Sites {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    /// What each site should run, for drift and its schedule.
    configurations: Arc<Configurations>,
    /// The server URL put into enrollment strings.
    server_url: String,
}

impl Sites {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        configurations: Arc<Configurations>,
        server_url: String,
    ) -> Self {
        Self {
            store,
            clock,
            entropy,
            configurations,
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

    /// Registers a client from the command line with any scopes, admin ones included.
    pub async fn register_client(
        &self,
        ctx: &RequestContext,
        tenant_id: i64,
        name: &str,
        scopes: &ScopeSet,
    ) -> StoreResult<Registration> {
        self.register(Actor::Operator(ctx), tenant_id, name, scopes)
            .await
    }

    /// Registers a site in the admin's own tenant. It gets `sync:write config:read` unless
    /// `scopes` names fewer: an admin grants site scopes only.
    pub async fn register_site(
        &self,
        admin: &Caller,
        name: &str,
        scopes: Option<&str>,
    ) -> Result<Registration, SiteError> {
        let name = check_name(name)?;
        let scopes = match scopes.filter(|s| !s.trim().is_empty()) {
            None => ScopeSet::site_default(),
            Some(text) => {
                let scopes: ScopeSet =
                    text.parse()
                        .map_err(|e: kendrix_core::scope::UnknownScope| {
                            SiteError::Invalid(e.to_string())
                        })?;
                if !scopes.is_subset_of(&ScopeSet::site_default()) {
                    let site = ScopeSet::site_default();
                    return Err(SiteError::NotGrantable(format!(
                        "an admin may grant a site only: {site}; admin credentials and wider scopes are made with `kendrix-server client register --scopes` on the server"
                    )));
                }
                scopes
            }
        };
        self.register(Actor::Admin(admin), admin.tenant_id, name, &scopes)
            .await
            .within(&admin.ctx)
            .map_err(SiteError::from)
    }

    /// Registers a client with a fresh 256-bit secret; only its hash is stored.
    async fn register(
        &self,
        actor: Actor<'_>,
        tenant_id: i64,
        name: &str,
        scopes: &ScopeSet,
    ) -> StoreResult<Registration> {
        let now = self.clock.now_ms();
        let mut rng = self.entropy.rng();
        let client_id = credentials::generate_client_id(&mut rng);
        let secret = credentials::generate(CredentialKind::ClientSecret, &mut rng);
        let audit = actor.audit(
            now,
            AuditEvent::ClientRegistered,
            Some(tenant_id),
            &client_id,
            json!({"name": name, "scopes": scopes.to_string()}),
        );
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
        let enrollment = self.enrollment(&client.client_id, &secret);
        Ok(Registration {
            client_id: client.client_id,
            client_secret: secret,
            tenant_id,
            name: client.name,
            scopes: client.scopes,
            enrollment,
        })
    }

    fn enrollment(&self, client_id: &str, secret: &str) -> String {
        Enrollment {
            server: self.server_url.clone(),
            client_id: client_id.to_owned(),
            client_secret: secret.to_owned(),
        }
        .encode()
    }

    /// Disables a client and revokes all its tokens; `None` if there is no such client.
    pub async fn revoke_client(
        &self,
        ctx: &RequestContext,
        client_id: &str,
    ) -> StoreResult<Option<RevokedClient>> {
        let tenant = self.store.client(client_id).await?.map(|c| c.tenant_id);
        self.revoke(Actor::Operator(ctx), tenant, client_id).await
    }

    /// Revokes a site of the admin's tenant: it is disabled and every token it holds stops
    /// working, on every server instance, at its next request.
    pub async fn revoke_site(
        &self,
        admin: &Caller,
        client_id: &str,
    ) -> Result<RevokedClient, SiteError> {
        let site = self.site_of(admin, client_id).await?;
        self.revoke(Actor::Admin(admin), Some(site.tenant_id), client_id)
            .await
            .within(&admin.ctx)?
            .ok_or(SiteError::NotFound)
    }

    async fn revoke(
        &self,
        actor: Actor<'_>,
        tenant_id: Option<i64>,
        client_id: &str,
    ) -> StoreResult<Option<RevokedClient>> {
        let now = self.clock.now_ms();
        let audit = actor.audit(
            now,
            AuditEvent::ClientRevoked,
            tenant_id,
            client_id,
            json!({}),
        );
        self.store.revoke_client(client_id, now, audit).await
    }

    /// Gives a client a new secret from the command line; the old one keeps working for
    /// `grace_secs` (0: it stops at once).
    pub async fn rotate_client_secret(
        &self,
        ctx: &RequestContext,
        client_id: &str,
        grace_secs: u64,
    ) -> Result<Rotation, SiteError> {
        let client = self
            .store
            .client(client_id)
            .await
            .within(ctx)?
            .ok_or(SiteError::NotFound)?;
        self.rotate(Actor::Operator(ctx), &client, grace_secs).await
    }

    /// Gives a site of the admin's tenant a new secret and enrollment string; the old
    /// secret keeps working for `grace_secs`, so the site can be re-enrolled meanwhile.
    pub async fn rotate_site_secret(
        &self,
        admin: &Caller,
        client_id: &str,
        grace_secs: u64,
    ) -> Result<Rotation, SiteError> {
        let site = self.site_of(admin, client_id).await?;
        self.rotate(Actor::Admin(admin), &site, grace_secs).await
    }

    async fn rotate(
        &self,
        actor: Actor<'_>,
        client: &Client,
        grace_secs: u64,
    ) -> Result<Rotation, SiteError> {
        if grace_secs > MAX_GRACE_SECS {
            return Err(SiteError::Invalid(format!(
                "grace_seconds may be at most {MAX_GRACE_SECS} (30 days)"
            )));
        }
        if client.revoked_at.is_some() {
            return Err(SiteError::Revoked);
        }
        let now = self.clock.now_ms();
        let until = (grace_secs > 0).then(|| now + grace_secs as i64 * 1000);
        let secret = credentials::generate(CredentialKind::ClientSecret, &mut self.entropy.rng());
        let audit = actor.audit(
            now,
            AuditEvent::ClientSecretRotated,
            Some(client.tenant_id),
            &client.client_id,
            json!({"grace_seconds": grace_secs, "previous_secret_until": until}),
        );
        self.store
            .rotate_secret(&client.client_id, &credentials::hash(&secret), until, audit)
            .await
            .within(actor.ctx())?
            .ok_or(SiteError::Revoked)?;
        Ok(Rotation {
            client_id: client.client_id.clone(),
            enrollment: self.enrollment(&client.client_id, &secret),
            client_secret: secret,
            previous_secret_until_ms: until,
        })
    }

    /// Every client of the admin's tenant, sites and admin credentials (for their names).
    pub async fn names(&self, admin: &Caller) -> Result<Vec<Client>, SiteError> {
        Ok(self
            .store
            .list_clients(Some(admin.tenant_id))
            .await
            .within(&admin.ctx)?)
    }

    /// A site of the admin's own tenant; an admin credential, a revoked-and-gone id or
    /// another tenant's site are all "not found", so nothing outside the tenant shows.
    async fn site_of(&self, admin: &Caller, client_id: &str) -> Result<Client, SiteError> {
        check_client_id(client_id)?;
        match self.store.client(client_id).await.within(&admin.ctx)? {
            Some(c) if c.tenant_id == admin.tenant_id && !c.is_admin() => Ok(c),
            _ => Err(SiteError::NotFound),
        }
    }
}

/// Longest client id looked up, in bytes (the server makes ids of 36).
const MAX_CLIENT_ID_BYTES: usize = 128;

/// A client id as the server makes them: visible ASCII. Anything else (a NUL, which
/// PostgreSQL cannot even compare, or a kilobyte of text) names no client, and is said so.
fn check_client_id(client_id: &str) -> Result<(), SiteError> {
    if client_id.is_empty()
        || client_id.len() > MAX_CLIENT_ID_BYTES
        || !client_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(SiteError::Invalid(format!(
            "client_id must be 1 to {MAX_CLIENT_ID_BYTES} visible ASCII characters, like kxc_…"
        )));
    }
    Ok(())
}

/// A client's name: 1 to 100 characters, no control characters, trimmed.
fn check_name(name: &str) -> Result<&str, SiteError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(SiteError::Invalid(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(SiteError::Invalid(
            "name must not contain control characters".into(),
        ));
    }
    Ok(name)
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
        let app = crate::app::App::new(
            store,
            crate::settings::Settings::default(),
            Arc::new(ManualClock::new(1_800_000_000_000)),
        )
        .with_entropy(Arc::new(SeededEntropy::new(seed)));
        let sites = &app.sites;
        let ctx = RequestContext::cli();
        let tenant = sites.create_tenant(&ctx, "Acme").await.expect("tenant");
        let registration = sites
            .register_client(&ctx, tenant.id, "Site", &ScopeSet::all_but_admin())
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
