//! Server persistence: the [`Store`] trait and its SQLite and PostgreSQL implementations.
//!
//! Architecture invariant: this is the only crate that knows SQL. Every write method takes
//! the audit entries that describe it and commits them in the same transaction, so an action
//! and its audit record exist together or not at all. Writes are set-based: no method runs
//! one statement per row of its input.

mod alerts;
mod audit;
mod batches;
mod config;
mod dialect;
mod fleet;
mod group_commit;
mod idempotency;
mod model;
mod postgres;
mod series;
mod site_hours;
mod sql_store;
mod sqlite;
mod sqlite_readers;
mod sync;
mod tenants;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use kendrix_core::audit::AuditEntry;
use kendrix_core::checkpoint::SignedCheckpoint;
use kendrix_core::{AuditDraft, UnixMillis};

pub use model::*;
pub use postgres::PgStore;
pub use sql_store::SqlStore;
pub use sqlite::SqliteStore;

/// What went wrong in storage, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (for example a tenant name that already exists).
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A referenced row does not exist (for example a client's tenant).
    #[error("{0} does not exist")]
    MissingReference(&'static str),
    #[error("the database URL is not usable: {0}")]
    BadUrl(String),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Another request took over this batch's Idempotency-Key (its lease ran out).
    #[error("the idempotency key was taken over by another request")]
    LeaseLost,
    /// The store's writer task has stopped (the server is shutting down).
    #[error("the database writer has stopped")]
    WriterGone,
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            // The write that broke the rule names what it protects (`StoreError::naming`).
            if db.is_unique_violation() {
                return StoreError::AlreadyExists("the row");
            }
            if db.is_foreign_key_violation() {
                return StoreError::MissingReference("the row");
            }
        }
        StoreError::Database(err)
    }
}

/// Begins a write transaction on a task of its own. A caller cancelled meanwhile (a client
/// that hung up, a request timeout) then never leaves the pooled connection inside a
/// transaction: sqlx 0.8 does when a custom `BEGIN` is cancelled between its acknowledgement
/// and its check, and every later write on that connection fails. Here the task finishes
/// and an unclaimed transaction is rolled back as it is dropped.
pub(crate) async fn begin_detached<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: Option<&'static str>,
) -> StoreResult<sqlx::Transaction<'static, DB>> {
    let pool = pool.clone();
    let begin = tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    });
    Ok(begin.await.map_err(|_| StoreError::WriterGone)??)
}

impl StoreError {
    /// Names what a broken uniqueness rule (`exists`) or reference (`missing`) protects: the
    /// write that broke it knows, where the database's own words differ by backend (SQLite
    /// names no foreign key at all).
    pub(crate) fn naming(self, exists: &'static str, missing: &'static str) -> Self {
        match self {
            StoreError::AlreadyExists(_) => StoreError::AlreadyExists(exists),
            StoreError::MissingReference(_) => StoreError::MissingReference(missing),
            other => other,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server persists. One story test suite runs unchanged against every
/// implementation (see `tests/`).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for health output and logs.
    fn backend(&self) -> Backend;

    /// Applies pending migrations (also done by [`connect`]).
    async fn migrate(&self) -> StoreResult<()>;

    /// A cheap round trip that proves the database answers.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_tenant(
        &self,
        name: &str,
        at: UnixMillis,
        audit: AuditDraft,
    ) -> StoreResult<Tenant>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn tenant(&self, tenant_id: i64) -> StoreResult<Option<Tenant>>;

    async fn register_client(&self, client: NewClient, audit: AuditDraft) -> StoreResult<Client>;
    async fn list_clients(&self, tenant_id: Option<i64>) -> StoreResult<Vec<Client>>;
    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// Disables a client and revokes every token it holds. `None` if no such client.
    async fn revoke_client(
        &self,
        client_id: &str,
        at: UnixMillis,
        audit: AuditDraft,
    ) -> StoreResult<Option<RevokedClient>>;

    async fn issue_tokens(&self, tokens: &[NewToken], audit: &[AuditDraft]) -> StoreResult<()>;
    /// A token by the hash of its value, with its client's state.
    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenState>>;
    /// Marks a refresh token of `client_pk` used; says whether this was its first use
    /// (rotation), a reuse, or another client's token (left untouched).
    async fn use_refresh_token(
        &self,
        token_hash: &str,
        client_pk: i64,
        at: UnixMillis,
    ) -> StoreResult<Option<RefreshUse>>;
    /// Revokes one token; a refresh token takes its whole family with it. Returns tokens revoked.
    async fn revoke_token(
        &self,
        token_hash: &str,
        at: UnixMillis,
        audit: &[AuditDraft],
    ) -> StoreResult<u64>;
    /// Revokes every token of a family (refresh-token reuse). Returns tokens revoked.
    async fn revoke_family(
        &self,
        family: &str,
        at: UnixMillis,
        audit: &[AuditDraft],
    ) -> StoreResult<u64>;

    /// Adds each hit to its window's counter and returns the new counts, in input order.
    /// A hit of 0 reads a counter without adding to it.
    async fn count_hits(&self, hits: &[RateHit]) -> StoreResult<Vec<i64>>;
    /// Reads the counters of these `(bucket, window_start)` windows without counting (0 for
    /// a window never counted), in input order.
    async fn rate_counts(&self, windows: &[(String, UnixMillis)]) -> StoreResult<Vec<i64>>;
    /// Counts `hits` and, only if every counter stays within its limit, inserts `tokens` and
    /// appends `audit` — one atomic step, so a rate check cannot be raced past.
    async fn admit(
        &self,
        hits: &[LimitedHit],
        tokens: &[NewToken],
        audit: &[AuditDraft],
    ) -> StoreResult<Admission>;

    /// Appends entries to the audit chain on their own (for events with no other write).
    async fn append_audit(&self, audit: &[AuditDraft]) -> StoreResult<()>;
    /// Stored entries with their hashes, in chain order, starting after `after_seq`.
    async fn audit_entries(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditEntry>>;
    /// The current head of the audit chain: (sequence number, hash).
    async fn audit_head(&self) -> StoreResult<(i64, String)>;
    /// Where the pruned prefix of the chain ended: (last pruned sequence number, its hash);
    /// `(0, GENESIS_HASH)` while nothing was pruned.
    async fn audit_checkpoint(&self) -> StoreResult<(i64, String)>;
    /// Deletes the entries older than `before`, recording the checkpoint where they ended,
    /// with the audit entry of the pruning, in one transaction. With `at_signed` the cut is
    /// the newest signed checkpoint before `before` (none: nothing is deleted). Returns
    /// entries deleted.
    async fn prune_audit(
        &self,
        before: UnixMillis,
        at_signed: bool,
        audit: AuditDraft,
    ) -> StoreResult<u64>;
    /// Takes the anomaly-detection lease for `holder` until `until` (or keeps it); false while
    /// another instance holds it — unless `from_anyone` (an operator's scan).
    async fn take_detection_lease(
        &self,
        holder: &str,
        now: UnixMillis,
        until: UnixMillis,
        from_anyone: bool,
    ) -> StoreResult<bool>;
    /// Every site that can sync, with its last batch and heartbeat.
    async fn site_signals(&self) -> StoreResult<Vec<SiteSignals>>;
    /// Each site's counts per bucket of `bucket_ms` since `since` (sparse), in one read.
    async fn metric_counts(
        &self,
        since: UnixMillis,
        bucket_ms: i64,
    ) -> StoreResult<Vec<MetricCount>>;
    /// Each site's counts per hour since `since` (sparse), kept as their events are
    /// written: the same figures as [`Self::metric_counts`] with hour buckets.
    async fn hourly_counts(&self, since: UnixMillis) -> StoreResult<Vec<MetricCount>>;
    /// Alerts matching `query`, open ones first.
    async fn alerts(&self, query: &AlertQuery) -> StoreResult<Vec<Alert>>;
    /// Open alerts per kind.
    async fn open_alert_counts(&self) -> StoreResult<Vec<(String, i64)>>;
    /// Applies one detection pass's changes with their audit entries, in one transaction.
    async fn apply_alert_changes(
        &self,
        changes: &AlertChanges,
        now: UnixMillis,
        audit: &[AuditDraft],
    ) -> StoreResult<()>;
    /// Keeps a signed checkpoint of the audit chain (one already kept stays as it is).
    async fn add_audit_checkpoint(&self, checkpoint: &SignedCheckpoint) -> StoreResult<()>;
    /// The signed checkpoints at `from_seq` and after, in chain order.
    async fn audit_checkpoints_from(&self, from_seq: i64) -> StoreResult<Vec<SignedCheckpoint>>;
    /// The newest signed checkpoints, newest first.
    async fn newest_audit_checkpoints(&self, limit: i64) -> StoreResult<Vec<SignedCheckpoint>>;
    /// One page of a tenant's audit entries matching `query`, newest first.
    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Counts of authentication events per client and event since `since` for one tenant.
    async fn auth_event_counts(
        &self,
        tenant_id: i64,
        since: UnixMillis,
    ) -> StoreResult<Vec<EventCount>>;

    /// The caller's high-water marks per entity.
    async fn sync_versions(&self, tenant_id: i64, client_pk: i64) -> StoreResult<Vec<SyncVersion>>;

    /// The response stored for a key completed with the body whose BLAKE3 is `body_b3`,
    /// while it is retained: a read only, so a retry after a lost response is answered before
    /// its body is parsed.
    async fn stored_response(
        &self,
        client_pk: i64,
        key: &str,
        body_b3: &str,
        now: UnixMillis,
    ) -> StoreResult<Option<String>>;
    /// The decision on a batch's Idempotency-Key (see [`NextAction`]), in a short transaction
    /// of its own with a lease (`in_flight`, owner, `locked_until`): a new key, or one whose
    /// retention ended, or one whose holder let its lease run out with this same body (it
    /// died), is taken; a key completed meanwhile with this body replays; another body is a
    /// [`NextAction::Mismatch`], a live lease [`NextAction::InFlight`]. Claim only a batch
    /// that validated: a refused batch never holds its key.
    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim) -> StoreResult<NextAction>;
    /// Gives back a claim whose batch will not be applied (it was refused), so a retry or a
    /// corrected batch can use the key at once. Only the claim's owner can give it back.
    async fn release_idempotency_key(
        &self,
        client_pk: i64,
        key: &str,
        owner: &str,
    ) -> StoreResult<()>;
    /// Applies a batch in one transaction: record upserts (last writer wins), the caller's
    /// high-water marks, batch statistics, the audit entry, and under the claimed
    /// Idempotency-Key the response body that `render` makes of the outcome — all or
    /// nothing. Fails with [`StoreError::LeaseLost`] if the claim was taken over meanwhile;
    /// on any other failure the claim is given back, so the retry is applied at once.
    async fn apply_batch(
        &self,
        batch: BatchToApply,
        render: RenderResponse<'_>,
    ) -> StoreResult<AppliedBatch>;
    /// Records a batch refused as a whole, with its audit entry.
    async fn record_refused_batch(&self, batch: RefusedBatch) -> StoreResult<()>;
    /// A tenant's records of one entity with ids after `after`, in id order.
    async fn records_page(
        &self,
        tenant_id: i64,
        entity: &str,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<StoredRecord>>;
    /// The batches a tenant received since `since`, oldest first.
    async fn batch_figures(
        &self,
        tenant_id: i64,
        since: UnixMillis,
    ) -> StoreResult<Vec<BatchFigures>>;
    /// Per client and entity, the record outcomes of the batches since `since`.
    async fn entity_figures(
        &self,
        tenant_id: i64,
        since: UnixMillis,
    ) -> StoreResult<Vec<EntityFigures>>;

    /// A tenant's batches per time bucket of `query` (one set-based read; empty buckets
    /// have no row), oldest first.
    async fn batch_series(&self, query: &SeriesQuery) -> StoreResult<Vec<BatchBucket>>;
    /// A tenant's tokens issued and failed authentications per time bucket of `query`
    /// (from the audit log, as [`Store::auth_event_counts`]), oldest first.
    async fn auth_series(&self, query: &SeriesQuery) -> StoreResult<Vec<AuthBucket>>;

    /// The latest version of a configuration (tenant 0: the global one), if any.
    async fn config_head(&self, tenant_id: i64) -> StoreResult<Option<ConfigVersionRow>>;
    /// Every version of a configuration, newest first.
    async fn config_versions(&self, tenant_id: i64) -> StoreResult<Vec<ConfigVersionRow>>;
    /// The entries of one version, by scope and key.
    async fn config_entries(&self, tenant_id: i64, version: i64) -> StoreResult<Vec<ConfigRow>>;
    /// Makes a new version from the latest one and a change, with its audit entry, in one
    /// transaction. Fails with [`StoreError::AlreadyExists`] if another change made that
    /// version number first, and [`StoreError::MissingReference`] for an unset of a missing
    /// key or a rollback to a missing version.
    async fn change_config(&self, change: NewConfigVersion) -> StoreResult<ConfigVersionRow>;
    /// Every secret entry of every version (for key rotation and the start-up key check).
    async fn sealed_entries(&self) -> StoreResult<Vec<Reseal>>;
    /// Replaces sealed values in place, with the audit entry of the rotation, in one transaction.
    async fn reseal(&self, updates: &[Reseal], audit: AuditDraft) -> StoreResult<u64>;
    /// The clients of a tenant with the configuration hash each last reported.
    async fn config_reports(&self, tenant_id: i64) -> StoreResult<Vec<ConfigReport>>;

    /// Gives an active client a new secret (its hash). With `previous_until` the replaced
    /// secret keeps working until then (a rotation's grace); without, it stops at once.
    /// `None` if there is no such active client.
    async fn rotate_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        previous_until: Option<UnixMillis>,
        audit: AuditDraft,
    ) -> StoreResult<Option<Client>>;
    /// Stores a site's heartbeat: its latest status, its last run, the configuration it runs.
    async fn record_heartbeat(&self, heartbeat: &NewHeartbeat) -> StoreResult<()>;
    /// What is known of each client of a tenant that has any activity (or of its clients
    /// `only`, by `pk`), by client `pk`, with figures counted since `since`.
    async fn site_activity(
        &self,
        tenant_id: i64,
        since: UnixMillis,
        only: Option<&[i64]>,
    ) -> StoreResult<HashMap<i64, SiteActivity>>;
    /// One page of a tenant's sites in fleet order ([`FleetRank`], then name); `None` when
    /// the query's `after` names no site of the tenant.
    async fn fleet_page(&self, query: &FleetPageQuery) -> StoreResult<Option<Vec<Client>>>;
    /// How many sites of a tenant need attention, are well, are revoked.
    async fn fleet_counts(&self, tenant_id: i64) -> StoreResult<FleetCounts>;
    /// Records which active sites need attention and which are well (a detection pass's
    /// finding); writes only the ranks that change and returns how many did.
    async fn set_fleet_ranks(&self, needs_attention: &[i64], well: &[i64]) -> StoreResult<u64>;
    /// A site's latest reported runs, newest first.
    async fn site_runs(&self, client_pk: i64, limit: i64) -> StoreResult<Vec<SiteRun>>;
    /// A site's latest batches, newest first.
    async fn client_batches(&self, client_pk: i64, limit: i64) -> StoreResult<Vec<BatchFigures>>;

    /// Deletes rate-limit windows and tokens that ended before `before`, idempotency keys
    /// whose retention ended before `now`, and site runs older than 30 days.
    async fn prune(&self, before: UnixMillis, now: UnixMillis) -> StoreResult<PruneCounts>;
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Opens (creating if needed) and migrates the database named by `url`:
/// `sqlite://path.db` or `postgres://user@host/db`.
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(SqliteStore::open(url, max_connections).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Arc::new(PgStore::open(url, max_connections).await?)
    } else {
        return Err(StoreError::BadUrl(format!(
            "{}: expected sqlite://FILE or postgres://USER@HOST/DB",
            redact_url(url)
        )));
    };
    store.migrate().await?;
    Ok(store)
}

/// A database URL safe to print: any password is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable database URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/kendrix"),
            "postgres://app:***@db:5432/kendrix"
        );
        assert_eq!(redact_url("sqlite://kendrix.db"), "sqlite://kendrix.db");
    }
}
