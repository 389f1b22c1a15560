//! Verifying the hash chain, and the chain against every signed checkpoint (each signature
//! with a trusted key; the entry at each checkpoint's position still has its hash; no
//! checkpoint past the end, which would mean a cut-off tail; the retention cut vouched for
//! by one): for the operator, the whole chain and its global figures; for a
//! tenant through the API, the same check (the chain is one, so every link is checked) but a
//! report of its own evidence only — how many of its entries were checked and its newest one —
//! never the other tenants' counts. A verification reads the whole chain, so the API bounds it:
//! a few per client a minute, and a few at once on each instance.

use std::sync::Arc;

use std::collections::VecDeque;

use kendrix_core::audit::{BrokenLink, ChainVerifier};
use kendrix_core::checkpoint::{PublicAuditKey, SignedCheckpoint};
use kendrix_core::clock::format_utc;
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
    /// Signed checkpoints whose signature and position were checked.
    pub checkpoints_checked: u64,
    /// The newest position a checked signed checkpoint vouches for.
    pub signed_through: Option<i64>,
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
pub(super) struct Pass {
    pub(super) whole: Verification,
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

    pub(super) async fn pass(&self, tenant: Option<i64>) -> Result<Pass, StoreError> {
        let store = &*self.store;
        // Checkpoints before the head: every one read was signed of a head at or before it.
        let (pruned_seq, pruned_hash) = store.audit_checkpoint().await?;
        let signed = store.audit_checkpoints_from(pruned_seq).await?;
        let (head_seq, head_hash) = store.audit_head().await?;
        let mut anchors = match Anchors::check(
            signed,
            self.keys.trusted(),
            pruned_seq,
            &pruned_hash,
            head_seq,
        ) {
            Ok(anchors) => anchors,
            Err(link) => {
                return Ok(Pass {
                    whole: Verification {
                        ok: false,
                        entries_checked: 0,
                        head_seq,
                        head_hash,
                        checkpoints_checked: 0,
                        signed_through: None,
                        first_broken: Some(link),
                    },
                    tenant_entries: 0,
                    tenant_last: None,
                    broken_owner: None,
                })
            }
        };
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
                if let Err(link) = verifier
                    .check(entry)
                    .and_then(|()| anchors.meet(entry.seq, &entry.hash))
                {
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
                checkpoints_checked: anchors.checked,
                signed_through: anchors.signed_through,
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
        let first_broken = pass.first_broken_seen_by(caller.tenant_id);
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

impl Pass {
    /// The first broken link as a reader of `tenant` may see it: a break in another
    /// tenant's entry is named by its place alone.
    pub(super) fn first_broken_seen_by(&self, tenant: i64) -> Option<BrokenLink> {
        let link = self.whole.first_broken.clone()?;
        let elsewhere = self.broken_owner.is_some_and(|owner| owner != Some(tenant));
        Some(if elsewhere {
            BrokenLink {
                seq: link.seq,
                reason: "the chain breaks at an entry outside this tenant".into(),
            }
        } else {
            link
        })
    }
}

/// The signed checkpoints a pass holds the chain to, in chain order.
struct Anchors {
    /// Those past the retention cut, not yet met.
    ahead: VecDeque<SignedCheckpoint>,
    checked: u64,
    signed_through: Option<i64>,
}

impl Anchors {
    /// Checks what can be checked before reading the chain: every signature, the retention
    /// cut (vouched for by a signed checkpoint whenever keys are set), and that no
    /// checkpoint lies past the head (a cut-off tail).
    fn check(
        signed: Vec<SignedCheckpoint>,
        trusted: &[PublicAuditKey],
        pruned_seq: i64,
        pruned_hash: &str,
        head_seq: i64,
    ) -> Result<Self, BrokenLink> {
        for checkpoint in &signed {
            checkpoint.verify(trusted).map_err(|e| BrokenLink {
                seq: checkpoint.seq,
                reason: format!("{e} (a checkpoint not signed by this server's key)"),
            })?;
        }
        if pruned_seq > 0 && !trusted.is_empty() {
            let vouched = signed
                .iter()
                .any(|c| c.seq == pruned_seq && c.hash == pruned_hash);
            if !vouched {
                return Err(BrokenLink {
                    seq: pruned_seq,
                    reason: format!(
                        "the retention checkpoint (entry {pruned_seq}) is not vouched for by a signed checkpoint: the pruned part of the chain may have been forged"
                    ),
                });
            }
        }
        if let Some(beyond) = signed.iter().rev().find(|c| c.seq > head_seq) {
            return Err(BrokenLink {
                seq: head_seq + 1,
                reason: format!(
                    "the chain ends at entry {head_seq}, but entry {} was signed at {}: the tail was cut off",
                    beyond.seq,
                    format_utc(beyond.signed_at_ms)
                ),
            });
        }
        let checked = signed.iter().filter(|c| c.seq == pruned_seq).count() as u64;
        Ok(Self {
            signed_through: (checked > 0).then_some(pruned_seq),
            ahead: signed.into_iter().filter(|c| c.seq > pruned_seq).collect(),
            checked,
        })
    }

    /// The chain's entry `seq` (already linked) against the checkpoints signed at `seq`.
    fn meet(&mut self, seq: i64, hash: &str) -> Result<(), BrokenLink> {
        while let Some(next) = self.ahead.front().filter(|c| c.seq == seq) {
            if next.hash != hash {
                return Err(BrokenLink {
                    seq,
                    reason: format!(
                        "entry {seq} is not the one signed at {}: history was rewritten",
                        format_utc(next.signed_at_ms)
                    ),
                });
            }
            self.ahead.pop_front();
            self.checked += 1;
            self.signed_through = Some(seq);
        }
        Ok(())
    }
}
