//! The outbox: changes queued in one transaction, coalesced per record to the newest, each
//! given its HLC version at enqueue.

use kendrix_core::sync::{canonical_json, Change, ChangeError, Op};
use kendrix_core::{Hlc, UnixMillis};
use sqlx::{Sqlite, Transaction};

use super::{agent_state, LocalStore, CHUNK};
use crate::{EngineError, EngineResult};

/// A change's entity and id are valid by their types (`EntityName`, `RecordId`); what a
/// hand-built `Change` can still get wrong is its data against its op.
fn check(index: usize, change: &Change) -> EngineResult<()> {
    let mismatch = match (change.op, &change.data) {
        (Op::Upsert, None) => ChangeError::UpsertWithoutData,
        (Op::Delete, Some(_)) => ChangeError::DeleteWithData,
        _ => return Ok(()),
    };
    Err(EngineError::InvalidChange {
        index,
        reason: mismatch.to_string(),
    })
}

/// Queues changes inside one transaction: nothing is visible (or sent) until `commit`, and
/// dropping it without committing queues nothing.
pub struct Enqueue<'a> {
    pub(super) tx: Transaction<'static, Sqlite>,
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
        let last = self.hlc.tick(self.now);
        agent_state::remember_clock(&mut self.tx, &last).await?;
        self.tx.commit().await?;
        Ok(self.queued)
    }
}

impl LocalStore {
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
}
