//! Audit events and the hash chain that makes the audit log tamper-evident.
//!
//! Every entry stores `hash = SHA-256(canonical form including prev_hash)`; the chain is
//! global (one sequence for all tenants) so that a deleted or reordered entry anywhere breaks
//! it, and a single head row serialises appends from every server instance.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use crate::UnixMillis;

/// `prev_hash` of the first entry in the chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every kind of event the server writes. The string names are stable: they are stored,
/// filtered on and documented in `docs/audit-events.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    /// A client proved its identity at the token, revocation or introspection endpoint.
    ClientAuthenticated,
    /// A client failed to prove its identity (unknown client, wrong secret, revoked client).
    ClientAuthFailed,
    /// A bearer token was refused by the API (missing, unknown, expired, revoked, under-scoped).
    BearerRejected,
    TokenIssued,
    TokenRefreshed,
    /// A token request was refused for a reason other than client authentication.
    TokenDenied,
    TokenRevoked,
    /// A used refresh token came back: its whole family was revoked.
    RefreshReuseDetected,
    TokenIntrospected,
    RateLimited,
    TenantCreated,
    ClientRegistered,
    ClientRevoked,
    /// A client was given a new secret; the old one works until the grace ends.
    ClientSecretRotated,
    /// A batch was applied (an idempotency miss: first delivery of its key).
    SyncBatchApplied,
    /// A batch was refused as a whole (invalid records); nothing was applied.
    SyncBatchRefused,
    /// A batch was answered from its stored response (an idempotency hit).
    IdempotencyReplayed,
    /// An Idempotency-Key came back with a different body.
    IdempotencyMismatch,
    /// An Idempotency-Key came back while its first request was still being applied.
    IdempotencyInFlight,
    /// A configuration setting was set or unset, or a configuration rolled back.
    ConfigChanged,
    /// A client read secret settings in clear.
    ConfigSecretRead,
    /// Every secret setting was re-sealed under the current master key.
    ConfigKeyRotated,
    /// Audit entries were read (a page of `GET /audit/logs`).
    AuditRead,
    /// Audit entries were exported.
    AuditExported,
    /// The audit chain was verified.
    AuditVerified,
    /// Entries older than the retention were deleted; a checkpoint keeps the rest verifiable.
    AuditPruned,
    /// Anomaly detection opened an alert.
    AnomalyDetected,
    /// An alert resolved: its value has been usual again for a while.
    AnomalyResolved,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 28] = [
        AuditEvent::ClientAuthenticated,
        AuditEvent::ClientAuthFailed,
        AuditEvent::BearerRejected,
        AuditEvent::TokenIssued,
        AuditEvent::TokenRefreshed,
        AuditEvent::TokenDenied,
        AuditEvent::TokenRevoked,
        AuditEvent::RefreshReuseDetected,
        AuditEvent::TokenIntrospected,
        AuditEvent::RateLimited,
        AuditEvent::TenantCreated,
        AuditEvent::ClientRegistered,
        AuditEvent::ClientRevoked,
        AuditEvent::ClientSecretRotated,
        AuditEvent::SyncBatchApplied,
        AuditEvent::SyncBatchRefused,
        AuditEvent::IdempotencyReplayed,
        AuditEvent::IdempotencyMismatch,
        AuditEvent::IdempotencyInFlight,
        AuditEvent::ConfigChanged,
        AuditEvent::ConfigSecretRead,
        AuditEvent::ConfigKeyRotated,
        AuditEvent::AuditRead,
        AuditEvent::AuditExported,
        AuditEvent::AuditVerified,
        AuditEvent::AuditPruned,
        AuditEvent::AnomalyDetected,
        AuditEvent::AnomalyResolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::ClientAuthenticated => "auth.client.success",
            AuditEvent::ClientAuthFailed => "auth.client.failure",
            AuditEvent::BearerRejected => "auth.bearer.failure",
            AuditEvent::TokenIssued => "token.issued",
            AuditEvent::TokenRefreshed => "token.refreshed",
            AuditEvent::TokenDenied => "token.denied",
            AuditEvent::TokenRevoked => "token.revoked",
            AuditEvent::RefreshReuseDetected => "token.refresh_reuse",
            AuditEvent::TokenIntrospected => "token.introspected",
            AuditEvent::RateLimited => "rate_limit.exceeded",
            AuditEvent::TenantCreated => "tenant.created",
            AuditEvent::ClientRegistered => "client.registered",
            AuditEvent::ClientRevoked => "client.revoked",
            AuditEvent::ClientSecretRotated => "client.secret_rotated",
            AuditEvent::SyncBatchApplied => "sync.batch.applied",
            AuditEvent::SyncBatchRefused => "sync.batch.refused",
            AuditEvent::IdempotencyReplayed => "idempotency.hit",
            AuditEvent::IdempotencyMismatch => "idempotency.mismatch",
            AuditEvent::IdempotencyInFlight => "idempotency.in_flight",
            AuditEvent::ConfigChanged => "config.changed",
            AuditEvent::ConfigSecretRead => "config.secret_read",
            AuditEvent::ConfigKeyRotated => "config.key_rotated",
            AuditEvent::AuditRead => "audit.read",
            AuditEvent::AuditExported => "audit.exported",
            AuditEvent::AuditVerified => "audit.verified",
            AuditEvent::AuditPruned => "audit.pruned",
            AuditEvent::AnomalyDetected => "anomaly.detected",
            AuditEvent::AnomalyResolved => "anomaly.resolved",
        }
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditEvent::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown audit event {s:?}"))
    }
}

/// Whether the audited action did what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Success,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
        }
    }
}

/// An audit entry before it is placed in the chain. `details` is a JSON object that must
/// never hold a secret or a token: callers put ids, counts and reasons in it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    pub at: UnixMillis,
    pub tenant_id: Option<i64>,
    pub client_id: Option<String>,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub event: AuditEvent,
    pub outcome: AuditOutcome,
    pub details: serde_json::Value,
}

/// Who and where an audited action came from; the same for every entry one request writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    pub request_id: Option<String>,
    pub source: Option<String>,
}

impl AuditContext {
    /// Starts an entry for this request.
    pub fn draft(
        &self,
        at: UnixMillis,
        event: AuditEvent,
        outcome: AuditOutcome,
        details: serde_json::Value,
    ) -> AuditDraft {
        AuditDraft {
            at,
            tenant_id: None,
            client_id: None,
            request_id: self.request_id.clone(),
            source: self.source.clone(),
            event,
            outcome,
            details,
        }
    }
}

impl AuditDraft {
    pub fn tenant(mut self, tenant_id: i64) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Adds one field to the details object.
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The details exactly as stored and hashed (serde_json sorts object keys).
    pub fn details_text(&self) -> String {
        self.details.to_string()
    }
}

/// One entry of the audit chain: as stored, as verified and as the API shows it. The fields
/// its hash covers come first, in the order they are hashed, then the stored hash. In JSON,
/// `details` is the object it holds and `prev_hash` is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub seq: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: UnixMillis,
    pub tenant_id: Option<i64>,
    pub client_id: Option<String>,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub event: String,
    pub outcome: String,
    /// What happened, as a JSON object (stored and hashed as its text, keys sorted).
    #[serde(serialize_with = "details_as_json")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: String,
    #[serde(skip_serializing)]
    pub prev_hash: String,
    /// SHA-256 (hex) of the fields above and the previous entry's hash.
    pub hash: String,
}

/// Writes stored details as the JSON value they hold (`null` if the text is not JSON).
fn details_as_json<S: serde::Serializer>(details: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<serde_json::Value>(details)
        .unwrap_or(serde_json::Value::Null)
        .serialize(serializer)
}

impl AuditEntry {
    /// Places a draft at position `seq` after the entry whose hash is `prev_hash`.
    pub fn link(draft: &AuditDraft, seq: i64, prev_hash: &str) -> Self {
        let mut entry = Self {
            seq,
            at: draft.at,
            tenant_id: draft.tenant_id,
            client_id: draft.client_id.clone(),
            request_id: draft.request_id.clone(),
            source: draft.source.clone(),
            event: draft.event.as_str().to_owned(),
            outcome: draft.outcome.as_str().to_owned(),
            details: draft.details_text(),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        entry
    }

    /// SHA-256 of the canonical form: the JSON array of every field before `hash`, in
    /// declaration order. An entry is intact when this equals its stored `hash`.
    pub fn computed_hash(&self) -> String {
        let canonical = serde_json::to_vec(&(
            self.seq,
            self.at,
            self.tenant_id,
            &self.client_id,
            &self.request_id,
            &self.source,
            &self.event,
            &self.outcome,
            &self.details,
            &self.prev_hash,
        ))
        .expect("audit entry serializes");
        hex::encode(Sha256::digest(canonical))
    }
}

/// Links drafts after the current head; returns the entries and the new head.
pub fn link_all(
    drafts: &[AuditDraft],
    head_seq: i64,
    head_hash: &str,
) -> (Vec<AuditEntry>, i64, String) {
    let mut seq = head_seq;
    let mut prev = head_hash.to_owned();
    let mut linked = Vec::with_capacity(drafts.len());
    for draft in drafts {
        seq += 1;
        let entry = AuditEntry::link(draft, seq, &prev);
        prev = entry.hash.clone();
        linked.push(entry);
    }
    (linked, seq, prev)
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The position of the first entry that does not fit (or, for a truncated chain, the
    /// first position that is missing).
    pub seq: i64,
    pub reason: String,
}

/// Checks entries one at a time, in chain order, holding only the last hash: a chain of
/// any length verifies in constant memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl ChainVerifier {
    /// Starts at the beginning of the chain, or after a checkpoint (the last pruned entry).
    pub fn starting_after(seq: i64, hash: &str) -> Self {
        Self {
            expected_seq: seq + 1,
            prev_hash: hash.to_owned(),
            checked: 0,
        }
    }

    pub fn from_genesis() -> Self {
        Self::starting_after(0, GENESIS_HASH)
    }

    /// Checks the next stored entry against its stored hash and its predecessor.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), BrokenLink> {
        let stored_hash = entry.hash.as_str();
        let broken = |reason: String| BrokenLink {
            seq: entry.seq,
            reason,
        };
        if entry.seq > self.expected_seq {
            return Err(BrokenLink {
                seq: self.expected_seq,
                reason: format!(
                    "entries {} to {} are missing (deleted)",
                    self.expected_seq,
                    entry.seq - 1
                ),
            });
        }
        if entry.seq < self.expected_seq {
            return Err(broken("entry out of order".into()));
        }
        if entry.computed_hash() != stored_hash {
            return Err(broken(
                "the entry's content does not match its hash (edited)".into(),
            ));
        }
        if entry.prev_hash != self.prev_hash {
            return Err(broken(
                "the entry does not follow its predecessor (reordered or replaced)".into(),
            ));
        }
        self.expected_seq += 1;
        self.prev_hash = stored_hash.to_owned();
        self.checked += 1;
        Ok(())
    }

    /// Checks the end of the chain against the recorded head (catches a cut-off tail).
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), BrokenLink> {
        let last = self.expected_seq - 1;
        if last != head_seq || self.prev_hash != head_hash {
            return Err(BrokenLink {
                seq: last + 1,
                reason: format!(
                    "the chain ends at entry {last} but its head records entry {head_seq} (truncated or head altered)"
                ),
            });
        }
        Ok(())
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(event: AuditEvent) -> AuditDraft {
        AuditContext::default().draft(
            1_700_000_000_000,
            event,
            AuditOutcome::Success,
            serde_json::json!({"b": 1, "a": "x"}),
        )
    }

    #[test]
    fn event_names_round_trip() {
        for event in AuditEvent::ALL {
            assert_eq!(event.as_str().parse::<AuditEvent>().unwrap(), event);
        }
    }

    #[test]
    fn each_entry_hashes_its_predecessor() {
        let (linked, seq, head) = link_all(
            &[
                draft(AuditEvent::TokenIssued),
                draft(AuditEvent::TokenRevoked),
            ],
            0,
            GENESIS_HASH,
        );
        assert_eq!(seq, 2);
        assert_eq!(linked[0].prev_hash, GENESIS_HASH);
        assert_eq!(linked[1].prev_hash, linked[0].hash);
        assert_eq!(head, linked[1].hash);
        assert_eq!(linked[0].details, r#"{"a":"x","b":1}"#);
    }

    fn chain(n: usize) -> Vec<AuditEntry> {
        let drafts: Vec<AuditDraft> = (0..n).map(|_| draft(AuditEvent::TokenIssued)).collect();
        link_all(&drafts, 0, GENESIS_HASH).0
    }

    fn verify(entries: &[AuditEntry], head: (i64, &str)) -> Result<(), BrokenLink> {
        let mut verifier = ChainVerifier::from_genesis();
        for entry in entries {
            verifier.check(entry)?;
        }
        verifier.finish(head.0, head.1)
    }

    #[test]
    fn a_whole_chain_verifies_and_each_kind_of_tampering_is_named() {
        let entries = chain(5);
        let head = (5, entries[4].hash.as_str());
        assert_eq!(verify(&entries, head), Ok(()));

        let mut edited = entries.clone();
        edited[2].outcome = "failure".into();
        assert_eq!(verify(&edited, head).unwrap_err().seq, 3);

        let mut deleted = entries.clone();
        deleted.remove(1);
        let err = verify(&deleted, head).unwrap_err();
        assert_eq!(err.seq, 2);
        assert!(err.reason.contains("missing"));

        let mut reordered = entries.clone();
        reordered.swap(1, 2);
        assert_eq!(verify(&reordered, head).unwrap_err().seq, 2);

        let truncated = &entries[..3];
        let err = verify(truncated, head).unwrap_err();
        assert_eq!(err.seq, 4);
        assert!(err.reason.contains("truncated"));
    }

    #[test]
    fn changing_any_field_changes_the_hash() {
        let (linked, _, _) = link_all(&[draft(AuditEvent::TokenIssued)], 0, GENESIS_HASH);
        let entry = &linked[0];
        assert_eq!(entry.computed_hash(), entry.hash);
        let mut edited = entry.clone();
        edited.outcome = "failure".into();
        assert_ne!(edited.computed_hash(), entry.hash);
    }

    #[test]
    fn the_json_of_an_entry_shows_its_details_as_an_object_and_leaves_prev_hash_out() {
        let (linked, _, _) = link_all(&[draft(AuditEvent::TokenIssued)], 0, GENESIS_HASH);
        let json = serde_json::to_value(&linked[0]).unwrap();
        assert_eq!(json["details"], serde_json::json!({"a": "x", "b": 1}));
        assert!(json.get("prev_hash").is_none());
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 10);
        assert_eq!(json["hash"], linked[0].hash.as_str());
    }
}
