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

/// How large a new batch may grow: it takes the oldest waiting records until either limit
/// would be passed (a single record larger than `bytes` goes alone, and the server's
/// answer decides its fate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchBudget {
    pub records: i64,
    /// Bytes of the batch's body, kept under the server's body limit (16 MB by default).
    pub bytes: i64,
}

impl BatchBudget {
    /// The bytes a batch may have unless the configuration says otherwise (`sync.batch_bytes`):
    /// half the server's default body limit, leaving room for a proxy's own.
    pub const DEFAULT_BYTES: i64 = 8 * 1024 * 1024;

    pub fn records(records: i64) -> Self {
        Self {
            records,
            bytes: Self::DEFAULT_BYTES,
        }
    }
}

/// The condition naming the oldest waiting records within the budget (`$1` records, `$2`
/// bytes). A record's cost is its share of the body: its texts and the JSON around them (a
/// little over, so the body stays under the budget). The running sum only grows, so what it
/// names is always a prefix of the outbox in `outbox_order`: the removal names the same
/// records by their count.
macro_rules! oldest_waiting {
    () => {
        "(entity, record_id) IN (SELECT entity, record_id FROM ( \
           SELECT entity, record_id, cost, sum(cost) OVER ( \
             ORDER BY enqueued_at, entity, record_id ROWS UNBOUNDED PRECEDING) AS running \
           FROM (SELECT entity, record_id, enqueued_at, \
                   length(CAST(entity AS BLOB)) + 2 * length(CAST(record_id AS BLOB)) \
                   + length(CAST(version AS BLOB)) + COALESCE(length(CAST(data AS BLOB)), 4) \
                   + 64 AS cost \
                 FROM outbox ORDER BY enqueued_at, entity, record_id LIMIT $1)) \
         WHERE running <= $2 OR running = cost)"
    };
}

/// What a body holds besides its records (`{"records":[…],"config_hash":"…"}`), kept out of
/// the byte budget's share for records.
const ENVELOPE_BYTES: i64 = 128;

/// The body of a batch holding the records of batch `$1` at positions from `$2` up to (not
/// including) `$3`, with the same configuration hash.
const PART_OF_BATCH: &str =
    "SELECT '{\"records\":' || json_group_array(json(r.value) ORDER BY r.key) \
     || COALESCE(',\"config_hash\":' || json_quote(json_extract(b.body, '$.config_hash')), '') \
     || '}', count(*), b.oldest_enqueued_at \
     FROM batches b, json_each(b.body, '$.records') r \
     WHERE b.id = $1 AND r.key >= $2 AND r.key < $3";

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
        self.next_batch_within(skip, BatchBudget::records(max), config_hash, now, rng)
            .await
    }

    /// [`LocalStore::next_batch`] with a byte budget as well as a record count.
    pub async fn next_batch_within(
        &self,
        skip: &HashSet<i64>,
        budget: BatchBudget,
        config_hash: Option<&str>,
        now: UnixMillis,
        rng: &mut impl RngCore,
    ) -> EngineResult<Option<FormedBatch>> {
        match self.unanswered_batch(skip).await? {
            Some(batch) => Ok(Some(batch)),
            None => self.form_batch_within(budget, config_hash, now, rng).await,
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
        self.form_batch_within(BatchBudget::records(max), config_hash, now, rng)
            .await
    }

    /// [`LocalStore::form_batch`] within a byte budget as well as a record count.
    pub async fn form_batch_within(
        &self,
        budget: BatchBudget,
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
        .bind(budget.records)
        .bind(budget.bytes - ENVELOPE_BYTES)
        .fetch_one(&mut *tx)
        .await?;
        if count == 0 {
            return Ok(None);
        }
        // The same records, in the same transaction: the selection above is the first
        // `count` in this (total) order, so the order's index alone names them — their
        // sizes need not be read again.
        sqlx::query(
            "DELETE FROM outbox WHERE (entity, record_id) IN (SELECT entity, record_id \
             FROM outbox ORDER BY enqueued_at, entity, record_id LIMIT $1)",
        )
        .bind(count)
        .execute(&mut *tx)
        .await?;
        let mut body = format!("{{\"records\":{records}");
        if let Some(hash) = config_hash {
            body.push_str(",\"config_hash\":");
            body.push_str(&Value::from(hash).to_string());
        }
        body.push('}');
        let idempotency_key = new_key(rng);
        let id = insert_batch(&mut tx, &idempotency_key, &body, count, now, oldest).await?;
        tx.commit().await?;
        Ok(Some(FormedBatch {
            id,
            idempotency_key,
            body,
            records: count,
            attempts: 0,
        }))
    }

    /// Replaces a batch the server refused as too large (413) by its two halves, each with
    /// a fresh Idempotency-Key (the refused body was never read, so no key is owed an
    /// answer), in one transaction. Returns the halves, first half first; `None` when the
    /// batch is gone (another process answered it) or has a single record.
    pub async fn split_batch(
        &self,
        batch: &FormedBatch,
        now: UnixMillis,
        rng: &mut impl RngCore,
    ) -> EngineResult<Option<[FormedBatch; 2]>> {
        if batch.records < 2 {
            return Ok(None);
        }
        let middle = batch.records / 2;
        let mut tx = self.begin_write().await?;
        let mut halves = Vec::with_capacity(2);
        for (from, to) in [(0, middle), (middle, batch.records)] {
            let (body, records, oldest): (Option<String>, i64, Option<UnixMillis>) =
                sqlx::query_as(PART_OF_BATCH)
                    .bind(batch.id)
                    .bind(from)
                    .bind(to)
                    .fetch_one(&mut *tx)
                    .await?;
            let Some(body) = body.filter(|_| records > 0) else {
                return Ok(None);
            };
            let idempotency_key = new_key(rng);
            let id = insert_batch(&mut tx, &idempotency_key, &body, records, now, oldest).await?;
            halves.push(FormedBatch {
                id,
                idempotency_key,
                body,
                records,
                attempts: 0,
            });
        }
        let gone = sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(batch.id)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        let second = halves.pop().expect("two halves");
        let first = halves.pop().expect("two halves");
        Ok(Some([first, second]))
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

/// A fresh Idempotency-Key: `kxb-` and 128 random bits in hex.
fn new_key(rng: &mut impl RngCore) -> String {
    let mut key = [0u8; 16];
    rng.fill_bytes(&mut key);
    format!(
        "kxb-{}",
        key.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn records_of(batch: &FormedBatch) -> Vec<StoredRecord> {
    serde_json::from_str::<StoredBody>(&batch.body)
        .map(|body| body.records)
        .unwrap_or_default()
}

/// Inserts a formed batch; its row id.
async fn insert_batch(
    tx: &mut sqlx::SqliteConnection,
    idempotency_key: &str,
    body: &str,
    records: i64,
    now: UnixMillis,
    oldest: Option<UnixMillis>,
) -> EngineResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO batches (idempotency_key, body, records, formed_at, oldest_enqueued_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(idempotency_key)
    .bind(body)
    .bind(records)
    .bind(now)
    .bind(oldest)
    .fetch_one(tx)
    .await?;
    Ok(id)
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

    #[tokio::test]
    async fn a_byte_budget_cuts_the_batch_and_leaves_exactly_the_rest_queued_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("agent.db"))
            .await
            .unwrap();
        // Five records of ~1 kB, the third one of ~5 kB: more than a whole budget.
        let sizes = [1000, 1000, 5000, 1000, 1000];
        for (n, size) in sizes.iter().enumerate() {
            sqlx::query(
                "INSERT INTO outbox (entity, record_id, op, version, data, enqueued_at) \
                 VALUES ('orders', $1, 'upsert', '1800000000000-0000-s', $2, $3)",
            )
            .bind(format!("r{n}"))
            .bind(format!("{{\"pad\":\"{}\"}}", "x".repeat(*size)))
            .bind(n as i64)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        let budget = BatchBudget {
            records: 100,
            bytes: 2500 + ENVELOPE_BYTES,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut batches = Vec::new();
        while let Some(batch) = store
            .form_batch_within(budget, None, 10, &mut rng)
            .await
            .unwrap()
        {
            let body: Value = serde_json::from_str(&batch.body).unwrap();
            let ids: Vec<String> = body["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            batches.push(ids);
            let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox")
                .fetch_one(&store.pool)
                .await
                .unwrap();
            let taken: usize = batches.iter().map(Vec::len).sum();
            assert_eq!(
                left as usize,
                sizes.len() - taken,
                "only the batch left the outbox"
            );
        }
        // Two fit; the large one goes alone; then the last two.
        assert_eq!(batches, [vec!["r0", "r1"], vec!["r2"], vec!["r3", "r4"]]);
    }
}
