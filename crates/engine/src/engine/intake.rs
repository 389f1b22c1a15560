//! Intake: changes into the outbox from calls, sources and the inbox folder, and dead
//! letters sent again, fixed or discarded.

use kendrix_core::sync::Change;
use serde_json::{Map, Value};

use super::Engine;
use crate::local_store::DeadLetter;
use crate::sources::{
    move_into, read_if_free, read_rows, still_in_use, Format, Inbox, InboxOutcome, RowShape,
};
use crate::{EngineError, EngineResult};

impl Engine {
    /// Queues changes in one transaction (all or none).
    pub async fn enqueue(&self, changes: &[Change]) -> EngineResult<usize> {
        let mut hlc = self.hlc.lock().await;
        let queued = self
            .store
            .enqueue(changes, &mut hlc, self.clock.now_ms())
            .await?;
        drop(hlc);
        self.publish().await?;
        Ok(queued)
    }

    /// Queues every row of a source in one transaction: a bad row queues nothing.
    pub async fn enqueue_rows(
        &self,
        input: impl std::io::Read,
        format: Format,
        shape: &RowShape,
    ) -> EngineResult<usize> {
        let mut hlc = self.hlc.lock().await;
        let mut enqueue = self
            .store
            .begin_enqueue(&mut hlc, self.clock.now_ms())
            .await?;
        read_rows(input, format, shape, &mut enqueue).await?;
        let queued = enqueue.commit().await?;
        drop(hlc);
        self.publish().await?;
        Ok(queued)
    }

    /// Takes in every ready file of the inbox. A file's rows and the note that it was taken
    /// are one transaction; only then is it moved, so a crash in between neither loses nor
    /// repeats a row (the note makes the next pass just move it). A file another program
    /// still holds (Windows) waits for a later pass.
    pub async fn take_inbox(&self, inbox: &Inbox) -> EngineResult<Vec<InboxOutcome>> {
        let mut outcomes = Vec::new();
        for path in inbox.ready_files()? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(bytes) = read_if_free(&path)? else {
                tracing::debug!(file = %name, "inbox file still in use; taking it later");
                continue;
            };
            let content_hash = kendrix_core::credentials::hash_bytes(&bytes);
            if self.store.inbox_file_taken(&name, &content_hash).await? {
                move_later_if_in_use(move_into(&path, &inbox.processed_dir()))?;
                continue;
            }
            let shape = RowShape {
                entity: Inbox::entity_of(&path),
                id_field: inbox.id_field.clone(),
            };
            let format = Format::of_path(&path).expect("ready files have a known format");
            let mut hlc = self.hlc.lock().await;
            let mut enqueue = self
                .store
                .begin_enqueue(&mut hlc, self.clock.now_ms())
                .await?;
            let read = read_rows(bytes.as_slice(), format, &shape, &mut enqueue).await;
            let taken = match read {
                Ok(rows) => {
                    enqueue.inbox_file(&name, &content_hash).await?;
                    enqueue.commit().await?;
                    Ok(rows)
                }
                Err(e @ (EngineError::BadRow { .. } | EngineError::InvalidChange { .. })) => {
                    Err(e.to_string())
                }
                Err(other) => return Err(other),
            };
            drop(hlc);
            match taken {
                Ok(rows) => {
                    // Taken is noted: if the move must wait, the next pass only moves it.
                    move_later_if_in_use(move_into(&path, &inbox.processed_dir()))?;
                    tracing::info!(file = %name, rows, "inbox file taken in");
                    outcomes.push(InboxOutcome::Taken { file: name, rows });
                }
                Err(reason) => {
                    let moved = match move_into(&path, &inbox.failed_dir()) {
                        // Nothing of it was queued: the next pass reads it again.
                        Err(e) if still_in_use(&e) => continue,
                        moved => moved?,
                    };
                    let mut error_file = moved.into_os_string();
                    error_file.push(".error");
                    std::fs::write(&error_file, format!("{reason}\n"))?;
                    tracing::warn!(file = %name, %reason, "inbox file refused");
                    outcomes.push(InboxOutcome::Failed { file: name, reason });
                }
            }
        }
        if !outcomes.is_empty() {
            self.publish().await?;
        }
        Ok(outcomes)
    }

    pub async fn dead_letters(&self) -> EngineResult<Vec<DeadLetter>> {
        self.store.dead_letters().await
    }

    /// Sends dead letters again (as new changes). Returns how many were queued.
    pub async fn retry_dead_letters(&self, ids: &[i64]) -> EngineResult<usize> {
        let mut hlc = self.hlc.lock().await;
        let n = self
            .store
            .requeue_dead_letters(ids, None, &mut hlc, self.clock.now_ms())
            .await?;
        drop(hlc);
        self.publish().await?;
        Ok(n)
    }

    /// Replaces a dead letter's data with a corrected JSON object and sends it again.
    pub async fn fix_dead_letter(&self, id: i64, data: &str) -> EngineResult<()> {
        let data: Map<String, Value> =
            serde_json::from_str(data).map_err(|e| EngineError::InvalidChange {
                index: 0,
                reason: format!("the corrected data must be a JSON object: {e}"),
            })?;
        let mut hlc = self.hlc.lock().await;
        self.store
            .requeue_dead_letters(&[id], Some(&data), &mut hlc, self.clock.now_ms())
            .await?;
        drop(hlc);
        self.publish().await
    }

    pub async fn discard_dead_letters(&self, ids: &[i64]) -> EngineResult<u64> {
        let n = self.store.discard_dead_letters(ids).await?;
        self.publish().await?;
        Ok(n)
    }
}

/// A move that another program's open handle blocks (Windows) is retried on the next pass.
fn move_later_if_in_use(moved: std::io::Result<std::path::PathBuf>) -> std::io::Result<()> {
    match moved {
        Err(e) if still_in_use(&e) => Ok(()),
        other => other.map(drop),
    }
}
