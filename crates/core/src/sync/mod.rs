//! The sync protocol: records, batches, their validation, and how the server decides what a
//! record does to its copy (last writer wins on the HLC version).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::version::Version;

mod names;
mod validate;
pub use names::{
    record_text_problems, EntityName, NameError, RecordId, MAX_ENTITY_BYTES, MAX_ID_BYTES,
};
pub use validate::{validate_batch, BatchError, BatchLimits, RecordProblem};

/// What a record asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

/// One change a source hands to the agent: what happens to which record. Without a
/// version, the agent's clock gives one at enqueue, making it a [`Record`].
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub entity: EntityName,
    pub id: RecordId,
    pub op: Op,
    pub version: Option<Version>,
    pub data: Option<Map<String, Value>>,
}

/// Why a change is not one the server would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("an upsert needs data (a JSON object)")]
    UpsertWithoutData,
    #[error("a delete carries no data")]
    DeleteWithData,
}

impl Change {
    /// A change whose names and op/data pairing are what the server accepts.
    pub fn new(
        entity: &str,
        id: impl Into<String>,
        op: Op,
        version: Option<Version>,
        data: Option<Map<String, Value>>,
    ) -> Result<Self, ChangeError> {
        let id = id.into();
        // The first problem is the one named (entity, then id, then data).
        if let Some(first) = record_text_problems(entity, &id, data.as_ref())
            .into_iter()
            .next()
        {
            return Err(ChangeError::Name(first));
        }
        let entity = EntityName::checked(entity.to_owned());
        let id = RecordId::checked(id);
        match (op, &data) {
            (Op::Upsert, None) => return Err(ChangeError::UpsertWithoutData),
            (Op::Delete, Some(_)) => return Err(ChangeError::DeleteWithData),
            _ => {}
        }
        Ok(Self {
            entity,
            id,
            op,
            version,
            data,
        })
    }

    /// The record this change becomes with its version.
    pub fn versioned(self, version: Version) -> Record {
        Record {
            entity: self.entity,
            id: self.id,
            op: self.op,
            version,
            data: self.data,
        }
    }
}

/// One change to one record, as it travels from agent to server. `data` is present for
/// upserts and absent for deletes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub entity: EntityName,
    pub id: RecordId,
    pub op: Op,
    pub version: Version,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl Record {
    /// SHA-256 of the op and the data in canonical form, so the same change always hashes
    /// the same, however its keys were ordered on the wire.
    pub fn content_hash(&self) -> String {
        content_hash(self.op, self.data_text().as_deref())
    }

    /// The data as stored (compact JSON with object keys sorted, see [`canonical_json`]),
    /// or `None` for a delete.
    pub fn data_text(&self) -> Option<String> {
        self.data.as_ref().map(canonical_json)
    }
}

/// Compact JSON with object keys in sorted order at every level. serde_json's `Map` is a
/// `BTreeMap` (its `preserve_order` feature is off in this workspace; a test guards that),
/// so plain serialization already is canonical and costs one pass.
pub fn canonical_json(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).expect("a JSON map serializes")
}

/// The content hash of a change from its op and its canonical data text.
pub fn content_hash(op: Op, data_text: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(op.as_str().as_bytes());
    hasher.update(b":");
    if let Some(text) = data_text {
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    /// Newer than the server's copy (or the first): now the server's copy.
    Applied,
    /// The server already has this very version with this very content.
    Duplicate,
    /// Older than the server's copy: ignored; `version` is the server's.
    Stale,
    /// Can never be accepted (see `reason`); the agent keeps it as a dead letter.
    Rejected,
}

/// The server's copy of a record, as far as deciding needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub version: Version,
    pub content_hash: String,
}

/// Last writer wins: decides what an incoming record does given the server's copy.
pub fn decide(
    incoming: &Record,
    incoming_hash: &str,
    stored: Option<&StoredVersion>,
) -> (RecordStatus, Option<&'static str>) {
    match stored {
        None => (RecordStatus::Applied, None),
        Some(s) if incoming.version > s.version => (RecordStatus::Applied, None),
        Some(s) if incoming.version < s.version => (RecordStatus::Stale, None),
        Some(s) if s.content_hash == incoming_hash => (RecordStatus::Duplicate, None),
        Some(_) => (
            RecordStatus::Rejected,
            Some("this version was already used for different content; give the change a new version"),
        ),
    }
}

/// The result for one record in a batch response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    pub entity: String,
    pub id: String,
    pub status: RecordStatus,
    /// The server's version of the record after this batch.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How many records of a batch ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub applied: u64,
    pub duplicate: u64,
    pub stale: u64,
    pub rejected: u64,
}

impl StatusCounts {
    pub fn add(&mut self, status: RecordStatus) {
        match status {
            RecordStatus::Applied => self.applied += 1,
            RecordStatus::Duplicate => self.duplicate += 1,
            RecordStatus::Stale => self.stale += 1,
            RecordStatus::Rejected => self.rejected += 1,
        }
    }
}

/// The answer to `POST /sync/batches`, stored byte for byte for idempotent replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub batch_id: String,
    pub results: Vec<RecordResult>,
    pub counts: StatusCounts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(version: &str, data: Value) -> Record {
        Record {
            entity: "orders".parse().unwrap(),
            id: "A-1".parse().unwrap(),
            op: Op::Upsert,
            version: version.parse().unwrap(),
            data: data.as_object().cloned(),
        }
    }

    #[test]
    fn json_maps_keep_keys_sorted_so_serialization_is_canonical() {
        // If serde_json's preserve_order feature were switched on by some dependency, maps
        // would keep insertion order and content hashes would depend on the sender.
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"b": 1, "a": {"d": 1, "c": 2}}"#).unwrap();
        assert_eq!(canonical_json(&map), r#"{"a":{"c":2,"d":1},"b":1}"#);
    }

    #[test]
    fn content_hash_ignores_key_order() {
        let a = record(
            "1732838400123-0000-s",
            json!({"a": 1, "b": {"y": 2, "x": [1, {"q": 1, "p": 2}]}}),
        );
        let b = record(
            "1732838400123-0000-s",
            json!({"b": {"x": [1, {"p": 2, "q": 1}], "y": 2}, "a": 1}),
        );
        assert_eq!(a.content_hash(), b.content_hash());
        let c = record("1732838400123-0000-s", json!({"a": 2}));
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn last_writer_wins() {
        let stored = StoredVersion {
            version: "1732838400123-0001-s".parse().unwrap(),
            content_hash: "h".into(),
        };
        let newer = record("1732838400123-0002-s", json!({}));
        let older = record("1732838400123-0000-s", json!({}));
        let same = record("1732838400123-0001-s", json!({}));
        assert_eq!(decide(&newer, "x", Some(&stored)).0, RecordStatus::Applied);
        assert_eq!(decide(&older, "x", Some(&stored)).0, RecordStatus::Stale);
        assert_eq!(decide(&same, "h", Some(&stored)).0, RecordStatus::Duplicate);
        assert_eq!(
            decide(&same, "other", Some(&stored)).0,
            RecordStatus::Rejected
        );
        assert_eq!(decide(&older, "x", None).0, RecordStatus::Applied);
    }

    #[test]
    fn a_bad_batch_lists_every_bad_record() {
        let body = json!({"records": [
            {"entity": "orders", "id": "1", "op": "upsert", "version": "1732838400123-0000-s", "data": {"t": 1}},
            {"entity": "Orders", "id": "", "op": "merge", "version": "12"},
            "not an object",
            {"entity": "orders", "id": "2", "op": "upsert", "version": "1732838400123-0000-s"},
            {"entity": "orders", "id": "1", "op": "delete", "version": "1732838400124-0000-s"},
        ]});
        let BatchError::InvalidRecords(problems) =
            validate_batch(&mut body.clone(), &BatchLimits::default()).unwrap_err()
        else {
            panic!("expected invalid records");
        };
        let indexes: Vec<usize> = problems.iter().map(|p| p.index).collect();
        assert_eq!(indexes, [1, 2, 3, 4]);
        assert_eq!(problems[0].errors.len(), 4, "{:?}", problems[0].errors);
        assert!(problems[2].errors[0].contains("needs \"data\""));
        assert!(problems[3].errors[0].contains("appears earlier"));
    }

    #[test]
    fn a_control_character_in_an_id_is_named_and_refused() {
        let body = json!({"records": [
            {"entity": "orders", "id": "A\u{0}1", "op": "upsert", "version": "1732838400123-0000-s", "data": {}},
        ]});
        let BatchError::InvalidRecords(problems) =
            validate_batch(&mut body.clone(), &BatchLimits::default()).unwrap_err()
        else {
            panic!("expected invalid records");
        };
        assert_eq!(problems[0].id.as_deref(), Some("A\u{0}1"));
        assert!(problems[0].errors[0].contains("\"id\" contains the control character U+0000"));
    }

    #[test]
    fn a_nul_in_data_is_refused_naming_the_field() {
        let body = json!({"records": [
            {"entity": "orders", "id": "A-1", "op": "upsert", "version": "1732838400123-0000-s", "data": {"note": "a\u{0}b"}},
            {"entity": "orders", "id": "A-2", "op": "upsert", "version": "1732838400123-0000-s", "data": {"note": "fine"}},
            {"entity": "orders", "id": "A\u{0}3", "op": "delete", "version": "1732838400123-0000-s"},
        ]});
        let BatchError::InvalidRecords(problems) =
            validate_batch(&mut body.clone(), &BatchLimits::default()).unwrap_err()
        else {
            panic!("expected invalid records");
        };
        let indexes: Vec<usize> = problems.iter().map(|p| p.index).collect();
        assert_eq!(indexes, [0, 2], "every bad record, and only those");
        assert_eq!(
            problems[0].errors,
            [
                r#""data" field "note" contains U+0000 (NUL), which the server's database cannot store"#
            ]
        );
        let data = json!({"note": "a\u{0}b"}).as_object().cloned();
        assert!(matches!(
            Change::new("orders", "A-1", Op::Upsert, None, data),
            Err(ChangeError::Name(NameError::NulInData { .. }))
        ));
    }

    #[test]
    fn a_change_is_checked_as_the_server_would() {
        let data = json!({"total": 1}).as_object().cloned();
        assert!(Change::new("orders", "A-1", Op::Upsert, None, data.clone()).is_ok());
        assert_eq!(
            Change::new("orders", "A\u{0}1", Op::Delete, None, None),
            Err(ChangeError::Name(NameError::ControlInId(0)))
        );
        assert_eq!(
            Change::new("Orders", "A-1", Op::Delete, None, None),
            Err(ChangeError::Name(NameError::BadEntity))
        );
        assert_eq!(
            Change::new("orders", "A-1", Op::Upsert, None, None),
            Err(ChangeError::UpsertWithoutData)
        );
        assert_eq!(
            Change::new("orders", "A-1", Op::Delete, None, data),
            Err(ChangeError::DeleteWithData)
        );
    }

    #[test]
    fn batch_shape_and_size_are_checked_first() {
        let limits = BatchLimits {
            max_records: 1,
            ..BatchLimits::default()
        };
        assert_eq!(
            validate_batch(&mut json!([]), &limits),
            Err(BatchError::NotABatch)
        );
        assert_eq!(
            validate_batch(&mut json!({"records": []}), &limits),
            Err(BatchError::Empty)
        );
        let two = json!({"records": [{}, {}]});
        assert_eq!(
            validate_batch(&mut two.clone(), &limits),
            Err(BatchError::TooMany { count: 2, max: 1 })
        );
    }

    #[test]
    fn oversized_and_deep_data_are_refused() {
        let limits = BatchLimits {
            max_data_bytes: 20,
            max_data_depth: 2,
            ..BatchLimits::default()
        };
        let body = json!({"records": [
            {"entity": "e", "id": "1", "op": "upsert", "version": "1732838400123-0000-s", "data": {"s": "x".repeat(50)}},
            {"entity": "e", "id": "2", "op": "upsert", "version": "1732838400123-0000-s", "data": {"a": {"b": {"c": 1}}}},
        ]});
        let BatchError::InvalidRecords(problems) =
            validate_batch(&mut body.clone(), &limits).unwrap_err()
        else {
            panic!()
        };
        assert!(problems[0].errors[0].contains("bytes"));
        assert!(problems[1].errors[0].contains("nested"));
    }
}
