//! The audit chain (`audit_logs`, and its head row `audit_chain`): appends that hold the
//! head row so concurrent instances never fork the chain, reads in chain order, tenant
//! queries (keyset pages, filters, full-text search), and retention.

use kendrix_core::audit::{link_all, AuditEntry};
use kendrix_core::checkpoint::SignedCheckpoint;
use kendrix_core::{AuditDraft, UnixMillis};
use sqlx::QueryBuilder;

use crate::dialect::{sql, Dialect, On, PushParam, Statement};
use crate::site_hours;
use crate::sql_store::Connections;
use crate::{AuditQuery, EventCount, StoreResult};

/// The columns of an audit row, in the order of [`AuditRow`].
const AUDIT_COLUMNS: &str = "id, at, tenant_id, client_id, request_id, source, event, outcome, \
     details, prev_hash, hash";
const INSERT_ENTRIES: &str = "INSERT INTO audit_logs (id, at, tenant_id, client_id, request_id, \
     source, event, outcome, details, prev_hash, hash) ";
const UPDATE_CHAIN_HEAD: &str = "UPDATE audit_chain SET seq = $1, head_hash = $2 WHERE id = 1";
const AUDIT_HEAD: &str = "SELECT seq, head_hash FROM audit_chain WHERE id = 1";
const AUDIT_CHECKPOINT: &str = "SELECT pruned_seq, pruned_hash FROM audit_chain WHERE id = 1";
/// The last entry older than the cutoff, if any.
const LAST_ENTRY_BEFORE: &str =
    "SELECT id, hash FROM audit_logs WHERE at < $1 ORDER BY id DESC LIMIT 1";
/// The last entry older than the cutoff that a signed checkpoint covers exactly.
const LAST_SIGNED_ENTRY_BEFORE: &str = "SELECT c.seq, c.hash FROM audit_checkpoints c \
     JOIN audit_logs l ON l.id = c.seq AND l.hash = c.hash \
     WHERE l.at < $1 ORDER BY c.seq DESC LIMIT 1";
const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints \
     (seq, hash, signed_at_ms, key_id, signature) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (seq, key_id) DO NOTHING";
const CHECKPOINTS_FROM: &str = "SELECT seq, hash, signed_at_ms, key_id, signature \
     FROM audit_checkpoints WHERE seq >= $1 ORDER BY seq, key_id";
const NEWEST_CHECKPOINTS: &str = "SELECT seq, hash, signed_at_ms, key_id, signature \
     FROM audit_checkpoints ORDER BY seq DESC, key_id LIMIT $1";
const DELETE_AUDIT_UPTO: &str = "DELETE FROM audit_logs WHERE id <= $1";
const SET_CHECKPOINT: &str =
    "UPDATE audit_chain SET pruned_seq = $1, pruned_hash = $2 WHERE id = 1";
const AUTH_EVENT_COUNTS: &str = "SELECT client_id, event, COUNT(*) AS count FROM audit_logs \
     WHERE tenant_id = $1 AND at >= $2 AND event IN \
     ('auth.client.success', 'auth.client.failure', 'auth.bearer.failure', 'token.issued', \
      'token.refreshed', 'token.revoked', 'token.refresh_reuse', 'rate_limit.exceeded') \
     GROUP BY client_id, event ORDER BY client_id, event";

/// An audit row as both backends read it, column for column.
type AuditRow = (
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
);

fn entry(row: AuditRow) -> AuditEntry {
    AuditEntry {
        seq: row.0,
        at: row.1,
        tenant_id: row.2,
        client_id: row.3,
        request_id: row.4,
        source: row.5,
        event: row.6,
        outcome: row.7,
        details: row.8,
        prev_hash: row.9,
        hash: row.10,
    }
}

/// Appends drafts to the chain inside the caller's transaction, holding the head row
/// (`Dialect::LOCK_CHAIN_HEAD`), 1000 entries a statement.
pub(crate) async fn append<D: Dialect>(
    conn: &mut D::Connection,
    drafts: &[AuditDraft],
) -> StoreResult<()> {
    for chunk in drafts.chunks(1000) {
        let (seq, head): (i64, String) = sql::<D>(D::LOCK_CHAIN_HEAD)
            .fetch_one(On::Tx(&mut *conn))
            .await?;
        let (linked, new_seq, new_head) = link_all(chunk, seq, &head);
        let mut insert = QueryBuilder::<D>::new(INSERT_ENTRIES);
        insert.push_values(&linked, |mut row, entry| {
            row.push_param(entry.seq)
                .push_param(entry.at)
                .push_param(entry.tenant_id)
                .push_param(entry.client_id.clone())
                .push_param(entry.request_id.clone())
                .push_param(entry.source.clone())
                .push_param(entry.event.clone())
                .push_param(entry.outcome.clone())
                .push_param(entry.details.clone())
                .push_param(entry.prev_hash.clone())
                .push_param(entry.hash.clone());
        });
        Statement::from(insert.build())
            .execute(On::Tx(&mut *conn))
            .await?;
        site_hours::count_audited::<D>(&mut *conn, &linked).await?;
        sql::<D>(UPDATE_CHAIN_HEAD)
            .bind(new_seq)
            .bind(new_head)
            .execute(On::Tx(&mut *conn))
            .await?;
    }
    Ok(())
}

/// Stored entries in chain order, starting after `after_seq`.
pub(crate) async fn entries<D: Dialect>(
    db: &Connections<D>,
    after_seq: i64,
    limit: i64,
) -> StoreResult<Vec<AuditEntry>> {
    let select =
        format!("SELECT {AUDIT_COLUMNS} FROM audit_logs WHERE id > $1 ORDER BY id LIMIT $2");
    let rows: Vec<AuditRow> = sql(&select)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// The current head of the chain: (sequence number, hash).
pub(crate) async fn head<D: Dialect>(db: &Connections<D>) -> StoreResult<(i64, String)> {
    sql(AUDIT_HEAD).fetch_one(db.read()).await
}

/// Where the pruned prefix of the chain ended.
pub(crate) async fn checkpoint<D: Dialect>(db: &Connections<D>) -> StoreResult<(i64, String)> {
    sql(AUDIT_CHECKPOINT).fetch_one(db.read()).await
}

/// Deletes the entries older than `before` and records the checkpoint where they ended, with
/// the audit entry of the pruning, holding the head row throughout. With `at_signed`, the
/// cut is the newest signed checkpoint before `before`, so the retention checkpoint left
/// behind is one a signature vouches for.
pub(crate) async fn prune<D: Dialect>(
    db: &Connections<D>,
    before: UnixMillis,
    at_signed: bool,
    audit: AuditDraft,
) -> StoreResult<u64> {
    let mut write = db.begin_write().await?;
    // Hold the head row: appends wait, so the checkpoint and the chain agree.
    let _: (i64, String) = sql::<D>(D::LOCK_CHAIN_HEAD).fetch_one(write.on()).await?;
    let last: Option<(i64, String)> = sql(if at_signed {
        LAST_SIGNED_ENTRY_BEFORE
    } else {
        LAST_ENTRY_BEFORE
    })
    .bind(before)
    .fetch_optional(write.on())
    .await?;
    let Some((seq, hash)) = last else {
        return Ok(0);
    };
    let deleted = sql(DELETE_AUDIT_UPTO).bind(seq).execute(write.on()).await?;
    sql(SET_CHECKPOINT)
        .bind(seq)
        .bind(&hash)
        .execute(write.on())
        .await?;
    let audit = audit
        .with_detail("entries_deleted", deleted)
        .with_detail("checkpoint_seq", seq)
        .with_detail("checkpoint_hash", hash);
    write.commit(&[audit]).await?;
    Ok(deleted)
}

/// Keeps a signed checkpoint (one already kept is left as it is).
pub(crate) async fn add_checkpoint<D: Dialect>(
    db: &Connections<D>,
    checkpoint: &SignedCheckpoint,
) -> StoreResult<()> {
    sql(INSERT_CHECKPOINT)
        .bind(checkpoint.seq)
        .bind(&checkpoint.hash)
        .bind(checkpoint.signed_at_ms)
        .bind(&checkpoint.key_id)
        .bind(&checkpoint.signature)
        .execute(db.write())
        .await?;
    Ok(())
}

type CheckpointRow = (i64, String, i64, String, String);

fn signed((seq, hash, signed_at_ms, key_id, signature): CheckpointRow) -> SignedCheckpoint {
    SignedCheckpoint {
        seq,
        hash,
        signed_at_ms,
        key_id,
        signature,
    }
}

/// The signed checkpoints at `from_seq` and after, in chain order.
pub(crate) async fn checkpoints_from<D: Dialect>(
    db: &Connections<D>,
    from_seq: i64,
) -> StoreResult<Vec<SignedCheckpoint>> {
    let rows: Vec<CheckpointRow> = sql(CHECKPOINTS_FROM)
        .bind(from_seq)
        .fetch_all(db.read())
        .await?;
    Ok(rows.into_iter().map(signed).collect())
}

/// The newest signed checkpoints, newest first.
pub(crate) async fn newest_checkpoints<D: Dialect>(
    db: &Connections<D>,
    limit: i64,
) -> StoreResult<Vec<SignedCheckpoint>> {
    let rows: Vec<CheckpointRow> = sql(NEWEST_CHECKPOINTS)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    Ok(rows.into_iter().map(signed).collect())
}

/// One page of a tenant's entries matching `query`, newest first.
pub(crate) async fn query<D: Dialect>(
    db: &Connections<D>,
    query: &AuditQuery,
) -> StoreResult<Vec<AuditEntry>> {
    let mut select = QueryBuilder::<D>::new(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_logs WHERE tenant_id = "
    ));
    select.push_param(query.tenant_id);
    if let Some(before) = query.before_seq {
        select.push(" AND id < ").push_param(before);
    }
    if let Some(since) = query.since {
        select.push(" AND at >= ").push_param(since);
    }
    if let Some(until) = query.until {
        select.push(" AND at < ").push_param(until);
    }
    if !query.events.is_empty() {
        select.push(" AND event IN (");
        let mut list = select.separated(", ");
        for event in &query.events {
            list.push_param(event.clone());
        }
        select.push(")");
    }
    if let Some(client) = &query.client_id {
        select.push(" AND client_id = ").push_param(client.clone());
    }
    if let Some(outcome) = &query.outcome {
        select.push(" AND outcome = ").push_param(outcome.clone());
    }
    if let Some(text) = query.text.as_deref().filter(|t| !t.trim().is_empty()) {
        D::push_text_search(&mut select, text);
    }
    select
        .push(" ORDER BY id DESC LIMIT ")
        .push_param(query.limit);
    let rows: Vec<AuditRow> = Statement::from(select.build()).fetch_all(db.read()).await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// Counts of authentication events per client and event since `since` for one tenant.
pub(crate) async fn auth_event_counts<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
    since: UnixMillis,
) -> StoreResult<Vec<EventCount>> {
    sql(AUTH_EVENT_COUNTS)
        .bind(tenant_id)
        .bind(since)
        .fetch_all(db.read())
        .await
}
