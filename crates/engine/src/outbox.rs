//! The outbox and the batches formed from it, in the agent's local SQLite database (WAL).

use std::path::Path;
use std::str::FromStr;

use kendrix_core::sync::{
    valid_entity, BatchResponse, Op, RecordProblem, RecordStatus, MAX_ID_BYTES,
};
use kendrix_core::{Hlc, UnixMillis, Version};
use rand::RngCore;
use serde_json::{json, Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

/// The engine's local store.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: SqlitePool,
}

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/agent/sqlite");

fn check(index: usize, change: &Change) -> EngineResult<()> {
    let invalid = |reason: &str| EngineError::InvalidChange {
        index,
        reason: reason.to_owned(),
    };
    if !valid_entity(&change.entity) {
        return Err(invalid("the entity must match [a-z][a-z0-9_]{0,63}"));
    }
    if change.id.is_empty() || change.id.len() > MAX_ID_BYTES {
        return Err(invalid("the id must be 1 to 256 bytes"));
    }
    match (change.op, &change.data) {
        (Op::Upsert, None) => Err(invalid("an upsert needs data (a JSON object)")),
        (Op::Delete, Some(_)) => Err(invalid("a delete carries no data")),
        _ => Ok(()),
    }
}

impl Outbox {
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

    /// Queues changes in one transaction, all or none. A change to a record already waiting
    /// replaces it when newer (pending changes coalesce to the newest). Returns how many
    /// changes were queued.
    pub async fn enqueue(
        &self,
        changes: &[Change],
        hlc: &mut Hlc,
        now: UnixMillis,
    ) -> EngineResult<usize> {
        for (index, change) in changes.iter().enumerate() {
            check(index, change)?;
        }
        let rows: Vec<(&Change, String, Option<String>)> = changes
            .iter()
            .map(|c| {
                let version = c.version.clone().unwrap_or_else(|| hlc.tick(now));
                hlc.observe(&version);
                (
                    c,
                    version.to_string(),
                    c.data.as_ref().map(kendrix_core::sync::canonical_json),
                )
            })
            .collect();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // 6 values a row; SQLite allows 32766 in one statement.
        for chunk in rows.chunks(1000) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO outbox (entity, record_id, op, version, data, enqueued_at) ",
            );
            insert.push_values(chunk, |mut row, (change, version, data)| {
                row.push_bind(change.entity.as_str())
                    .push_bind(change.id.as_str())
                    .push_bind(change.op.as_str())
                    .push_bind(version.as_str())
                    .push_bind(data.as_deref())
                    .push_bind(now);
            });
            insert.push(
                " ON CONFLICT (entity, record_id) DO UPDATE SET op = excluded.op, \
                 version = excluded.version, data = excluded.data, enqueued_at = excluded.enqueued_at \
                 WHERE excluded.version > outbox.version",
            );
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(changes.len())
    }

    /// Records waiting: in the outbox and in formed batches not yet answered.
    pub async fn queue_depth(&self) -> EngineResult<i64> {
        let (depth,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COALESCE(SUM(records), 0) FROM batches)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(depth)
    }

    /// The batch to send next: an unanswered one if any (after a crash, the same key and
    /// body go out again), else up to `max` of the oldest waiting records, moved from the
    /// outbox into a new persisted batch in one transaction. `None` when nothing waits.
    pub async fn next_batch(
        &self,
        max: i64,
        now: UnixMillis,
        rng: &mut impl RngCore,
    ) -> EngineResult<Option<FormedBatch>> {
        let pending: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, idempotency_key, body, records, attempts FROM batches ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if let Some((id, idempotency_key, body, records, attempts)) = pending {
            return Ok(Some(FormedBatch {
                id,
                idempotency_key,
                body,
                records,
                attempts,
            }));
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut rows: Vec<(i64, String, String, String, String, Option<String>)> = sqlx::query_as(
            "DELETE FROM outbox WHERE (entity, record_id) IN \
             (SELECT entity, record_id FROM outbox ORDER BY enqueued_at, entity, record_id LIMIT $1) \
             RETURNING enqueued_at, entity, record_id, op, version, data",
        )
        .bind(max)
        .fetch_all(&mut *tx)
        .await?;
        // RETURNING has no order of its own: send in the order the changes were queued.
        rows.sort();
        if rows.is_empty() {
            return Ok(None);
        }
        let records: Vec<Value> = rows
            .iter()
            .map(|(_, entity, id, op, version, data)| {
                let mut record = json!({"entity": entity, "id": id, "op": op, "version": version});
                if let Some(data) = data {
                    record["data"] = serde_json::from_str(data).unwrap_or(Value::Null);
                }
                record
            })
            .collect();
        let body = json!({ "records": records }).to_string();
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
        .bind(rows.len() as i64)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(FormedBatch {
            id,
            idempotency_key,
            body,
            records: rows.len() as i64,
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
    /// done — one transaction.
    pub async fn batch_answered(
        &self,
        batch: &FormedBatch,
        response: &BatchResponse,
        now: UnixMillis,
    ) -> EngineResult<()> {
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

    /// Records a 422 for a whole batch: the records it names become dead letters, every
    /// other record goes back to the outbox (unless a newer change to it is already there),
    /// and the batch is done — one transaction.
    pub async fn batch_refused(
        &self,
        batch: &FormedBatch,
        problems: &[RecordProblem],
        now: UnixMillis,
    ) -> EngineResult<()> {
        let records = records_of(batch);
        let dead: Vec<(&Value, String)> = problems
            .iter()
            .filter_map(|p| records.get(p.index).map(|r| (r, p.errors.join("; "))))
            .collect();
        let named: Vec<usize> = problems.iter().map(|p| p.index).collect();
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
    ) -> EngineResult<()> {
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
        let data = |v: &Value| v.get("data").filter(|d| !d.is_null()).map(Value::to_string);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in dead.chunks(1000) {
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
        for chunk in back.chunks(1000) {
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
        sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(batch_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The dead letters, oldest first.
    pub async fn dead_letters(&self) -> EngineResult<Vec<DeadLetter>> {
        Ok(sqlx::query_as(
            "SELECT id, entity, record_id, op, version, data, reason, at FROM dead_letters ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

fn records_of(batch: &FormedBatch) -> Vec<Value> {
    serde_json::from_str::<Value>(&batch.body)
        .ok()
        .and_then(|b| b.get("records").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}
