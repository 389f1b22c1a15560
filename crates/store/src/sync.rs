//! Backend-neutral parts of applying a batch: deciding each record, and the rows that
//! record the outcome. The SQL that differs per backend (fetching stored versions, upserting
//! records) lives with each backend.

use std::collections::{BTreeMap, HashMap};

use kendrix_core::sync::{
    decide, BatchResponse, Record, RecordResult, RecordStatus, StatusCounts, StoredVersion,
};

/// The server's copy of a record as applying needs it: its version, and the batch that
/// wrote it (to tell our own writes from a concurrent batch's).
pub(crate) struct Stored {
    pub version: StoredVersion,
    pub batch_id: String,
}

/// Stored copies of a batch's records, by position in the batch.
pub(crate) type StoredVersions = HashMap<usize, Stored>;

/// One record's decision while a batch is applied.
pub(crate) struct Decision {
    pub status: RecordStatus,
    pub reason: Option<&'static str>,
    /// The server's version after the batch.
    pub version: String,
}

/// A record row to upsert.
pub(crate) struct RecordRow<'a> {
    pub record: &'a Record,
    pub version: String,
    pub deleted: bool,
    pub data: Option<&'a str>,
    pub content_hash: &'a str,
}

/// Decides every record against the stored versions (last writer wins).
pub(crate) fn decide_all(
    records: &[Record],
    hashes: &[String],
    stored: &StoredVersions,
) -> Vec<Decision> {
    records
        .iter()
        .zip(hashes)
        .enumerate()
        .map(|(i, (record, hash))| {
            let current = stored.get(&i).map(|s| &s.version);
            let (status, reason) = decide(record, hash, current);
            let version = match (status, current) {
                (RecordStatus::Applied, _) | (_, None) => record.version.to_string(),
                (_, Some(current)) => current.version.to_string(),
            };
            Decision {
                status,
                reason,
                version,
            }
        })
        .collect()
}

/// Each record's data as stored and its content hash, computed once per batch.
pub(crate) fn texts_and_hashes(records: &[Record]) -> (Vec<Option<String>>, Vec<String>) {
    let texts: Vec<Option<String>> = records.iter().map(Record::data_text).collect();
    let hashes = records
        .iter()
        .zip(&texts)
        .map(|(r, text)| kendrix_core::sync::content_hash(r.op, text.as_deref()))
        .collect();
    (texts, hashes)
}

/// The rows to upsert for the records decided `Applied`.
pub(crate) fn rows_to_write<'a>(
    records: &'a [Record],
    texts: &'a [Option<String>],
    hashes: &'a [String],
    decisions: &[Decision],
) -> Vec<RecordRow<'a>> {
    records
        .iter()
        .zip(texts)
        .zip(hashes)
        .zip(decisions)
        .filter(|(_, d)| d.status == RecordStatus::Applied)
        .map(|(((record, text), hash), _)| RecordRow {
            record,
            version: record.version.to_string(),
            deleted: record.op == kendrix_core::sync::Op::Delete,
            data: text.as_deref(),
            content_hash: hash,
        })
        .collect()
}

/// Records decided `Applied` that a concurrent batch overtook (PostgreSQL, several
/// instances): after the upsert, the stored copy was written by another batch. Their
/// positions in the batch.
pub(crate) fn lost_races(
    records: &[Record],
    decisions: &[Decision],
    batch_id: &str,
    now_stored: &StoredVersions,
) -> Vec<usize> {
    records
        .iter()
        .zip(decisions)
        .enumerate()
        .filter(|(i, (_, d))| {
            d.status == RecordStatus::Applied
                && now_stored.get(i).is_none_or(|s| s.batch_id != batch_id)
        })
        .map(|(i, _)| i)
        .collect()
}

/// What a batch did, per entity and in total, and the caller's new high-water marks.
pub(crate) struct Tally {
    pub total: StatusCounts,
    pub per_entity: BTreeMap<String, StatusCounts>,
    /// Newest version per entity that the server now holds from this batch ("" if none).
    pub newest: BTreeMap<String, String>,
}

pub(crate) fn tally(records: &[Record], decisions: &[Decision]) -> Tally {
    let mut tally = Tally {
        total: StatusCounts::default(),
        per_entity: BTreeMap::new(),
        newest: BTreeMap::new(),
    };
    for (record, decision) in records.iter().zip(decisions) {
        tally.total.add(decision.status);
        tally
            .per_entity
            .entry(record.entity.to_string())
            .or_default()
            .add(decision.status);
        let newest = tally.newest.entry(record.entity.to_string()).or_default();
        if matches!(
            decision.status,
            RecordStatus::Applied | RecordStatus::Duplicate
        ) {
            let version = record.version.to_string();
            if version > *newest {
                *newest = version;
            }
        }
    }
    tally
}

pub(crate) fn response(
    batch_id: &str,
    records: &[Record],
    decisions: &[Decision],
    total: StatusCounts,
) -> BatchResponse {
    BatchResponse {
        batch_id: batch_id.to_owned(),
        results: records
            .iter()
            .zip(decisions)
            .map(|(record, d)| RecordResult {
                entity: record.entity.to_string(),
                id: record.id.to_string(),
                status: d.status,
                version: d.version.clone(),
                reason: d.reason.map(str::to_owned),
            })
            .collect(),
        counts: total,
    }
}

/// Rows of (position in the batch, version, content hash, batch id) from either backend.
pub(crate) fn stored_from_rows(rows: Vec<(i64, String, String, String)>) -> StoredVersions {
    rows.into_iter()
        .filter_map(|(position, version, content_hash, batch_id)| {
            // A stored version always parses: it was validated on the way in.
            let version = version.parse().ok()?;
            let version = StoredVersion {
                version,
                content_hash,
            };
            Some((position as usize, Stored { version, batch_id }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kendrix_core::sync::Op;

    fn record(id: &str, version: &str) -> Record {
        Record {
            entity: "orders".parse().unwrap(),
            id: id.parse().unwrap(),
            op: Op::Upsert,
            version: version.parse().unwrap(),
            data: Some(Default::default()),
        }
    }

    fn stored(version: &str, batch_id: &str) -> Stored {
        Stored {
            version: StoredVersion {
                version: version.parse().unwrap(),
                content_hash: "h".into(),
            },
            batch_id: batch_id.into(),
        }
    }

    #[test]
    fn a_record_overtaken_by_a_concurrent_batch_is_decided_again_as_stale() {
        let records = [
            record("a", "1800000000000-0000-s"),
            record("b", "1800000000000-0000-s"),
        ];
        let (_, hashes) = texts_and_hashes(&records);
        let decisions = decide_all(&records, &hashes, &StoredVersions::new());
        assert!(decisions.iter().all(|d| d.status == RecordStatus::Applied));
        // After our upsert: "a" holds a newer version from another batch, "b" holds ours.
        let now = StoredVersions::from([
            (0, stored("1800000000001-0000-t", "theirs")),
            (1, stored("1800000000000-0000-s", "ours")),
        ]);
        assert_eq!(lost_races(&records, &decisions, "ours", &now), vec![0]);
        let again = decide_all(&records, &hashes, &now);
        assert_eq!(again[0].status, RecordStatus::Stale);
        assert_eq!(again[0].version, "1800000000001-0000-t");
    }
}
