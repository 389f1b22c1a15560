//! Backend-neutral parts of changing a configuration: applying a change to a snapshot and
//! hashing the result.

use crate::{ConfigChange, ConfigRow, StoreError, StoreResult};

/// Applies a set or unset to the entries of the version it is based on (a rollback's
/// entries are already the target version's).
pub(crate) fn apply_change(entries: &mut Vec<ConfigRow>, change: &ConfigChange) -> StoreResult<()> {
    match change {
        ConfigChange::Set(row) => {
            entries.retain(|e| !(e.scope == row.scope && e.key == row.key));
            entries.push(row.clone());
            entries.sort_by(|a, b| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
        }
        ConfigChange::Unset { scope, key } => {
            let before = entries.len();
            entries.retain(|e| !(&e.scope == scope && &e.key == key));
            if entries.len() == before {
                return Err(StoreError::MissingReference("the setting"));
            }
        }
        ConfigChange::Rollback { .. } => {}
    }
    Ok(())
}

/// SHA-256 over the snapshot's entries in scope and key order, as stored.
pub(crate) fn snapshot_hash(entries: &[ConfigRow]) -> String {
    let rows: Vec<(&str, &str, &str, &str, bool, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.scope.as_str(),
                e.key.as_str(),
                e.value_type.as_str(),
                e.value.as_str(),
                e.secret,
                e.reveal,
            )
        })
        .collect();
    kendrix_core::credentials::hash_bytes(&serde_json::to_vec(&rows).expect("rows serialize"))
}
