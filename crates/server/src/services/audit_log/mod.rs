//! The audit log as its readers see it: verification of the hash chain (against the signed
//! checkpoints too), pages of a tenant's entries, the chain head an agent keeps as a
//! witness, signed checkpoints, retention pruning, and exports that stream any number of
//! entries in constant memory. Reading, exporting and verifying are themselves audited.

mod export;
pub mod report;
pub mod report_html;
mod verify;

use std::sync::Arc;

use futures::stream::Stream;
use kendrix_core::audit::AuditEntry;
use kendrix_core::checkpoint::SignedCheckpoint;
use kendrix_core::{AuditEvent, AuditOutcome, Clock};
use kendrix_store::{AuditQuery, Store, StoreError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

pub use export::ExportFormat;
pub use verify::{TenantVerification, Verification, VerificationPermit};

use super::authorizer::Caller;
use super::{Failure, Within};
use crate::audit_keys::AuditKeys;
use crate::context::RequestContext;
use crate::throttle::Throttle;

/// Entries read per round trip when verifying or exporting.
const PAGE: i64 = 5000;

/// The head of the chain, and optionally what it holds at a witnessed position.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
    /// The entry asked for with `?witness=<seq>`, as the chain holds it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessedEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessedEntry {
    pub seq: i64,
    /// The entry's hash now; `null` when no entry has that number (see `pruned`).
    pub hash: Option<String>,
    /// True when retention pruned the entry: it can no longer be compared.
    pub pruned: bool,
    /// With `pruned`: the signed checkpoint where the pruned part of the chain ends, which
    /// a witness checks with the server's public key instead of taking `pruned` on trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<SignedCheckpoint>,
}

/// Who reads the log; the audit entry their read leaves names them.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// A client through the API: its own tenant's entries.
    Client(&'a Caller),
    /// An operator at the command line.
    Operator(&'a RequestContext),
}

/// Reads, verifies, exports and prunes the audit log.
pub struct AuditLog {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// How often each client may verify, and how many verifications run at once.
    verifications: verify::Gate,
    keys: AuditKeys,
}

impl AuditLog {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        throttle: Throttle,
        keys: AuditKeys,
    ) -> Self {
        Self {
            store,
            clock,
            verifications: verify::Gate::new(throttle),
            keys,
        }
    }

    /// The keys checkpoints are signed with and checked against.
    pub fn keys(&self) -> &AuditKeys {
        &self.keys
    }

    /// Signs the chain's head now and keeps the checkpoint; `None` when no signing key is
    /// set, or the chain is empty, or its head is signed already.
    pub async fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let Some(key) = self.keys.signing() else {
            return Ok(None);
        };
        let (seq, hash) = self.store.audit_head().await?;
        let newest = self.store.newest_audit_checkpoints(1).await?;
        if seq == 0
            || newest
                .first()
                .is_some_and(|c| c.seq == seq && c.key_id == key.key_id())
        {
            return Ok(None);
        }
        let signed = key.sign(seq, &hash, self.clock.now_ms());
        self.store.add_audit_checkpoint(&signed).await?;
        Ok(Some(signed))
    }

    /// The newest signed checkpoints, newest first.
    pub async fn checkpoints(
        &self,
        ctx: &RequestContext,
        limit: i64,
    ) -> Result<Vec<SignedCheckpoint>, Failure> {
        self.store
            .newest_audit_checkpoints(limit.clamp(1, 1000))
            .await
            .within(ctx)
    }

    /// One page of the caller's tenant's entries, newest first (`query.limit` of them), and
    /// whether older ones follow; the read is audited with the filter that selected it.
    pub async fn page(
        &self,
        caller: &Caller,
        mut query: AuditQuery,
        filter: serde_json::Value,
    ) -> Result<(Vec<AuditEntry>, bool), Failure> {
        let limit = query.limit;
        query.limit = limit + 1;
        let mut entries = self.store.query_audit(&query).await.within(&caller.ctx)?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        self.record(
            Reader::Client(caller),
            None,
            AuditEvent::AuditRead,
            json!({"entries": entries.len(), "filter": filter}),
        )
        .await?;
        Ok((entries, more))
    }

    /// Audits an export by this reader (`details` say what was asked for), then streams
    /// every entry the query selects, newest first, a page at a time.
    pub async fn export_for(
        &self,
        reader: Reader<'_>,
        query: AuditQuery,
        format: ExportFormat,
        details: serde_json::Value,
    ) -> Result<impl Stream<Item = Result<String, StoreError>> + Send, Failure> {
        self.record(
            reader,
            Some(query.tenant_id),
            AuditEvent::AuditExported,
            details,
        )
        .await?;
        Ok(export::export(self.store.clone(), query, format))
    }

    /// The current head of the chain and, for an agent's witness, what the chain holds at
    /// that position now.
    pub async fn head(
        &self,
        ctx: &RequestContext,
        witness: Option<i64>,
    ) -> Result<ChainHead, Failure> {
        let (seq, hash) = self.store.audit_head().await.within(ctx)?;
        let witness = match witness.filter(|w| *w > 0) {
            None => None,
            Some(witness) => {
                let (pruned_seq, pruned_hash) = self.store.audit_checkpoint().await.within(ctx)?;
                // The signed checkpoint that vouches for the retention cut, if one does.
                let signed_cut = || async {
                    self.store
                        .audit_checkpoints_from(pruned_seq)
                        .await
                        .map(|c| c.into_iter().find(|c| c.seq == pruned_seq))
                };
                let stored = self
                    .store
                    .audit_entries(witness - 1, 1)
                    .await
                    .within(ctx)?
                    .into_iter()
                    .find(|e| e.seq == witness)
                    .map(|e| e.hash);
                Some(if witness == pruned_seq {
                    WitnessedEntry {
                        seq: witness,
                        hash: Some(pruned_hash),
                        pruned: false,
                        checkpoint: None,
                    }
                } else if witness < pruned_seq {
                    WitnessedEntry {
                        seq: witness,
                        hash: None,
                        pruned: true,
                        checkpoint: signed_cut().await.within(ctx)?,
                    }
                } else {
                    WitnessedEntry {
                        seq: witness,
                        hash: stored,
                        pruned: false,
                        checkpoint: None,
                    }
                })
            }
        };
        Ok(ChainHead { seq, hash, witness })
    }

    /// Deletes entries older than the retention, keeping a checkpoint; audited.
    pub async fn prune(&self, ctx: &RequestContext, retention_days: u32) -> Result<u64, Failure> {
        let now = self.clock.now_ms();
        let before = now - i64::from(retention_days) * 86_400_000;
        let audit = ctx.audit().draft(
            now,
            AuditEvent::AuditPruned,
            AuditOutcome::Success,
            json!({"retention_days": retention_days}),
        );
        // With signed checkpoints, the cut is made at one, so the retention checkpoint left
        // behind is vouched for by a signature (a forged one is caught by verification).
        let at_signed = self.keys.signing().is_some();
        self.store
            .prune_audit(before, at_signed, audit)
            .await
            .within(ctx)
    }

    /// Appends the entry describing a read: the client's tenant and id for API readers,
    /// `tenant` (if any) for operators.
    async fn record(
        &self,
        reader: Reader<'_>,
        tenant: Option<i64>,
        event: AuditEvent,
        details: serde_json::Value,
    ) -> Result<(), Failure> {
        let ctx = reader.ctx();
        let mut draft =
            ctx.audit()
                .draft(self.clock.now_ms(), event, AuditOutcome::Success, details);
        match reader {
            Reader::Client(caller) => {
                draft = draft
                    .tenant(caller.tenant_id)
                    .client(caller.client_id.clone());
            }
            Reader::Operator(_) => {
                if let Some(tenant) = tenant {
                    draft = draft.tenant(tenant);
                }
            }
        }
        self.store.append_audit(&[draft]).await.within(ctx)
    }
}

impl Reader<'_> {
    fn ctx(&self) -> &RequestContext {
        match self {
            Reader::Client(caller) => &caller.ctx,
            Reader::Operator(ctx) => ctx,
        }
    }
}
