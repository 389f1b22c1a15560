//! Rows the store reads and writes, in plain types shared by both backends (`fleet.rs`:
//! heartbeats and what admins see of their sites; `detection.rs`: what anomaly detection
//! reads and the alerts it keeps).

mod detection;
mod fleet;

pub use detection::*;
pub use fleet::*;

use kendrix_core::UnixMillis;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    pub created_at: UnixMillis,
}

/// A registered OAuth client (a site). `pk` is the internal row id; `client_id` is public.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Client {
    pub pk: i64,
    pub client_id: String,
    pub tenant_id: i64,
    pub name: String,
    pub secret_hash: String,
    /// Space-separated scope names.
    pub scopes: String,
    pub created_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    /// The secret a rotation replaced, still accepted until `previous_secret_until`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_until: Option<UnixMillis>,
}

impl Client {
    /// Whether `secret` is this client's secret now: its current one, or the one a rotation
    /// replaced while its grace lasts. Both are compared, so the time spent tells nothing.
    pub fn accepts_secret(&self, secret: &str, now: UnixMillis) -> bool {
        let current = kendrix_core::credentials::matches(secret, &self.secret_hash);
        let previous = match (&self.previous_secret_hash, self.previous_secret_until) {
            (Some(hash), Some(until)) => {
                kendrix_core::credentials::matches(secret, hash) && now < until
            }
            _ => {
                let _ = kendrix_core::credentials::matches(
                    secret,
                    kendrix_core::credentials::DUMMY_HASH,
                );
                false
            }
        };
        current || previous
    }

    pub fn is_admin(&self) -> bool {
        self.scopes
            .parse::<kendrix_core::ScopeSet>()
            .is_ok_and(|s| s.is_admin())
    }

    /// `admin` for an admin credential, `site` for a site, as admins are shown.
    pub fn role(&self) -> &'static str {
        if self.is_admin() {
            "admin"
        } else {
            "site"
        }
    }

    /// `active` or `revoked`, as admins are shown.
    pub fn status(&self) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: String,
    pub tenant_id: i64,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedClient {
    pub tokens_revoked: u64,
}

/// Access or refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// A `kind` column holding neither `access` nor `refresh` (the schema's CHECK forbids it).
#[derive(Debug, thiserror::Error)]
#[error("unknown token kind {0:?}")]
pub struct UnknownTokenKind(String);

impl TryFrom<String> for TokenKind {
    type Error = UnknownTokenKind;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "access" => Ok(TokenKind::Access),
            "refresh" => Ok(TokenKind::Refresh),
            _ => Err(UnknownTokenKind(s)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub token_hash: String,
    pub kind: TokenKind,
    pub client_pk: i64,
    pub tenant_id: i64,
    pub scopes: String,
    /// Tokens issued from one client authentication share a family; refresh rotation keeps it.
    pub family: String,
    pub issued_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// A stored token joined with its client, as needed to decide whether it is valid.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenState {
    #[sqlx(try_from = "String")]
    pub kind: TokenKind,
    pub scopes: String,
    pub family: String,
    pub issued_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    pub used_at: Option<UnixMillis>,
    pub client_pk: i64,
    pub client_id: String,
    pub client_name: String,
    pub tenant_id: i64,
    pub client_revoked_at: Option<UnixMillis>,
}

impl TokenState {
    /// Usable now: not expired, not revoked, and its client not revoked.
    pub fn is_active(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && self.client_revoked_at.is_none() && now < self.expires_at
    }
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Its first use: it is now spent and may be rotated.
    First(TokenState),
    /// It had been used before: a sign of theft; the caller revokes the family.
    Reused(TokenState),
    /// It belongs to another client: left as it was, neither spent nor counted as a reuse.
    OtherClient,
}

/// One rate-limit counter increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHit {
    pub bucket: String,
    pub window_start: UnixMillis,
    pub hits: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventCount {
    pub client_id: Option<String>,
    pub event: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SyncVersion {
    pub entity: String,
    pub newest_version: String,
    pub last_batch_id: Option<String>,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub rate_windows: u64,
    pub tokens: u64,
    pub idempotency_keys: u64,
    pub site_runs: u64,
}

/// A counter increment with the most the counter may reach for the write it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitedHit {
    pub hit: RateHit,
    /// `None`: count only, never refuse.
    pub max: Option<i64>,
}

/// The outcome of a guarded write: each counter after this request, and whether the
/// guarded tokens and audit entries were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub counts: Vec<i64>,
    pub admitted: bool,
}

/// A request to start processing a batch under an Idempotency-Key.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub client_pk: i64,
    pub key: String,
    /// SHA-256 of the request body: the same key with another body is refused.
    pub request_hash: String,
    /// BLAKE3 of the request body (`credentials::body_b3`): what a replay's read
    /// matches, as it is cheaper to compute than the SHA-256.
    pub body_b3: String,
    /// Who holds the claim (a random id per request), so only its holder can complete it.
    pub owner: String,
    pub now: UnixMillis,
    /// How long a claim blocks others before it counts as abandoned (its holder died).
    pub lease_ms: i64,
    /// How long the stored response is kept for replays.
    pub retention_ms: i64,
}

/// What a request does next with its Idempotency-Key, as [`crate::Store::claim_idempotency_key`]
/// answers it (zero-to-production's `NextAction`, with this project's lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAction {
    /// The caller now holds the key's lease and must apply the batch, or give the key back
    /// ([`crate::Store::release_idempotency_key`]) if it will not.
    Claimed,
    /// The key was completed with this very body: the stored response, byte for byte.
    Replay(String),
    /// The key was used with a different body.
    Mismatch,
    /// Another request holds the key's lease right now.
    InFlight { retry_after_ms: i64 },
}

/// A validated batch, ready to apply.
#[derive(Debug, Clone)]
pub struct BatchToApply {
    pub batch_id: String,
    pub tenant_id: i64,
    pub client_pk: i64,
    pub idempotency_key: String,
    /// The claim's owner: completing the key checks it still holds it.
    pub owner: String,
    pub retention_ms: i64,
    pub records: Vec<kendrix_core::sync::Record>,
    pub received_at: UnixMillis,
    pub started: std::time::Instant,
    /// The audit entry for the batch; counts and duration are added when known.
    pub audit: kendrix_core::AuditDraft,
    /// The hash of the configuration the client runs, if it sent one (for drift).
    pub config_hash: Option<String>,
}

/// An applied batch: its outcome, and the body stored for replays.
#[derive(Debug, Clone)]
pub struct AppliedBatch {
    pub response: kendrix_core::sync::BatchResponse,
    /// The response body exactly as the caller's renderer made it and the key stored it.
    pub body: String,
}

/// Renders a batch's outcome as the response body its Idempotency-Key keeps for replays.
/// The store calls it inside the batch's transaction, as soon as the outcome is known, so the
/// body commits with the batch; the wire format stays the caller's business.
pub type RenderResponse<'a> =
    &'a (dyn Fn(&kendrix_core::sync::BatchResponse) -> String + Send + Sync);

/// A batch refused as a whole (invalid records), recorded for statistics and audit.
#[derive(Debug, Clone)]
pub struct RefusedBatch {
    pub batch_id: String,
    pub tenant_id: i64,
    pub client_pk: i64,
    pub idempotency_key: Option<String>,
    pub records: i64,
    pub received_at: UnixMillis,
    pub duration_us: i64,
    pub audit: kendrix_core::AuditDraft,
}

/// One stored record, as admins browse them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRecord {
    pub entity: String,
    pub record_id: String,
    pub version: String,
    pub deleted: bool,
    pub data: Option<String>,
    pub client_id: String,
    pub batch_id: String,
    pub updated_at: UnixMillis,
}

/// Per-batch figures for statistics.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BatchFigures {
    pub client_id: String,
    pub received_at: UnixMillis,
    pub records: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
    pub duration_us: i64,
    pub outcome: String,
}

/// Per-entity figures of the batches in a time window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EntityFigures {
    pub client_id: String,
    pub entity: String,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
}

/// One configuration entry as stored in a version's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConfigRow {
    /// `global`, `tenant`, or the client id of one client of the tenant.
    pub scope: String,
    pub key: String,
    /// `string`, `number`, `bool` or `json`.
    pub value_type: String,
    /// JSON text of the value, or the sealed value (`kxs2:…`) of a secret.
    pub value: String,
    pub secret: bool,
    /// Whether clients may read this secret in clear.
    pub reveal: bool,
}

/// One immutable version of a configuration (tenant 0 is the global configuration).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConfigVersionRow {
    pub tenant_id: i64,
    pub version: i64,
    pub author: String,
    pub at: UnixMillis,
    pub comment: String,
    pub content_hash: String,
}

/// What a new configuration version changes relative to the latest one.
#[derive(Debug, Clone)]
pub enum ConfigChange {
    Set(ConfigRow),
    Unset {
        scope: String,
        key: String,
    },
    /// A new version equal to an old one.
    Rollback {
        to: i64,
    },
}

/// A change to one configuration, with who made it and why.
#[derive(Debug, Clone)]
pub struct NewConfigVersion {
    pub tenant_id: i64,
    pub change: ConfigChange,
    pub author: String,
    pub comment: String,
    pub at: UnixMillis,
    /// Completed with the old and new version numbers and committed with the change.
    pub audit: kendrix_core::AuditDraft,
}

/// A sealed value to replace in place (key rotation).
#[derive(Debug, Clone)]
pub struct Reseal {
    pub tenant_id: i64,
    pub version: i64,
    pub scope: String,
    pub key: String,
    pub value: String,
    /// The entry's `reveal` flag, which its sealed value binds (read only; never written).
    pub reveal: bool,
}

/// What a client of a tenant last reported running.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConfigReport {
    pub client_pk: i64,
    pub client_id: String,
    pub name: String,
    pub config_hash: Option<String>,
    pub reported_at: Option<UnixMillis>,
}

/// A selection of one tenant's audit entries, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub tenant_id: i64,
    /// Entries at or after this time.
    pub since: Option<UnixMillis>,
    /// Entries before this time.
    pub until: Option<UnixMillis>,
    /// Any of these event names (all if empty).
    pub events: Vec<String>,
    pub client_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Words that must all appear in the event, client id or details.
    pub text: Option<String>,
    /// Keyset cursor: only entries with a smaller sequence number.
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// What a statistics series counts: one tenant's activity in `[since, until)`, in buckets of
/// `bucket_ms` aligned to the Unix epoch, optionally of one client only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    pub tenant_id: i64,
    /// The first bucket's start (a multiple of `bucket_ms`).
    pub since: UnixMillis,
    /// The end of the last bucket.
    pub until: UnixMillis,
    pub bucket_ms: i64,
    /// Only this client (its `pk` and public id); `None`: every client of the tenant.
    pub client: Option<(i64, String)>,
}

/// The batches of one bucket of a series; buckets where nothing happened have no row.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct BatchBucket {
    /// The bucket's start, Unix milliseconds.
    pub bucket_at: UnixMillis,
    /// Batches applied (every record decided).
    pub batches: i64,
    /// Batches refused as a whole.
    pub refused_batches: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
}

/// The authentication events of one bucket of a series; empty buckets have no row.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthBucket {
    pub bucket_at: UnixMillis,
    /// `token.issued` entries.
    pub tokens_issued: i64,
    /// `auth.client.failure` and `auth.bearer.failure` entries (as `/auth/stats` counts them).
    pub auth_failed: i64,
}
