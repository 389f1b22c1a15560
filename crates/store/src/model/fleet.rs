//! Heartbeats, and the rows behind what admins see of their sites.

use kendrix_core::UnixMillis;

/// What a site reports after each sync run and while idle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeartbeat {
    pub client_pk: i64,
    pub tenant_id: i64,
    pub received_at: UnixMillis,
    pub agent_version: String,
    pub queue_depth: i64,
    pub oldest_pending_at: Option<UnixMillis>,
    pub dead_letters: i64,
    pub config_hash: Option<String>,
    pub interval_secs: Option<i64>,
    pub last_run: Option<SiteRun>,
}

/// One sync run as a site reported it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteRun {
    pub started_at: UnixMillis,
    pub finished_at: UnixMillis,
    /// The agent's run outcome: `synced`, `partial`, `offline`, `auth` or `error`.
    pub outcome: String,
    pub sent: i64,
    pub applied: i64,
    pub refused: i64,
    pub message: Option<String>,
}

/// A site's latest heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteStatus {
    pub client_pk: i64,
    pub received_at: UnixMillis,
    pub agent_version: String,
    pub queue_depth: i64,
    pub oldest_pending_at: Option<UnixMillis>,
    pub dead_letters: i64,
    pub config_hash: Option<String>,
    pub interval_secs: Option<i64>,
}

/// What the server knows of one site's recent activity ([`crate::Store::site_activity`]);
/// the `*_recent` figures count since the time asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteActivity {
    pub status: Option<SiteStatus>,
    pub last_token_at: Option<UnixMillis>,
    /// The last batch that applied.
    pub last_batch_at: Option<UnixMillis>,
    /// Records received (applied, duplicate, stale or rejected).
    pub records_recent: i64,
    pub rejected_recent: i64,
    pub batches_recent: i64,
    /// Failed client authentications (wrong secret, revoked) naming this client.
    pub auth_failures_recent: i64,
    /// The hash of the configuration it last reported running.
    pub reported_config: Option<String>,
}

/// Where a client sorts in its tenant's fleet (`oauth_clients.fleet_rank`): the sites that
/// need attention first, then the sites that are well, then the revoked ones; an admin
/// credential is not a site and is never listed with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum FleetRank {
    NeedsAttention = 0,
    Well = 1,
    Revoked = 2,
    Admin = 3,
}

impl FleetRank {
    /// A client just registered: a site has not synced yet, which needs attention.
    pub fn of_new(scopes: &str) -> Self {
        if scopes
            .parse::<kendrix_core::ScopeSet>()
            .is_ok_and(|s| s.is_admin())
        {
            Self::Admin
        } else {
            Self::NeedsAttention
        }
    }
}

/// Which sites one page of a tenant's fleet lists (sites only, never admin credentials).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetPageQuery {
    pub tenant_id: i64,
    /// Only the sites that need attention.
    pub attention_only: bool,
    /// Each word appears in the site's name or client id (case-insensitive).
    pub words: Vec<String>,
    /// The page starts after this site (the last one of the previous page).
    pub after: Option<String>,
    pub limit: i64,
}

/// How many sites a tenant has, by where they sort.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    pub needs_attention: i64,
    pub well: i64,
    pub revoked: i64,
}
