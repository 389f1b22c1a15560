//! [`SqlStore`]: the one implementation of [`Store`], written once over the backend
//! (`D: Dialect`, see `dialect.rs`). Each table family keeps its SQL beside its code in a
//! module of its own — `tenants` (tenants and clients), `tokens`, `audit`, `group_commit`
//! (rate limits and the batched writes), `idempotency`, `batches` (applying batches, the
//! records, statistics) and `config` — and the `Store` impl below only says which one
//! answers. What they share is here: the connections, and the write transaction that commits
//! together with its audit entries.

use std::collections::HashMap;

use async_trait::async_trait;
use kendrix_core::audit::AuditEntry;
use kendrix_core::checkpoint::SignedCheckpoint;
use kendrix_core::{AuditDraft, UnixMillis};
use sqlx::{Database, Pool, Transaction};

use crate::dialect::{sql, Dialect, On};
use crate::group_commit::{self, WriteQueue};
use crate::{
    alerts, audit, batches, config, fleet, idempotency, series, site_hours, tenants, tokens,
};
use crate::{begin_detached, model::*, Backend, Store, StoreResult};

/// The store over one database: a [`crate::SqliteStore`] or a [`crate::PgStore`].
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    db: Connections<D>,
    queue: WriteQueue,
}

impl<D: Dialect> SqlStore<D> {
    /// The store over these connections, with its group-commit writer started.
    pub(crate) fn new(db: Connections<D>) -> Self {
        let queue = group_commit::start_writer(db.clone());
        Self { db, queue }
    }
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            queue: self.queue.clone(),
        }
    }
}

/// The pools of one database. Reads go to `read`; writes to `write` (on SQLite a pool of
/// one connection, so writes queue in-process; on PostgreSQL the same pool as `read`).
#[derive(Debug)]
pub(crate) struct Connections<D: Dialect> {
    read: D::Readers,
    write: Pool<D>,
}

impl<D: Dialect> Clone for Connections<D> {
    fn clone(&self) -> Self {
        Self {
            read: self.read.clone(),
            write: self.write.clone(),
        }
    }
}

impl<D: Dialect> Connections<D> {
    pub(crate) fn new(read: D::Readers, write: Pool<D>) -> Self {
        Self { read, write }
    }

    /// Where reads run.
    pub(crate) fn read(&self) -> On<'_, D> {
        On::Read(&self.read)
    }

    /// A single write statement outside any transaction.
    pub(crate) fn write(&self) -> On<'_, D> {
        On::Pool(&self.write)
    }

    /// Begins a write transaction, on a task of its own ([`begin_detached`]).
    pub(crate) async fn begin_write(&self) -> StoreResult<AuditedWrite<D>> {
        Ok(AuditedWrite {
            tx: begin_detached(&self.write, D::BEGIN).await?,
        })
    }
}

/// A write transaction that commits only together with the audit entries describing it:
/// the store's one `write_with_audit` sequence — [`Connections::begin_write`] (begun on a
/// task of its own), the change through [`AuditedWrite::on`], then
/// [`AuditedWrite::commit`], which appends the entries (holding the chain head) and commits.
/// Dropped without a commit, everything rolls back.
pub(crate) struct AuditedWrite<D: Database> {
    tx: Transaction<'static, D>,
}

impl<D: Dialect> AuditedWrite<D> {
    /// Where the change's statements run.
    pub(crate) fn on(&mut self) -> On<'_, D> {
        On::Tx(&mut *self.tx)
    }

    /// The transaction's connection, for the statements a backend writes itself.
    pub(crate) fn conn(&mut self) -> &mut D::Connection {
        &mut self.tx
    }

    /// Appends `audit` to the chain (none for the few writes that audit nothing) and commits.
    pub(crate) async fn commit(mut self, audit: &[AuditDraft]) -> StoreResult<()> {
        audit::append::<D>(&mut self.tx, audit).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// How long the runs sites report are kept.
const SITE_RUN_RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;
const SITE_HOURS_RETENTION_MS: i64 = 15 * 24 * 3600 * 1000;

/// Deletes rate-limit windows and tokens that ended before `before`, idempotency keys
/// whose retention ended before `now`, and site runs older than their retention.
async fn prune<D: Dialect>(
    db: &Connections<D>,
    before: UnixMillis,
    now: UnixMillis,
) -> StoreResult<PruneCounts> {
    let mut write = db.begin_write().await?;
    let rate_windows = sql(group_commit::PRUNE_RATE_WINDOWS)
        .bind(before)
        .execute(write.on())
        .await?;
    let tokens = sql(tokens::PRUNE_TOKENS)
        .bind(before)
        .execute(write.on())
        .await?;
    let idempotency_keys = sql(idempotency::PRUNE_KEYS)
        .bind(now)
        .execute(write.on())
        .await?;
    let site_runs = sql(fleet::PRUNE_RUNS)
        .bind(now - SITE_RUN_RETENTION_MS)
        .execute(write.on())
        .await?;
    // Detection looks back two weeks; a day more covers a pass across midnight.
    sql(site_hours::PRUNE_HOURS)
        .bind((now - SITE_HOURS_RETENTION_MS).div_euclid(site_hours::HOUR_MS))
        .execute(write.on())
        .await?;
    write.commit(&[]).await?;
    Ok(PruneCounts {
        rate_windows,
        tokens,
        idempotency_keys,
        site_runs,
    })
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D> {
    fn backend(&self) -> Backend {
        D::BACKEND
    }

    async fn migrate(&self) -> StoreResult<()> {
        D::migrate(&self.db.write).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sql("SELECT 1").execute(self.db.read()).await?;
        Ok(())
    }

    async fn create_tenant(
        &self,
        name: &str,
        at: UnixMillis,
        audit: AuditDraft,
    ) -> StoreResult<Tenant> {
        tenants::create_tenant(&self.db, name, at, audit).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        tenants::list_tenants(&self.db).await
    }

    async fn tenant(&self, tenant_id: i64) -> StoreResult<Option<Tenant>> {
        tenants::tenant(&self.db, tenant_id).await
    }

    async fn register_client(&self, client: NewClient, audit: AuditDraft) -> StoreResult<Client> {
        tenants::register_client(&self.db, client, audit).await
    }

    async fn list_clients(&self, tenant_id: Option<i64>) -> StoreResult<Vec<Client>> {
        tenants::list_clients(&self.db, tenant_id).await
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        tenants::client(&self.db, client_id).await
    }

    async fn revoke_client(
        &self,
        client_id: &str,
        at: UnixMillis,
        audit: AuditDraft,
    ) -> StoreResult<Option<RevokedClient>> {
        tenants::revoke_client(&self.db, client_id, at, audit).await
    }

    async fn issue_tokens(&self, tokens: &[NewToken], audit: &[AuditDraft]) -> StoreResult<()> {
        self.queue
            .submit(Vec::new(), tokens.to_vec(), audit.to_vec())
            .await?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenState>> {
        tokens::token(&self.db, token_hash).await
    }

    async fn use_refresh_token(
        &self,
        token_hash: &str,
        client_pk: i64,
        at: UnixMillis,
    ) -> StoreResult<Option<RefreshUse>> {
        tokens::use_refresh_token(&self.db, token_hash, client_pk, at).await
    }

    async fn revoke_token(
        &self,
        token_hash: &str,
        at: UnixMillis,
        audit: &[AuditDraft],
    ) -> StoreResult<u64> {
        tokens::revoke_token(&self.db, token_hash, at, audit).await
    }

    async fn revoke_family(
        &self,
        family: &str,
        at: UnixMillis,
        audit: &[AuditDraft],
    ) -> StoreResult<u64> {
        tokens::revoke_family(&self.db, family, at, audit).await
    }

    async fn count_hits(&self, hits: &[RateHit]) -> StoreResult<Vec<i64>> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let hits = hits
            .iter()
            .map(|hit| LimitedHit {
                hit: hit.clone(),
                max: None,
            })
            .collect();
        Ok(self
            .queue
            .submit(hits, Vec::new(), Vec::new())
            .await?
            .counts)
    }

    async fn rate_counts(&self, windows: &[(String, UnixMillis)]) -> StoreResult<Vec<i64>> {
        group_commit::read_counts(&self.db, windows).await
    }

    async fn admit(
        &self,
        hits: &[LimitedHit],
        tokens: &[NewToken],
        audit: &[AuditDraft],
    ) -> StoreResult<Admission> {
        self.queue
            .submit(hits.to_vec(), tokens.to_vec(), audit.to_vec())
            .await
    }

    async fn append_audit(&self, audit: &[AuditDraft]) -> StoreResult<()> {
        self.queue
            .submit(Vec::new(), Vec::new(), audit.to_vec())
            .await?;
        Ok(())
    }

    async fn audit_entries(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        audit::entries(&self.db, after_seq, limit).await
    }

    async fn audit_head(&self) -> StoreResult<(i64, String)> {
        audit::head(&self.db).await
    }

    async fn audit_checkpoint(&self) -> StoreResult<(i64, String)> {
        audit::checkpoint(&self.db).await
    }

    async fn prune_audit(
        &self,
        before: UnixMillis,
        at_signed: bool,
        audit: AuditDraft,
    ) -> StoreResult<u64> {
        audit::prune(&self.db, before, at_signed, audit).await
    }

    async fn take_detection_lease(
        &self,
        holder: &str,
        now: UnixMillis,
        until: UnixMillis,
        from_anyone: bool,
    ) -> StoreResult<bool> {
        alerts::take_lease(&self.db, holder, now, until, from_anyone).await
    }

    async fn site_signals(&self) -> StoreResult<Vec<SiteSignals>> {
        alerts::sites(&self.db).await
    }

    async fn metric_counts(
        &self,
        since: UnixMillis,
        bucket_ms: i64,
    ) -> StoreResult<Vec<MetricCount>> {
        alerts::counts(&self.db, since, bucket_ms).await
    }

    async fn hourly_counts(&self, since: UnixMillis) -> StoreResult<Vec<MetricCount>> {
        site_hours::read(&self.db, since).await
    }

    async fn alerts(&self, query: &AlertQuery) -> StoreResult<Vec<Alert>> {
        alerts::list(&self.db, query).await
    }

    async fn open_alert_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        alerts::open_counts(&self.db).await
    }

    async fn apply_alert_changes(
        &self,
        changes: &AlertChanges,
        now: UnixMillis,
        audit: &[AuditDraft],
    ) -> StoreResult<()> {
        alerts::apply(&self.db, changes, now, audit).await
    }

    async fn add_audit_checkpoint(&self, checkpoint: &SignedCheckpoint) -> StoreResult<()> {
        audit::add_checkpoint(&self.db, checkpoint).await
    }

    async fn audit_checkpoints_from(&self, from_seq: i64) -> StoreResult<Vec<SignedCheckpoint>> {
        audit::checkpoints_from(&self.db, from_seq).await
    }

    async fn newest_audit_checkpoints(&self, limit: i64) -> StoreResult<Vec<SignedCheckpoint>> {
        audit::newest_checkpoints(&self.db, limit).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        audit::query(&self.db, query).await
    }

    async fn auth_event_counts(
        &self,
        tenant_id: i64,
        since: UnixMillis,
    ) -> StoreResult<Vec<EventCount>> {
        audit::auth_event_counts(&self.db, tenant_id, since).await
    }

    async fn sync_versions(&self, tenant_id: i64, client_pk: i64) -> StoreResult<Vec<SyncVersion>> {
        batches::sync_versions(&self.db, tenant_id, client_pk).await
    }

    async fn stored_response(
        &self,
        client_pk: i64,
        key: &str,
        body_b3: &str,
        now: UnixMillis,
    ) -> StoreResult<Option<String>> {
        idempotency::stored_response(&self.db, client_pk, key, body_b3, now).await
    }

    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim) -> StoreResult<NextAction> {
        idempotency::claim(&self.db, claim).await
    }

    async fn release_idempotency_key(
        &self,
        client_pk: i64,
        key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        idempotency::release(&self.db, client_pk, key, owner).await
    }

    async fn apply_batch(
        &self,
        batch: BatchToApply,
        render: RenderResponse<'_>,
    ) -> StoreResult<AppliedBatch> {
        batches::apply(&self.db, batch, render).await
    }

    async fn record_refused_batch(&self, batch: RefusedBatch) -> StoreResult<()> {
        batches::record_refused(&self.db, batch).await
    }

    async fn records_page(
        &self,
        tenant_id: i64,
        entity: &str,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<StoredRecord>> {
        batches::records_page(&self.db, tenant_id, entity, after, limit).await
    }

    async fn batch_figures(
        &self,
        tenant_id: i64,
        since: UnixMillis,
    ) -> StoreResult<Vec<BatchFigures>> {
        batches::figures(&self.db, batches::BATCH_FIGURES, tenant_id, since).await
    }

    async fn entity_figures(
        &self,
        tenant_id: i64,
        since: UnixMillis,
    ) -> StoreResult<Vec<EntityFigures>> {
        batches::figures(&self.db, batches::ENTITY_FIGURES, tenant_id, since).await
    }

    async fn batch_series(&self, query: &SeriesQuery) -> StoreResult<Vec<BatchBucket>> {
        series::batch_series(&self.db, query).await
    }

    async fn auth_series(&self, query: &SeriesQuery) -> StoreResult<Vec<AuthBucket>> {
        series::auth_series(&self.db, query).await
    }

    async fn config_head(&self, tenant_id: i64) -> StoreResult<Option<ConfigVersionRow>> {
        config::head(&self.db, tenant_id).await
    }

    async fn config_versions(&self, tenant_id: i64) -> StoreResult<Vec<ConfigVersionRow>> {
        config::versions(&self.db, tenant_id).await
    }

    async fn config_entries(&self, tenant_id: i64, version: i64) -> StoreResult<Vec<ConfigRow>> {
        config::entries(&self.db, tenant_id, version).await
    }

    async fn change_config(&self, change: NewConfigVersion) -> StoreResult<ConfigVersionRow> {
        config::change(&self.db, change).await
    }

    async fn sealed_entries(&self) -> StoreResult<Vec<Reseal>> {
        config::sealed_entries(&self.db).await
    }

    async fn reseal(&self, updates: &[Reseal], audit: AuditDraft) -> StoreResult<u64> {
        config::reseal(&self.db, updates, audit).await
    }

    async fn config_reports(&self, tenant_id: i64) -> StoreResult<Vec<ConfigReport>> {
        config::reports(&self.db, tenant_id).await
    }

    async fn rotate_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        previous_until: Option<UnixMillis>,
        audit: AuditDraft,
    ) -> StoreResult<Option<Client>> {
        fleet::rotate_secret(&self.db, client_id, secret_hash, previous_until, audit).await
    }

    async fn record_heartbeat(&self, heartbeat: &NewHeartbeat) -> StoreResult<()> {
        fleet::record_heartbeat(&self.db, heartbeat).await
    }

    async fn site_activity(
        &self,
        tenant_id: i64,
        since: UnixMillis,
        only: Option<&[i64]>,
    ) -> StoreResult<HashMap<i64, SiteActivity>> {
        fleet::activity(&self.db, tenant_id, since, only).await
    }

    async fn fleet_page(&self, query: &FleetPageQuery) -> StoreResult<Option<Vec<Client>>> {
        fleet::page(&self.db, query).await
    }

    async fn fleet_counts(&self, tenant_id: i64) -> StoreResult<FleetCounts> {
        fleet::counts(&self.db, tenant_id).await
    }

    async fn set_fleet_ranks(&self, needs_attention: &[i64], well: &[i64]) -> StoreResult<u64> {
        fleet::set_ranks(&self.db, needs_attention, well).await
    }

    async fn site_runs(&self, client_pk: i64, limit: i64) -> StoreResult<Vec<SiteRun>> {
        fleet::runs(&self.db, client_pk, limit).await
    }

    async fn client_batches(&self, client_pk: i64, limit: i64) -> StoreResult<Vec<BatchFigures>> {
        fleet::client_batches(&self.db, client_pk, limit).await
    }

    async fn prune(&self, before: UnixMillis, now: UnixMillis) -> StoreResult<PruneCounts> {
        prune(&self.db, before, now).await
    }
}
