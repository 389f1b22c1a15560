//! Batch intake: a site's batch applied exactly once, all or nothing. The whole story of its
//! Idempotency-Key is here — the replay read, validation before the key is claimed, the
//! store's claim (replay, mismatch, in flight, or ours) and what each answer audits — and
//! the wire body of the answer is made here too, so the store only keeps what it is handed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kendrix_core::credentials;
use kendrix_core::sync::{validate_batch, BatchError, BatchLimits, BatchResponse, Record};
use kendrix_core::{AuditDraft, AuditEvent, AuditOutcome, Clock, UnixMillis};
use kendrix_store::{BatchToApply, IdempotencyClaim, NextAction, RefusedBatch, Store, StoreError};
use serde_json::{json, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::authorizer::Caller;
use super::{Failure, Within};
use crate::entropy::Entropy;
use crate::metrics::Metrics;
use crate::settings::SyncSettings;

/// Receives batches: validates, claims the key, applies, and answers.
pub struct BatchIntake {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    settings: SyncSettings,
    metrics: Arc<Metrics>,
    /// Admission control: one permit per batch being read and applied (`max_concurrent_batches`).
    slots: Arc<Semaphore>,
}

/// A batch's place among those being applied; held while its body is read and applied.
#[derive(Debug)]
pub struct BatchSlot(#[allow(dead_code)] OwnedSemaphorePermit);

/// How long a site that found every slot taken is told to wait before retrying.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The answer to a batch: its body as sent the first time (and kept for replays).
#[derive(Debug)]
pub struct BatchAnswer {
    pub body: String,
    /// True when the body is the stored answer to an earlier delivery of this batch.
    pub replayed: bool,
}

/// Why a batch was not applied, each a different answer for the site.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("config_hash must be the 64-hex-digit ETag of GET /config")]
    BadConfigHash,
    /// Refused as a whole (recorded and audited); nothing was applied.
    #[error("{0}")]
    Invalid(BatchError),
    /// The key was used with another body.
    #[error("this Idempotency-Key was already used with a different body")]
    Mismatch,
    /// Another request holds the key: retry after this many seconds.
    #[error("a request with this Idempotency-Key is still being processed")]
    InFlight { retry_after_secs: u64 },
    /// Every batch slot is taken (`max_concurrent_batches`): retry after this many seconds.
    #[error(
        "the server is applying as many batches as it can; retry after {retry_after_secs} seconds"
    )]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl BatchIntake {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        settings: SyncSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(settings.max_concurrent_batches.max(1)));
        Self {
            store,
            clock,
            entropy,
            settings,
            metrics,
            slots,
        }
    }

    /// A slot to read and apply one batch in, waiting at most `batch_admission_wait_ms`.
    /// Beyond `max_concurrent_batches` the batch is refused (`Busy`, a 503 with Retry-After)
    /// rather than queued: after an outage hundreds of sites return at once, and a queue would
    /// only hold their bodies in memory until their requests time out.
    pub async fn admit(&self) -> Result<BatchSlot, IntakeError> {
        let wait = Duration::from_millis(self.settings.batch_admission_wait_ms);
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Ok(permit),
                _ => Err(()),
            },
        };
        permit.map(BatchSlot).map_err(|()| {
            self.metrics.count("sync_batch_shed");
            IntakeError::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            }
        })
    }

    /// Applies the batch `bytes` sent by `caller` under `key`, or answers from the key's
    /// stored response. `started` is when the request arrived (for the batch's time).
    pub async fn receive(
        &self,
        caller: &Caller,
        key: &str,
        bytes: &[u8],
        started: Instant,
    ) -> Result<BatchAnswer, IntakeError> {
        let now = self.clock.now_ms();
        let ctx = &caller.ctx;
        let retention_ms = self.settings.idempotency_retention_secs * 1000;
        let body_b3 = credentials::body_b3(bytes);
        // A retry of a batch already applied is answered from its stored response before the
        // body is even parsed: the common case after a lost response, and cheap (a read, by
        // the body's BLAKE3 alone).
        let stored = self
            .store
            .stored_response(caller.client_pk, key, &body_b3, now);
        if let Some(body) = stored.await.within(ctx)? {
            self.replayed(caller, key, now);
            return Ok(BatchAnswer {
                body,
                replayed: true,
            });
        }
        // Validated before the key is claimed: an invalid batch is refused as such whatever
        // its key holds, and never holds the key. (Claiming before parsing measured ~20 %
        // slower on bench S1h.)
        let (records, config_hash) = self.check(caller, key, bytes, now, started).await?;
        let owner = credentials::generate_id(&mut self.entropy.rng());
        let claim = IdempotencyClaim {
            client_pk: caller.client_pk,
            key: key.to_owned(),
            request_hash: credentials::hash_bytes(bytes),
            body_b3,
            owner: owner.clone(),
            now,
            lease_ms: self.settings.idempotency_lease_secs * 1000,
            retention_ms,
        };
        match self.store.claim_idempotency_key(&claim).await.within(ctx)? {
            NextAction::Claimed => {}
            // Completed by another delivery between the read above and the claim.
            NextAction::Replay(body) => {
                self.replayed(caller, key, now);
                return Ok(BatchAnswer {
                    body,
                    replayed: true,
                });
            }
            NextAction::Mismatch => {
                self.metrics.count("idempotency_mismatch");
                let entry = audit(caller, now, AuditEvent::IdempotencyMismatch, key);
                self.store.append_audit(&[entry]).await.within(ctx)?;
                return Err(IntakeError::Mismatch);
            }
            NextAction::InFlight { retry_after_ms } => {
                self.metrics.count("idempotency_in_flight");
                let entry = audit(caller, now, AuditEvent::IdempotencyInFlight, key);
                self.store.append_audit(&[entry]).await.within(ctx)?;
                return Err(IntakeError::InFlight {
                    retry_after_secs: ((retry_after_ms + 999) / 1000).clamp(1, 60) as u64,
                });
            }
        }
        self.metrics.count("idempotency_miss");
        let batch = BatchToApply {
            batch_id: credentials::generate_id(&mut self.entropy.rng()),
            tenant_id: caller.tenant_id,
            client_pk: caller.client_pk,
            idempotency_key: key.to_owned(),
            owner,
            retention_ms,
            records,
            received_at: now,
            started,
            config_hash,
            audit: caller.audit(
                now,
                AuditEvent::SyncBatchApplied,
                AuditOutcome::Success,
                json!({"idempotency": "miss", "token_family": caller.token_family}),
            ),
        };
        match self.store.apply_batch(batch, &render_response).await {
            Ok(applied) => {
                self.metrics.count("sync_batch_applied");
                let counts = applied.response.counts;
                tracing::info!(batch_id = %applied.response.batch_id, applied = counts.applied,
                    duplicate = counts.duplicate, stale = counts.stale, "batch applied");
                Ok(BatchAnswer {
                    body: applied.body,
                    replayed: false,
                })
            }
            Err(StoreError::LeaseLost) => Err(IntakeError::InFlight {
                retry_after_secs: 1,
            }),
            Err(err) => Err(ctx.failure(err).into()),
        }
    }

    /// Counts and audits a replay. The audit entry is written in the background: a replay
    /// changes nothing, so the answer need not wait for the audit commit (which would triple
    /// the latency of the retry path, see bench S3).
    fn replayed(&self, caller: &Caller, key: &str, now: UnixMillis) {
        self.metrics.count("idempotency_hit");
        let entry = audit(caller, now, AuditEvent::IdempotencyReplayed, key);
        let (store, request_id) = (self.store.clone(), caller.ctx.request_id.clone());
        tokio::spawn(async move {
            if let Err(err) = store.append_audit(&[entry]).await {
                tracing::error!(request_id, error = %err, "auditing an idempotent replay failed");
            }
        });
    }

    /// Parses and validates a batch body: its records and the configuration hash it reports.
    /// A batch refused as a whole is recorded and audited before the refusal is returned.
    async fn check(
        &self,
        caller: &Caller,
        key: &str,
        bytes: &[u8],
        now: UnixMillis,
        started: Instant,
    ) -> Result<(Vec<Record>, Option<String>), IntakeError> {
        let mut value: Value =
            serde_json::from_slice(bytes).map_err(|e| IntakeError::MalformedJson(e.to_string()))?;
        let limits = BatchLimits {
            max_records: self.settings.max_batch_records,
            max_data_bytes: self.settings.max_record_data_bytes,
            max_data_depth: self.settings.max_record_data_depth,
        };
        // The hash of the configuration the client runs (the ETag of GET /config), for drift.
        let config_hash = match value.get("config_hash") {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(h.to_ascii_lowercase())
            }
            Some(_) => return Err(IntakeError::BadConfigHash),
        };
        match validate_batch(&mut value, &limits) {
            Ok(records) => Ok((records, config_hash)),
            Err(err) => Err(self.refuse(caller, key, err, &value, now, started).await),
        }
    }

    /// Records and audits a batch refused as a whole.
    async fn refuse(
        &self,
        caller: &Caller,
        key: &str,
        err: BatchError,
        body: &Value,
        now: UnixMillis,
        started: Instant,
    ) -> IntakeError {
        let records = body
            .get("records")
            .and_then(Value::as_array)
            .map_or(0, |r| r.len() as i64);
        let problems = match &err {
            BatchError::InvalidRecords(p) => p.len(),
            _ => 0,
        };
        let audit = caller.audit(
            now,
            AuditEvent::SyncBatchRefused,
            AuditOutcome::Failure,
            json!({"reason": err.to_string(), "records": records, "invalid_records": problems, "idempotency_key": key}),
        );
        let refused = RefusedBatch {
            batch_id: credentials::generate_id(&mut self.entropy.rng()),
            tenant_id: caller.tenant_id,
            client_pk: caller.client_pk,
            idempotency_key: Some(key.to_owned()),
            records,
            received_at: now,
            duration_us: started.elapsed().as_micros() as i64,
            audit,
        };
        if let Err(e) = self.store.record_refused_batch(refused).await {
            return caller.ctx.failure(e).into();
        }
        self.metrics.count("sync_batch_refused");
        IntakeError::Invalid(err)
    }
}

/// The audit entry of an answer about the batch's key.
fn audit(caller: &Caller, now: UnixMillis, event: AuditEvent, key: &str) -> AuditDraft {
    let outcome = match event {
        AuditEvent::IdempotencyReplayed => AuditOutcome::Success,
        _ => AuditOutcome::Failure,
    };
    caller.audit(now, event, outcome, json!({"idempotency_key": key}))
}

/// The body of a batch's answer, as sent and as kept for replays.
fn render_response(response: &BatchResponse) -> String {
    serde_json::to_string(response).expect("a batch response serializes")
}
