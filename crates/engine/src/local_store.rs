//! The agent's local SQLite database (WAL): the outbox, the batches formed from it, dead
//! letters, the sync history and the agent's remembered state.

use std::path::Path;
use std::str::FromStr;

use kendrix_core::sync::{
    canonical_json, BatchResponse, EntityName, Op, RecordId, RecordProblem, RecordStatus,
    StatusCounts,
};
use kendrix_core::{Hlc, UnixMillis, Version};
use rand::RngCore;
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::{EngineError, EngineResult};

/// One change a source hands to the engine. Without a version, the engine's clock gives one.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub entity: String,
    pub id: String,
    pub op: Op,
    pub version: Option<Version>,
    pub data: Option<Map<String, Value>>,
}

/// A batch as persisted: send exactly this body with exactly this key, however often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormedBatch {
    pub id: i64,
    pub idempotency_key: String,
    pub body: String,
    pub records: i64,
    pub attempts: i64,
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SyncRun {
    pub id: i64,
    pub started_at: UnixMillis,
    pub finished_at: Option<UnixMillis>,
    pub trigger: String,
    pub outcome: Option<String>,
    pub batches: i64,
    pub sent: i64,
    pub applied: i64,
    pub duplicate: i64,
    pub stale: i64,
    pub rejected: i64,
    pub error: Option<String>,
}

/// The agent's local database.
#[derive(Debug, Clone)]
pub struct LocalStore {
    pool: SqlitePool,
}

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/agent/sqlite");
/// Rows per multi-row statement: 7 values a row stays far below SQLite's 32766 limit.
const CHUNK: usize = 1000;
const HLC_KEY: &str = "hlc";

fn check(index: usize, change: &Change) -> EngineResult<()> {
    let invalid = |reason: &str| EngineError::InvalidChange {
        index,
        reason: reason.to_owned(),
    };
    if let Err(e) = EntityName::check(&change.entity).and(RecordId::check(&change.id)) {
        return Err(invalid(&e.to_string()));
    }
    match (change.op, &change.data) {
        (Op::Upsert, None) => Err(invalid("an upsert needs data (a JSON object)")),
        (Op::Delete, Some(_)) => Err(invalid("a delete carries no data")),
        _ => Ok(()),
    }
}

/// Queues changes inside one transaction: nothing is visible (or sent) until `commit`, and
/// dropping it without committing queues nothing.
pub struct Enqueue<'a> {
    tx: Transaction<'static, Sqlite>,
    hlc: &'a mut Hlc,
    now: UnixMillis,
    queued: usize,
}

impl Enqueue<'_> {
    /// Adds changes; a newer change to a record already waiting replaces it (coalescing).
    pub async fn add(&mut self, changes: &[Change]) -> EngineResult<()> {
        for (index, change) in changes.iter().enumerate() {
            check(self.queued + index, change)?;
        }
        let rows: Vec<(&Change, String, Option<String>)> = changes
            .iter()
            .map(|c| {
                let version = c.version.clone().unwrap_or_else(|| self.hlc.tick(self.now));
                self.hlc.observe(&version);
                (c, version.to_string(), c.data.as_ref().map(canonical_json))
            })
            .collect();
        for chunk in rows.chunks(CHUNK) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO outbox (entity, record_id, op, version, data, enqueued_at) ",
            );
            insert.push_values(chunk, |mut row, (change, version, data)| {
                row.push_bind(change.entity.as_str())
                    .push_bind(change.id.as_str())
                    .push_bind(change.op.as_str())
                    .push_bind(version.as_str())
                    .push_bind(data.as_deref())
                    .push_bind(self.now);
            });
            insert.push(
                " ON CONFLICT (entity, record_id) DO UPDATE SET op = excluded.op, \
                 version = excluded.version, data = excluded.data, enqueued_at = excluded.enqueued_at \
                 WHERE excluded.version > outbox.version",
            );
            insert.build().execute(&mut *self.tx).await?;
        }
        self.queued += changes.len();
        Ok(())
    }

    /// Notes an inbox file as taken in, in the same transaction as its rows.
    pub async fn inbox_file(&mut self, name: &str, content_hash: &str) -> EngineResult<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO inbox_files (name, content_hash, rows, taken_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(content_hash)
        .bind(self.queued as i64)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Makes every added change durable at once; returns how many were queued.
    pub async fn commit(mut self) -> EngineResult<usize> {
        // The clock survives restarts, so versions never go backwards with the wall clock.
        let last = self.hlc.tick(self.now).to_string();
        set_state(&mut self.tx, HLC_KEY, &last).await?;
        self.tx.commit().await?;
        Ok(self.queued)
    }
}

async fn set_state(
    tx: &mut Transaction<'static, Sqlite>,
    key: &str,
    value: &str,
) -> EngineResult<()> {
    sqlx::query("INSERT OR REPLACE INTO agent_state (key, value) VALUES ($1, $2)")
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The condition naming the `$1` oldest waiting records: the one definition the batch's
/// body and the removal from the outbox share, so both always take the same records.
macro_rules! oldest_waiting {
    () => {
        "(entity, record_id) IN (SELECT entity, record_id FROM outbox \
         ORDER BY enqueued_at, entity, record_id LIMIT $1)"
    };
}

impl LocalStore {
    /// Opens (creating and migrating) the local database at `path`.
    pub async fn open(path: &Path) -> EngineResult<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        // One connection: the agent is one process, and every write is a short transaction.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Begins a write transaction on a task of its own, so a caller cancelled meanwhile (the
    /// app quitting mid-sync) never leaves the one connection inside a transaction: sqlx 0.8
    /// does when a custom `BEGIN` is cancelled between its acknowledgement and its check,
    /// and every later write then fails. An unclaimed transaction rolls back as it drops.
    async fn begin_write(&self) -> EngineResult<Transaction<'static, Sqlite>> {
        let pool = self.pool.clone();
        let begin = tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await });
        // The task fails only if the runtime is shutting down.
        let begun = begin
            .await
            .map_err(|_| EngineError::Database(sqlx::Error::PoolClosed))?;
        Ok(begun?)
    }

    /// The agent's clock for `node`, never behind the last version it handed out.
    pub async fn hlc(&self, node: &str) -> EngineResult<Hlc> {
        let mut hlc = Hlc::new(node).map_err(|e| EngineError::InvalidChange {
            index: 0,
            reason: format!("node id {node:?}: {e}"),
        })?;
        if let Some(last) = self.state(HLC_KEY).await? {
            if let Ok(last) = last.parse::<Version>() {
                hlc.observe(&last);
            }
        }
        Ok(hlc)
    }

    /// Starts queuing changes in one transaction (see [`Enqueue`]).
    pub async fn begin_enqueue<'a>(
        &self,
        hlc: &'a mut Hlc,
        now: UnixMillis,
    ) -> EngineResult<Enqueue<'a>> {
        Ok(Enqueue {
            tx: self.begin_write().await?,
            hlc,
            now,
            queued: 0,
        })
    }

    /// Queues changes in one transaction, all or none. Returns how many were queued.
    pub async fn enqueue(
        &self,
        changes: &[Change],
        hlc: &mut Hlc,
        now: UnixMillis,
    ) -> EngineResult<usize> {
        let mut enqueue = self.begin_enqueue(hlc, now).await?;
        enqueue.add(changes).await?;
        enqueue.commit().await
    }

    /// Whether an inbox file with this content was already taken in.
    pub async fn inbox_file_taken(&self, name: &str, content_hash: &str) -> EngineResult<bool> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM inbox_files WHERE name = $1 AND content_hash = $2")
                .bind(name)
                .bind(content_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Records waiting: in the outbox and in formed batches not yet answered.
    pub async fn queue_depth(&self) -> EngineResult<i64> {
        let (depth,): (i64,) = sqlx::query_as(
            "SELECT (SELECT n FROM outbox_size) + (SELECT COALESCE(SUM(records), 0) FROM batches)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(depth)
    }

    /// The batch to send next, leaving out those in `skip` (on their way already): an
    /// unanswered one if any (after a crash or a failed send, the same key and body go out
    /// again), else a new one (see [`LocalStore::form_batch`]). `None` when nothing waits.
    pub async fn next_batch(
        &self,
        skip: &std::collections::HashSet<i64>,
        max: i64,
        config_hash: Option<&str>,
        now: UnixMillis,
        rng: &mut impl RngCore,
    ) -> EngineResult<Option<FormedBatch>> {
        match self.unanswered_batch(skip).await? {
            Some(batch) => Ok(Some(batch)),
            None => self.form_batch(max, config_hash, now, rng).await,
        }
    }

    /// The oldest batch formed but not answered yet, leaving out those in `skip` (on their
    /// way already).
    pub async fn unanswered_batch(
        &self,
        skip: &std::collections::HashSet<i64>,
    ) -> EngineResult<Option<FormedBatch>> {
        // Only the one batch wanted is read: the bodies of those on their way stay put.
        let skip: Vec<i64> = skip.iter().copied().collect();
        let pending: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, idempotency_key, body, records, attempts FROM batches \
             WHERE id NOT IN (SELECT value FROM json_each($1)) ORDER BY id LIMIT 1",
        )
        .bind(serde_json::to_string(&skip).expect("ids serialize"))
        .fetch_optional(&self.pool)
        .await?;
        Ok(pending.map(
            |(id, idempotency_key, body, records, attempts)| FormedBatch {
                id,
                idempotency_key,
                body,
                records,
                attempts,
            },
        ))
    }

    /// Moves up to `max` of the oldest waiting records from the outbox into a new persisted
    /// batch with a fresh Idempotency-Key, in one transaction. `config_hash` (the
    /// configuration this agent runs) travels in the body for drift. `None` when the outbox
    /// is empty.
    pub async fn form_batch(
        &self,
        max: i64,
        config_hash: Option<&str>,
        now: UnixMillis,
        rng: &mut impl RngCore,
    ) -> EngineResult<Option<FormedBatch>> {
        let mut tx = self.begin_write().await?;
        // SQLite writes the records array itself and hands it over as one value: no row by
        // row transfer, and the data (kept as JSON text) is never parsed here. Data that is
        // not JSON (never written by this agent) goes as null, so the server refuses that
        // record by name instead of the whole batch.
        let (count, records): (i64, String) = sqlx::query_as(concat!(
            "SELECT count(*), json_group_array(json_object('entity', entity, \
                 'id', record_id, 'op', op, 'version', version, \
                 'data', json(CASE WHEN json_valid(data) THEN data END)) \
                 ORDER BY enqueued_at, entity, record_id) FROM outbox WHERE ",
            oldest_waiting!()
        ))
        .bind(max)
        .fetch_one(&mut *tx)
        .await?;
        if count == 0 {
            return Ok(None);
        }
        // The same records (the order is total), in the same transaction.
        sqlx::query(concat!("DELETE FROM outbox WHERE ", oldest_waiting!()))
            .bind(max)
            .execute(&mut *tx)
            .await?;
        let mut body = format!("{{\"records\":{records}");
        if let Some(hash) = config_hash {
            body.push_str(",\"config_hash\":");
            body.push_str(&Value::from(hash).to_string());
        }
        body.push('}');
        let mut key = [0u8; 16];
        rng.fill_bytes(&mut key);
        let idempotency_key = format!(
            "kxb-{}",
            key.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO batches (idempotency_key, body, records, formed_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&idempotency_key)
        .bind(&body)
        .bind(count)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(FormedBatch {
            id,
            idempotency_key,
            body,
            records: count,
            attempts: 0,
        }))
    }

    /// Counts a failed send of a batch (it stays, to be sent again with the same key).
    pub async fn batch_failed(&self, batch_id: i64, error: &str) -> EngineResult<()> {
        sqlx::query("UPDATE batches SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
            .bind(batch_id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the server's answer: rejected records become dead letters, and the batch is
    /// done — one transaction. Returns false when the answer was already recorded (another
    /// agent process sent the same batch).
    pub async fn batch_answered(
        &self,
        batch: &FormedBatch,
        response: &BatchResponse,
        now: UnixMillis,
    ) -> EngineResult<bool> {
        if !response
            .results
            .iter()
            .any(|r| r.status == RecordStatus::Rejected)
        {
            return self.finish(batch.id, &[], &[], now).await;
        }
        let records = records_of(batch);
        let dead: Vec<(&Value, String)> = response
            .results
            .iter()
            .filter(|r| r.status == RecordStatus::Rejected)
            .filter_map(|r| {
                let record = records
                    .iter()
                    .find(|v| v["entity"] == r.entity.as_str() && v["id"] == r.id.as_str())?;
                Some((
                    record,
                    r.reason
                        .clone()
                        .unwrap_or_else(|| "rejected by the server".into()),
                ))
            })
            .collect();
        self.finish(batch.id, &dead, &[], now).await
    }

    /// Records a refusal of a whole batch: the records `problems` name become dead letters,
    /// every other record goes back to the outbox (unless a newer change to it is already
    /// there), and the batch is done — one transaction.
    pub async fn batch_refused(
        &self,
        batch: &FormedBatch,
        problems: &[RecordProblem],
        now: UnixMillis,
    ) -> EngineResult<bool> {
        let records = records_of(batch);
        let dead: Vec<(&Value, String)> = problems
            .iter()
            .filter_map(|p| records.get(p.index).map(|r| (r, p.errors.join("; "))))
            .collect();
        let named: std::collections::HashSet<usize> = problems.iter().map(|p| p.index).collect();
        let back: Vec<&Value> = records
            .iter()
            .enumerate()
            .filter(|(i, _)| !named.contains(i))
            .map(|(_, r)| r)
            .collect();
        self.finish(batch.id, &dead, &back, now).await
    }

    async fn finish(
        &self,
        batch_id: i64,
        dead: &[(&Value, String)],
        back: &[&Value],
        now: UnixMillis,
    ) -> EngineResult<bool> {
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
        let data = |v: &Value| v.get("data").filter(|d| !d.is_null()).map(Value::to_string);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(batch_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for chunk in dead.chunks(CHUNK) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO dead_letters (entity, record_id, op, version, data, reason, at) ",
            );
            insert.push_values(chunk, |mut row, (record, reason)| {
                row.push_bind(text(record, "entity"))
                    .push_bind(text(record, "id"))
                    .push_bind(text(record, "op"))
                    .push_bind(text(record, "version"))
                    .push_bind(data(record))
                    .push_bind(reason.clone())
                    .push_bind(now);
            });
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in back.chunks(CHUNK) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO outbox (entity, record_id, op, version, data, enqueued_at) ",
            );
            insert.push_values(chunk, |mut row, record| {
                row.push_bind(text(record, "entity"))
                    .push_bind(text(record, "id"))
                    .push_bind(text(record, "op"))
                    .push_bind(text(record, "version"))
                    .push_bind(data(record))
                    .push_bind(now);
            });
            insert.push(" ON CONFLICT (entity, record_id) DO NOTHING");
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

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
            .map(|d| {
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
                Change {
                    entity: d.entity.clone(),
                    id: d.record_id.clone(),
                    op,
                    version: None,
                    data,
                }
            })
            .collect::<Vec<_>>();
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

    /// Reads one remembered value.
    pub async fn state(&self, key: &str) -> EngineResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM agent_state WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Every remembered value.
    pub async fn states(&self) -> EngineResult<std::collections::HashMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM agent_state")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Remembers values (a `None` forgets the key), all in one transaction.
    pub async fn set_states(&self, values: &[(&str, Option<&str>)]) -> EngineResult<()> {
        let mut tx = self.begin_write().await?;
        for (key, value) in values {
            match value {
                Some(value) => set_state(&mut tx, key, value).await?,
                None => {
                    sqlx::query("DELETE FROM agent_state WHERE key = $1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Opens a history entry for a run that starts now.
    pub async fn run_started(&self, trigger: &str, now: UnixMillis) -> EngineResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO sync_runs (started_at, trigger) VALUES ($1, $2) RETURNING id",
        )
        .bind(now)
        .bind(trigger)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Completes a history entry.
    pub async fn run_finished(
        &self,
        run_id: i64,
        outcome: &str,
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
        .bind(outcome)
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
        Ok(sqlx::query_as(
            "SELECT id, started_at, finished_at, trigger, outcome, batches, sent, applied, \
             duplicate, stale, rejected, error FROM sync_runs WHERE id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The newest runs first.
    pub async fn history(&self, limit: i64) -> EngineResult<Vec<SyncRun>> {
        Ok(sqlx::query_as(
            "SELECT id, started_at, finished_at, trigger, outcome, batches, sent, applied, \
             duplicate, stale, rejected, error FROM sync_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
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

fn records_of(batch: &FormedBatch) -> Vec<Value> {
    serde_json::from_str::<Value>(&batch.body)
        .ok()
        .and_then(|b| b.get("records").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[tokio::test]
    async fn a_batch_carries_queued_data_as_is_in_queue_order_and_unreadable_data_as_null() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("agent.db"))
            .await
            .unwrap();
        sqlx::query(
            r#"INSERT INTO outbox (entity, record_id, op, version, data, enqueued_at) VALUES
               ('orders', 'b', 'upsert', '1800000000000-0000-s', '{"n":1.5,"s":"é \" \\"}', 1),
               ('orders', 'a', 'upsert', '1800000000000-0000-s', 'not json', 2),
               ('orders', 'c', 'delete', '1800000000000-0000-s', NULL, 3),
               ('orders', 'd', 'delete', '1800000000000-0000-s', NULL, 4)"#,
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let batch = store
            .form_batch(3, Some("c0ffee"), 10, &mut rng)
            .await
            .unwrap()
            .expect("a batch");
        assert_eq!(batch.records, 3);
        let body: Value = serde_json::from_str(&batch.body).unwrap();
        let ids: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["b", "a", "c"], "queue order");
        assert_eq!(
            body["records"][0]["data"],
            serde_json::json!({"n": 1.5, "s": "é \" \\"})
        );
        assert_eq!(body["records"][1]["data"], Value::Null);
        assert_eq!(body["records"][2]["op"], "delete");
        assert_eq!(body["config_hash"], "c0ffee");
        // The batch's records left the outbox in the same transaction; one record waits.
        assert_eq!(store.queue_depth().await.unwrap(), 4);
        let next = store
            .form_batch(3, None, 11, &mut rng)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.records, 1);
        assert!(store
            .form_batch(3, None, 12, &mut rng)
            .await
            .unwrap()
            .is_none());
    }
}
