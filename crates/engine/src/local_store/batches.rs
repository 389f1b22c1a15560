//! Batches: records leave the outbox only in the transaction that persists them in a batch
//! (with its Idempotency-Key), and leave the batch only in the one that records the server's
//! answer.

use std::collections::HashSet;

use kendrix_core::sync::{BatchResponse, Op, RecordProblem, RecordStatus};
use kendrix_core::UnixMillis;
use rand::RngCore;
use serde::Deserialize;
use serde_json::Value;
use sqlx::Sqlite;

use super::{LocalStore, CHUNK};
use crate::EngineResult;

/// A batch as persisted: send exactly this body with exactly this key, however often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormedBatch {
    pub id: i64,
    pub idempotency_key: String,
    pub body: String,
    pub records: i64,
    pub attempts: i64,
}

/// A batch body as this agent stored it (SQLite wrote it: every field is present).
#[derive(Deserialize)]
struct StoredBody {
    records: Vec<StoredRecord>,
}

/// One record of a stored batch body, read back when the server's answer sends it to dead
/// letters or back to the outbox. Its names and version stay the text that was stored (not
/// `EntityName`/`RecordId`): a batch formed by an older agent may hold a name the types now
/// refuse, and that record must still become a dead letter rather than vanish.
#[derive(Deserialize)]
struct StoredRecord {
    entity: String,
    id: String,
    op: Op,
    version: String,
    /// `None` for a delete, and for data that was not JSON.
    data: Option<Value>,
}

impl StoredRecord {
    fn data_text(&self) -> Option<String> {
        self.data.as_ref().map(Value::to_string)
    }
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
    /// The batch to send next, leaving out those in `skip` (on their way already): an
    /// unanswered one if any (after a crash or a failed send, the same key and body go out
    /// again), else a new one (see [`LocalStore::form_batch`]). `None` when nothing waits.
    pub async fn next_batch(
        &self,
        skip: &HashSet<i64>,
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
    pub async fn unanswered_batch(&self, skip: &HashSet<i64>) -> EngineResult<Option<FormedBatch>> {
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
        let (count, records, oldest): (i64, String, Option<UnixMillis>) = sqlx::query_as(concat!(
            "SELECT count(*), json_group_array(json_object('entity', entity, \
                 'id', record_id, 'op', op, 'version', version, \
                 'data', json(CASE WHEN json_valid(data) THEN data END)) \
                 ORDER BY enqueued_at, entity, record_id), min(enqueued_at) FROM outbox WHERE ",
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
            "INSERT INTO batches (idempotency_key, body, records, formed_at, oldest_enqueued_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&idempotency_key)
        .bind(&body)
        .bind(count)
        .bind(now)
        .bind(oldest)
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
        let dead: Vec<(&StoredRecord, String)> = response
            .results
            .iter()
            .filter(|r| r.status == RecordStatus::Rejected)
            .filter_map(|r| {
                let record = records
                    .iter()
                    .find(|s| s.entity == r.entity && s.id == r.id)?;
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
        let dead: Vec<(&StoredRecord, String)> = problems
            .iter()
            .filter_map(|p| records.get(p.index).map(|r| (r, p.errors.join("; "))))
            .collect();
        let named: HashSet<usize> = problems.iter().map(|p| p.index).collect();
        let back: Vec<&StoredRecord> = records
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
        dead: &[(&StoredRecord, String)],
        back: &[&StoredRecord],
        now: UnixMillis,
    ) -> EngineResult<bool> {
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
                row.push_bind(record.entity.as_str())
                    .push_bind(record.id.as_str())
                    .push_bind(record.op.as_str())
                    .push_bind(record.version.as_str())
                    .push_bind(record.data_text())
                    .push_bind(reason.as_str())
                    .push_bind(now);
            });
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in back.chunks(CHUNK) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO outbox (entity, record_id, op, version, data, enqueued_at) ",
            );
            insert.push_values(chunk, |mut row, record| {
                row.push_bind(record.entity.as_str())
                    .push_bind(record.id.as_str())
                    .push_bind(record.op.as_str())
                    .push_bind(record.version.as_str())
                    .push_bind(record.data_text())
                    .push_bind(now);
            });
            insert.push(" ON CONFLICT (entity, record_id) DO NOTHING");
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn records_of(batch: &FormedBatch) -> Vec<StoredRecord> {
    serde_json::from_str::<StoredBody>(&batch.body)
        .map(|body| body.records)
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
