//! Dead letters (records the server refused, kept for staff) and the sync history.

use kendrix_core::sync::{Change, Op, StatusCounts};
use kendrix_core::{Hlc, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{Sqlite, Transaction};

use super::{LocalStore, CHUNK};
use crate::status::{RunOutcome, Trigger};
use crate::{EngineError, EngineResult};

/// A record the server refused, kept until staff fix, resend or discard it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub entity: String,
    pub record_id: String,
    pub op: String,
    pub version: String,
    pub data: Option<String>,
    pub reason: String,
    pub at: UnixMillis,
}

/// One sync run as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub id: i64,
    pub started_at: UnixMillis,
    pub finished_at: Option<UnixMillis>,
    pub trigger: Trigger,
    /// `None` while the run is under way (or if its process died).
    pub outcome: Option<RunOutcome>,
    pub batches: i64,
    pub sent: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
    pub error: Option<String>,
}

/// A `sync_runs` row as stored (the words not yet read back).
#[derive(sqlx::FromRow)]
struct SyncRunRow {
    id: i64,
    started_at: UnixMillis,
    finished_at: Option<UnixMillis>,
    trigger: String,
    outcome: Option<String>,
    batches: i64,
    sent: i64,
    applied: i64,
    duplicate: i64,
    stale: i64,
    rejected: i64,
    error: Option<String>,
}

impl From<SyncRunRow> for SyncRun {
    fn from(row: SyncRunRow) -> Self {
        SyncRun {
            id: row.id,
            started_at: row.started_at,
            finished_at: row.finished_at,
            trigger: Trigger::parse(&row.trigger),
            outcome: row.outcome.as_deref().and_then(RunOutcome::parse),
            batches: row.batches,
            sent: row.sent,
            applied: row.applied,
            duplicate: row.duplicate,
            stale: row.stale,
            rejected: row.rejected,
            error: row.error,
        }
    }
}

impl LocalStore {
    /// The dead letters, oldest first.
    pub async fn dead_letters(&self) -> EngineResult<Vec<DeadLetter>> {
        Ok(sqlx::query_as(
            "SELECT id, entity, record_id, op, version, data, reason, at FROM dead_letters ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn dead_letter_count(&self) -> EngineResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM dead_letters")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Sends dead letters again: each goes back to the outbox as a new change (a fresh
    /// version, since staff resending it makes it the newest) unless a newer change to the
    /// record is already waiting. `data` replaces the record's data (a fix). Returns how
    /// many were requeued.
    pub async fn requeue_dead_letters(
        &self,
        ids: &[i64],
        data: Option<&Map<String, Value>>,
        hlc: &mut Hlc,
        now: UnixMillis,
    ) -> EngineResult<usize> {
        let letters: Vec<DeadLetter> = self
            .dead_letters()
            .await?
            .into_iter()
            .filter(|d| ids.contains(&d.id))
            .collect();
        if letters.len() != ids.len() {
            let missing: Vec<i64> = ids
                .iter()
                .filter(|id| !letters.iter().any(|d| d.id == **id))
                .copied()
                .collect();
            return Err(EngineError::NoSuchDeadLetter(missing));
        }
        let changes = letters
            .iter()
            .enumerate()
            .map(|(index, d)| {
                let op = if d.op == "delete" {
                    Op::Delete
                } else {
                    Op::Upsert
                };
                let data = match (op, data) {
                    (Op::Delete, _) => None,
                    (Op::Upsert, Some(fixed)) => Some(fixed.clone()),
                    (Op::Upsert, None) => d
                        .data
                        .as_deref()
                        .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok()),
                };
                // Kept as the server refused it, which may be a name no longer accepted.
                Change::new(&d.entity, d.record_id.as_str(), op, None, data).map_err(|e| {
                    EngineError::InvalidChange {
                        index,
                        reason: format!("dead letter #{}: {e}", d.id),
                    }
                })
            })
            .collect::<EngineResult<Vec<_>>>()?;
        let mut enqueue = self.begin_enqueue(hlc, now).await?;
        enqueue.add(&changes).await?;
        delete_dead_letters(&mut enqueue.tx, ids).await?;
        enqueue.commit().await
    }

    /// Drops dead letters for good (staff decided they are not needed). Returns how many.
    pub async fn discard_dead_letters(&self, ids: &[i64]) -> EngineResult<u64> {
        let mut tx = self.begin_write().await?;
        let n = delete_dead_letters(&mut tx, ids).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Opens a history entry for a run that starts now.
    pub async fn run_started(&self, trigger: Trigger, now: UnixMillis) -> EngineResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO sync_runs (started_at, trigger) VALUES ($1, $2) RETURNING id",
        )
        .bind(now)
        .bind(trigger.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Completes a history entry.
    pub async fn run_finished(
        &self,
        run_id: i64,
        outcome: RunOutcome,
        batches: i64,
        counts: &StatusCounts,
        error: Option<&str>,
        now: UnixMillis,
    ) -> EngineResult<()> {
        let sent = counts.applied + counts.duplicate + counts.stale + counts.rejected;
        sqlx::query(
            "UPDATE sync_runs SET finished_at = $2, outcome = $3, batches = $4, sent = $5, \
             applied = $6, duplicate = $7, stale = $8, rejected = $9, error = $10 WHERE id = $1",
        )
        .bind(run_id)
        .bind(now)
        .bind(outcome.as_str())
        .bind(batches)
        .bind(sent as i64)
        .bind(counts.applied as i64)
        .bind(counts.duplicate as i64)
        .bind(counts.stale as i64)
        .bind(counts.rejected as i64)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One run of the history.
    pub async fn run(&self, run_id: i64) -> EngineResult<SyncRun> {
        let row: SyncRunRow = sqlx::query_as(
            "SELECT id, started_at, finished_at, trigger, outcome, batches, sent, applied, \
             duplicate, stale, rejected, error FROM sync_runs WHERE id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    /// The newest runs first.
    pub async fn history(&self, limit: i64) -> EngineResult<Vec<SyncRun>> {
        let rows: Vec<SyncRunRow> = sqlx::query_as(
            "SELECT id, started_at, finished_at, trigger, outcome, batches, sent, applied, \
             duplicate, stale, rejected, error FROM sync_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(SyncRun::from).collect())
    }
}

async fn delete_dead_letters(
    tx: &mut Transaction<'static, Sqlite>,
    ids: &[i64],
) -> EngineResult<u64> {
    let mut deleted = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut delete =
            sqlx::QueryBuilder::<Sqlite>::new("DELETE FROM dead_letters WHERE id IN (");
        let mut list = delete.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        delete.push(")");
        deleted += delete.build().execute(&mut **tx).await?.rows_affected();
    }
    Ok(deleted)
}
