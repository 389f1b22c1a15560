//! The compliance report of one tenant over a period: its figures, derived in one pass over
//! the tenant's audit entries of the period (sign-ins and failures per site, tokens issued
//! and revoked, site registrations, rotations and revocations with who did them,
//! configuration changes with author and comment) and its alerts; the chain's verification
//! with the signed checkpoints that cover the period; the first and last entry's hash. The
//! same figures go into a printable HTML page and into an evidence file signed with the
//! audit key, which `kendrix-server audit verify-report` checks offline (the signature and
//! every checkpoint in it) and, given the database, against figures derived again.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use kendrix_core::audit::AuditEntry;
use kendrix_core::checkpoint::{PublicAuditKey, SignedCheckpoint};
use kendrix_core::{AuditEvent, UnixMillis};
use kendrix_store::{AlertQuery, AuditQuery, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AuditLog, Reader, PAGE};
use crate::services::Failure;

/// What the evidence file's signature covers, before the canonical JSON of its `evidence`.
const EVIDENCE_CONTEXT: &str = "kendrix-audit-evidence:v1:";

/// The figures of a tenant's period, derived from the audit log and the alerts alone, so
/// that they can be derived again and compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub tenant_id: i64,
    pub since: UnixMillis,
    pub until: UnixMillis,
    /// Per site (client id): successful sign-ins (tokens issued) and failed ones.
    pub sign_ins: BTreeMap<String, SignIns>,
    /// The tenant's clients' names, by client id.
    pub site_names: BTreeMap<String, String>,
    pub tokens_issued: u64,
    pub tokens_revoked: u64,
    pub site_changes: Vec<SiteChange>,
    pub config_changes: Vec<ConfigChange>,
    pub alerts: Vec<AlertLine>,
    /// The period's entries of this tenant: how many, and the first's and last's position
    /// and hash in the chain.
    pub entries: u64,
    pub first_entry: Option<(i64, String)>,
    pub last_entry: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignIns {
    pub succeeded: u64,
    pub failed: u64,
}

/// A site registered, its secret rotated or it revoked, and who did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteChange {
    pub at: UnixMillis,
    pub event: String,
    pub site: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    pub at: UnixMillis,
    /// `set KEY (SCOPE)`, `unset KEY (SCOPE)`, `rollback to N`.
    pub change: String,
    pub author: String,
    pub comment: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertLine {
    pub kind: String,
    pub site: Option<String>,
    pub opened_at: UnixMillis,
    pub resolved_at: Option<UnixMillis>,
    pub summary: String,
}

/// The chain's state when the report was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainState {
    pub ok: bool,
    pub head_seq: i64,
    pub first_broken: Option<String>,
    /// The signed checkpoints that cover the period: those inside it and the first after
    /// its last entry (which vouches for everything before it).
    pub checkpoints: Vec<SignedCheckpoint>,
}

/// What the evidence file holds and its signature covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub format: String,
    pub tenant_name: String,
    pub generated_at: UnixMillis,
    pub figures: Figures,
    pub chain: ChainState,
}

/// The evidence file: the evidence and the audit key's signature over it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedEvidence {
    pub evidence: Evidence,
    pub key_id: String,
    /// Ed25519 over `kendrix-audit-evidence:v1:` and the evidence's canonical JSON, base64.
    pub signature: String,
}

/// Why a report cannot be made or an evidence file does not check out.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no audit signing key: set KENDRIX_AUDIT_SIGNING_KEY or audit_signing_key_file (`kendrix-server audit keygen` makes one)")]
    NoSigningKey,
    #[error("tenant {0} does not exist")]
    NoTenant(i64),
    #[error("the period must start (since) before it ends (until)")]
    EmptyPeriod,
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The report's own audit entry could not be written.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// The period a report covers when none is given: the last 30 days.
const DEFAULT_PERIOD_MS: i64 = 30 * 86_400_000;

impl AuditLog {
    /// A report's period `[since, until)`: up to now and 30 days back unless given; never
    /// past now (the future has no entries yet, and the report's own audit entry comes
    /// after its period).
    pub fn report_period(
        &self,
        since: Option<UnixMillis>,
        until: Option<UnixMillis>,
    ) -> Result<(UnixMillis, UnixMillis), ReportError> {
        let now = self.clock.now_ms();
        let until = until.map_or(now, |until| until.min(now));
        let since = since.unwrap_or(until - DEFAULT_PERIOD_MS);
        if since >= until {
            return Err(ReportError::EmptyPeriod);
        }
        Ok((since, until))
    }

    /// The figures of `tenant_id` over `[since, until)`, in one pass over its entries.
    pub async fn figures(
        &self,
        tenant_id: i64,
        since: UnixMillis,
        until: UnixMillis,
    ) -> Result<Figures, StoreError> {
        let mut figures = Figures {
            tenant_id,
            since,
            until,
            sign_ins: BTreeMap::new(),
            site_names: self
                .store
                .list_clients(Some(tenant_id))
                .await?
                .into_iter()
                .map(|c| (c.client_id, c.name))
                .collect(),
            tokens_issued: 0,
            tokens_revoked: 0,
            site_changes: Vec::new(),
            config_changes: Vec::new(),
            alerts: Vec::new(),
            entries: 0,
            first_entry: None,
            last_entry: None,
        };
        let mut before = None;
        loop {
            let page = self
                .store
                .query_audit(&AuditQuery {
                    tenant_id,
                    since: Some(since),
                    until: Some(until),
                    before_seq: before,
                    limit: PAGE,
                    ..Default::default()
                })
                .await?;
            for entry in &page {
                figures.count(entry);
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => before = Some(last.seq),
                _ => break,
            }
        }
        // Pages come newest first: put the lists in time order.
        figures.site_changes.reverse();
        figures.config_changes.reverse();
        let alerts = self
            .store
            .alerts(&AlertQuery {
                tenant_id: Some(tenant_id),
                limit: i64::MAX,
                ..Default::default()
            })
            .await?;
        figures.alerts = alerts
            .into_iter()
            .filter(|a| a.opened_at < until && a.resolved_at.is_none_or(|r| r >= since))
            .map(|a| AlertLine {
                kind: a.kind,
                site: a.site_name.or(a.client_id),
                opened_at: a.opened_at,
                resolved_at: a.resolved_at,
                summary: a.summary,
            })
            .rev()
            .collect();
        Ok(figures)
    }

    /// The signed evidence of a tenant's period (its figures, the chain's verification and
    /// the checkpoints covering the period), made for `reader` and audited as an export
    /// (`format: report`). A client reads another tenant's broken link by its place alone.
    pub async fn evidence(
        &self,
        reader: Reader<'_>,
        tenant_id: i64,
        since: UnixMillis,
        until: UnixMillis,
    ) -> Result<SignedEvidence, ReportError> {
        let key = self.keys.signing().ok_or(ReportError::NoSigningKey)?;
        let tenant = self
            .store
            .tenant(tenant_id)
            .await?
            .ok_or(ReportError::NoTenant(tenant_id))?;
        let figures = self.figures(tenant_id, since, until).await?;
        let mut checkpoints = self.covering_checkpoints(&figures).await?;
        if let Some((last, _)) = &figures.last_entry {
            if !checkpoints.iter().any(|c| c.seq >= *last) {
                // The period's newest entries are not signed yet: sign the head now, so the
                // evidence stands on its own.
                self.checkpoint().await?;
                checkpoints = self.covering_checkpoints(&figures).await?;
            }
        }
        let pass = self.pass(Some(tenant_id)).await?;
        let first_broken = match reader {
            Reader::Client(_) => pass.first_broken_seen_by(tenant_id),
            Reader::Operator(_) => pass.whole.first_broken.clone(),
        };
        let verification = pass.whole;
        let details = serde_json::json!({"format": "report", "since": since, "until": until,
            "entries": figures.entries});
        let evidence = Evidence {
            format: "kendrix-compliance-evidence/v1".into(),
            tenant_name: tenant.name,
            generated_at: self.clock.now_ms(),
            figures,
            chain: ChainState {
                ok: verification.ok,
                head_seq: verification.head_seq,
                first_broken: first_broken.map(|b| format!("entry {}: {}", b.seq, b.reason)),
                checkpoints,
            },
        };
        let message = evidence_message(&evidence);
        let signature = key.sign_bytes(message.as_bytes());
        self.record(reader, Some(tenant_id), AuditEvent::AuditExported, details)
            .await?;
        Ok(SignedEvidence {
            evidence,
            key_id: key.key_id().to_owned(),
            signature,
        })
    }
}

impl AuditLog {
    /// The signed checkpoints inside the figures' span of entries, and the first at or after
    /// its last entry.
    async fn covering_checkpoints(
        &self,
        figures: &Figures,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let mut checkpoints: Vec<SignedCheckpoint> = Vec::new();
        if let (Some((first, _)), Some((last, _))) = (&figures.first_entry, &figures.last_entry) {
            for c in self.store.audit_checkpoints_from(*first).await? {
                let covered = checkpoints.iter().any(|k| k.seq >= *last);
                if covered && c.seq > *last {
                    break;
                }
                checkpoints.push(c);
            }
        }
        Ok(checkpoints)
    }
}

impl Figures {
    fn count(&mut self, entry: &AuditEntry) {
        self.entries += 1;
        // Newest first: the first seen is the last in the chain.
        if self.last_entry.is_none() {
            self.last_entry = Some((entry.seq, entry.hash.clone()));
        }
        self.first_entry = Some((entry.seq, entry.hash.clone()));
        let details: Value = serde_json::from_str(&entry.details).unwrap_or(Value::Null);
        let client = entry.client_id.clone().unwrap_or_default();
        match entry.event.as_str() {
            "token.issued" => {
                self.tokens_issued += 1;
                self.sign_ins.entry(client).or_default().succeeded += 1;
            }
            "auth.client.failure" => self.sign_ins.entry(client).or_default().failed += 1,
            "token.revoked" if entry.outcome == "success" => self.tokens_revoked += 1,
            "client.registered" | "client.secret_rotated" | "client.revoked" => {
                let (site, by) = match details["actor"]["name"].as_str() {
                    Some(admin) => (
                        details["site_client_id"]
                            .as_str()
                            .unwrap_or(&client)
                            .to_owned(),
                        format!("{admin} (admin)"),
                    ),
                    None => (client, "operator (command line)".to_owned()),
                };
                self.site_changes.push(SiteChange {
                    at: entry.at,
                    event: entry.event.clone(),
                    site,
                    by,
                });
            }
            "config.changed" => {
                let key = details["key"].as_str().unwrap_or("");
                let scope = details["scope"].as_str().unwrap_or("");
                let change = match details["action"].as_str().unwrap_or("") {
                    "rollback" => format!("rollback to {}", details["to"]),
                    action => format!("{action} {key} ({scope})"),
                };
                self.config_changes.push(ConfigChange {
                    at: entry.at,
                    change,
                    author: details["author"].as_str().unwrap_or("").to_owned(),
                    comment: details["comment"].as_str().unwrap_or("").to_owned(),
                    version: format!("{} → {}", details["old_version"], details["new_version"]),
                });
            }
            _ => {}
        }
    }
}

/// The name of a report's period in its files' names: `2026-11-06_2026-12-06` (UTC days).
pub fn period_name(since: UnixMillis, until: UnixMillis) -> String {
    let day = |at| -> String {
        kendrix_core::clock::format_utc(at)
            .chars()
            .take(10)
            .collect()
    };
    format!("{}_{}", day(since), day(until))
}

/// The bytes a signature covers: the context and the evidence's canonical JSON (compact,
/// in the order the evidence serializes).
pub fn evidence_message(evidence: &Evidence) -> String {
    let canonical = serde_json::to_string(evidence).expect("evidence serializes");
    format!("{EVIDENCE_CONTEXT}{canonical}")
}

impl SignedEvidence {
    /// Checks the signature and every checkpoint in it with `keys`; names the first thing
    /// that does not match.
    pub fn verify(&self, keys: &[PublicAuditKey]) -> Result<(), String> {
        let key = keys
            .iter()
            .find(|k| k.key_id == self.key_id)
            .ok_or_else(|| {
                format!(
                    "the evidence is signed with key {}, which is not among the audit keys given",
                    self.key_id
                )
            })?;
        if !kendrix_core::checkpoint::verify_bytes(
            key,
            evidence_message(&self.evidence).as_bytes(),
            &self.signature,
        ) {
            return Err(
                "the evidence's signature does not match its content (a figure was changed?)"
                    .into(),
            );
        }
        for c in &self.evidence.chain.checkpoints {
            c.verify(keys).map_err(|e| e.to_string())?;
        }
        let last = self
            .evidence
            .figures
            .last_entry
            .as_ref()
            .map(|(seq, _)| *seq);
        if let Some(last) = last {
            if !self
                .evidence
                .chain
                .checkpoints
                .iter()
                .any(|c| c.seq >= last)
            {
                return Err(format!(
                    "no signed checkpoint covers the period's last entry ({last})"
                ));
            }
        }
        Ok(())
    }
}

/// A public key given as base64 (from `GET /audit/public-key`), with its id.
pub fn public_key_from_base64(text: &str) -> Result<PublicAuditKey, String> {
    let bytes: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("a public key is the base64 of 32 bytes")?;
    Ok(PublicAuditKey {
        key_id: kendrix_core::checkpoint::key_id_of(&bytes),
        public_key: B64.encode(bytes),
    })
}
