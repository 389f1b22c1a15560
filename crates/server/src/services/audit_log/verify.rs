//! Verifying the hash chain: for the operator, the whole chain and its global figures; for a
//! tenant through the API, the same check (the chain is one, so every link is checked) but a
//! report of its own evidence only — how many of its entries were checked and its newest one —
//! never the other tenants' counts. A verification reads the whole chain, so the API bounds it:
//! a few per client a minute, and a few at once on each instance.

use std::sync::Arc;

use kendrix_core::audit::{BrokenLink, ChainVerifier};
use kendrix_core::AuditEvent;
use kendrix_store::StoreError;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use utoipa::ToSchema;

use super::{AuditLog, Reader, PAGE};
use crate::services::authorizer::Caller;
use crate::services::{Failure, Within};
use crate::throttle::{Throttle, Verdict};

/// Verifications running at once on one instance.
const CONCURRENT_VERIFICATIONS: usize = 2;

/// The outcome of verifying the whole chain (the operator's view).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub entries_checked: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The first entry that does not fit, and why.
    #[schema(value_type = Option<Object>)]
    pub first_broken: Option<BrokenLink>,
}

/// The outcome of verifying the chain, as one tenant sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantVerification {
    /// Whether the whole chain, up to the head when the check began, links up.
    pub ok: bool,
    /// This tenant's entries among those checked.
    pub entries_checked: u64,
    /// This tenant's newest entry checked (its position and hash): evidence to keep.
    pub last_seq: Option<i64>,
    pub last_hash: Option<String>,
    /// The first entry that does not fit, and why; for another tenant's entry only that the
    /// chain breaks there (the operator's `kendrix-server audit verify` says more).
    #[schema(value_type = Option<Object>)]
    pub first_broken: Option<BrokenLink>,
}

/// Admission of API verifications: a per-client rate and a bound on concurrency.
pub(super) struct Gate {
    throttle: Throttle,
    running: Arc<Semaphore>,
}

/// A verification's place among those running at once; held for as long as it runs.
pub struct VerificationPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl Gate {
    pub(super) fn new(throttle: Throttle) -> Self {
        Self {
            throttle,
            running: Arc::new(Semaphore::new(CONCURRENT_VERIFICATIONS)),
        }
    }
}

/// What one pass over the chain found, with one tenant's share of it.
struct Pass {
    whole: Verification,
    tenant_entries: u64,
    tenant_last: Option<(i64, String)>,
    /// The tenant of the entry that broke the chain (`None` when no entry did: a truncated
    /// tail, or no break).
    broken_owner: Option<Option<i64>>,
}

impl AuditLog {
    /// Verifies the chain from its start (or the retention checkpoint) to its recorded head,
    /// one page at a time. Leaves no audit entry; see [`Self::verify_for`].
    pub async fn verify(&self) -> Result<Verification, StoreError> {
        Ok(self.pass(None).await?.whole)
    }

    async fn pass(&self, tenant: Option<i64>) -> Result<Pass, StoreError> {
        let store = &*self.store;
        let (head_seq, head_hash) = store.audit_head().await?;
        let (pruned_seq, pruned_hash) = store.audit_checkpoint().await?;
        let mut verifier = ChainVerifier::starting_after(pruned_seq, &pruned_hash);
        let mut after = pruned_seq;
        let mut broken = None;
        let mut broken_owner = None;
        let (mut tenant_entries, mut tenant_last) = (0, None);
        // Entries appended while this runs (a busy server) are past the head read above:
        // they are checked by the next verification, not taken for a broken chain.
        'pages: while after < head_seq {
            let page = store.audit_entries(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in page.iter().take_while(|e| e.seq <= head_seq) {
                if let Err(link) = verifier.check(entry) {
                    broken = Some(link);
                    broken_owner = Some(entry.tenant_id);
                    break 'pages;
                }
                if tenant.is_some() && entry.tenant_id == tenant {
                    tenant_entries += 1;
                    tenant_last = Some((entry.seq, entry.hash.clone()));
                }
            }
        }
        if broken.is_none() {
            broken = verifier.finish(head_seq, &head_hash).err();
        }
        Ok(Pass {
            whole: Verification {
                ok: broken.is_none(),
                entries_checked: verifier.checked(),
                head_seq,
                head_hash,
                first_broken: broken,
            },
            tenant_entries,
            tenant_last,
            broken_owner,
        })
    }

    /// Verifies the chain for the operator, and audits that they did.
    pub async fn verify_for(&self, reader: Reader<'_>) -> Result<Verification, Failure> {
        let ctx = reader.ctx();
        let result = self.verify().await.within(ctx)?;
        let details = json!({"ok": result.ok, "entries_checked": result.entries_checked});
        self.record(reader, None, AuditEvent::AuditVerified, details)
            .await?;
        Ok(result)
    }

    /// Lets `caller` start a verification, or says in how many seconds to ask again: each
    /// client may verify a few times a minute, and only a few run at once.
    pub fn admit_verification(&self, caller: &Caller) -> Result<VerificationPermit, u64> {
        let now = self.clock.now_ms();
        if let Verdict::Limited {
            retry_after_secs, ..
        } = self
            .verifications
            .throttle
            .expensive_read(caller.client_pk, now)
        {
            return Err(retry_after_secs);
        }
        self.verifications
            .running
            .clone()
            .try_acquire_owned()
            .map(VerificationPermit)
            .map_err(|_| 1)
    }

    /// Verifies the chain for a tenant's client and reports its own evidence (see
    /// [`TenantVerification`]); audited. Dropped (the caller hung up), it stops at the next
    /// page and leaves no entry.
    pub async fn verify_for_client(
        &self,
        caller: &Caller,
        _permit: VerificationPermit,
    ) -> Result<TenantVerification, Failure> {
        let pass = self
            .pass(Some(caller.tenant_id))
            .await
            .within(&caller.ctx)?;
        let first_broken = pass.whole.first_broken.map(|link| {
            let elsewhere = pass
                .broken_owner
                .is_some_and(|owner| owner != Some(caller.tenant_id));
            if !elsewhere {
                link
            } else {
                BrokenLink {
                    seq: link.seq,
                    reason: "the chain breaks at an entry outside this tenant".into(),
                }
            }
        });
        let (last_seq, last_hash) = pass.tenant_last.unzip();
        let result = TenantVerification {
            ok: first_broken.is_none(),
            entries_checked: pass.tenant_entries,
            last_seq,
            last_hash,
            first_broken,
        };
        let details = json!({"ok": result.ok, "entries_checked": result.entries_checked,
            "first_broken": result.first_broken.as_ref().map(|b| b.seq)});
        self.record(
            Reader::Client(caller),
            None,
            AuditEvent::AuditVerified,
            details,
        )
        .await?;
        Ok(result)
    }
}
