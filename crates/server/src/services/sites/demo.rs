//! The demo (`kendrix-server serve --demo`): a "Demo" tenant with both modes to try — a site
//! to enroll the agent or the desktop app with (site scopes only) and an admin credential
//! beside it — and two more sites so the fleet has something to show: "Store 7", synced just
//! now, and "Warehouse", hours behind with records waiting, which needs attention.

use kendrix_core::{Scope, ScopeSet, UnixMillis};
use kendrix_store::{NewHeartbeat, SiteRun, StoreResult};

use super::{Registration, Sites};
use crate::context::RequestContext;

pub const DEMO_TENANT: &str = "Demo";
pub const DEMO_SITE: &str = "Demo site";
pub const DEMO_ADMIN: &str = "Demo admin";
pub const DEMO_STORE: &str = "Store 7";
pub const DEMO_WAREHOUSE: &str = "Warehouse";

const HOUR_MS: i64 = 3_600_000;
/// What the warehouse last reported: records waiting since before it went quiet.
const WAREHOUSE_QUEUE: i64 = 340;

/// The two credentials of a demo, each shown once.
#[derive(Debug)]
pub struct Demo {
    /// "Demo site": `sync:write config:read`.
    pub site: Registration,
    /// "Demo admin": `clients:admin` with the tenant's configuration, audit and statistics.
    pub admin: Registration,
}

/// The demo admin's scopes: what an admin of one tenant is given on the command line.
pub fn demo_admin_scopes() -> ScopeSet {
    [
        Scope::ClientsAdmin,
        Scope::ConfigRead,
        Scope::ConfigWrite,
        Scope::AuditRead,
        Scope::StatsRead,
    ]
    .into_iter()
    .collect()
}

impl Sites {
    /// Ensures the "Demo" tenant, registers a fresh "Demo site" and "Demo admin" (earlier
    /// ones are revoked: their secrets were shown once and are gone), keeps one "Store 7" and
    /// one "Warehouse" (registered on the first run), and has both report a heartbeat:
    /// Store 7 all synced now, Warehouse last seen three hours ago with records waiting.
    /// Running it again on the same database adds no duplicates.
    pub async fn register_demo(&self, ctx: &RequestContext) -> StoreResult<Demo> {
        let tenant = match self
            .tenants()
            .await?
            .into_iter()
            .find(|t| t.name == DEMO_TENANT)
        {
            Some(t) => t,
            None => self.create_tenant(ctx, DEMO_TENANT).await?,
        };
        let active: Vec<_> = self
            .clients(Some(tenant.id))
            .await?
            .into_iter()
            .filter(|c| c.revoked_at.is_none())
            .collect();
        for old in active
            .iter()
            .filter(|c| c.name == DEMO_SITE || c.name == DEMO_ADMIN)
        {
            self.revoke_client(ctx, &old.client_id).await?;
        }
        let site = self
            .register_client(ctx, tenant.id, DEMO_SITE, &ScopeSet::site_default())
            .await?;
        let admin = self
            .register_client(ctx, tenant.id, DEMO_ADMIN, &demo_admin_scopes())
            .await?;
        let now = self.clock.now_ms();
        for name in [DEMO_STORE, DEMO_WAREHOUSE] {
            let pk = match active.iter().find(|c| c.name == name) {
                Some(kept) => kept.pk,
                None => {
                    let new = self
                        .register_client(ctx, tenant.id, name, &ScopeSet::site_default())
                        .await?;
                    match self.store.client(&new.client_id).await? {
                        Some(client) => client.pk,
                        None => continue,
                    }
                }
            };
            let beat = if name == DEMO_STORE {
                synced_heartbeat(pk, tenant.id, now)
            } else {
                behind_heartbeat(pk, tenant.id, now)
            };
            self.store.record_heartbeat(&beat).await?;
        }
        // The console opens on a fleet in its real order, not after the first pass.
        if let Err(err) = self.rank_fleet().await {
            tracing::warn!(error = %err, "ranking the demo fleet failed");
        }
        Ok(Demo { site, admin })
    }
}

/// A site that has just synced everything.
fn synced_heartbeat(client_pk: i64, tenant_id: i64, now: UnixMillis) -> NewHeartbeat {
    NewHeartbeat {
        client_pk,
        tenant_id,
        received_at: now,
        agent_version: env!("CARGO_PKG_VERSION").into(),
        queue_depth: 0,
        oldest_pending_at: None,
        dead_letters: 0,
        config_hash: None,
        interval_secs: Some(300),
        last_run: Some(SiteRun {
            started_at: now - 2_000,
            finished_at: now,
            outcome: "synced".into(),
            sent: 120,
            applied: 120,
            refused: 0,
            message: Some("all synced".into()),
        }),
    }
}

/// A site last heard from three hours ago, offline, with records waiting since before then.
fn behind_heartbeat(client_pk: i64, tenant_id: i64, now: UnixMillis) -> NewHeartbeat {
    let seen = now - 3 * HOUR_MS;
    NewHeartbeat {
        client_pk,
        tenant_id,
        received_at: seen,
        agent_version: env!("CARGO_PKG_VERSION").into(),
        queue_depth: WAREHOUSE_QUEUE,
        oldest_pending_at: Some(seen - HOUR_MS / 4),
        dead_letters: 0,
        config_hash: None,
        interval_secs: Some(300),
        last_run: Some(SiteRun {
            started_at: seen - 30_000,
            finished_at: seen,
            outcome: "offline".into(),
            sent: 0,
            applied: 0,
            refused: 0,
            message: Some("the server did not answer; will retry".into()),
        }),
    }
}
