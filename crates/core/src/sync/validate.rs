//! Batch validation: every record of a batch checked against the rules and limits, every
//! problem of every bad record listed, before anything is applied.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{canonical_json, record_text_problems, EntityName, Op, Record, RecordId};
use crate::version::Version;

/// Limits a batch must respect; server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_records: usize,
    /// Largest `data` object, in bytes of compact JSON.
    pub max_data_bytes: usize,
    /// Deepest nesting of objects and arrays inside `data`.
    pub max_data_depth: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_records: 5000,
            max_data_bytes: 64 * 1024,
            max_data_depth: 32,
        }
    }
}

/// Everything wrong with one record of a refused batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordProblem {
    /// Position in the batch, from 0.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub errors: Vec<String>,
}

/// Why a batch was refused as a whole; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the body must be a JSON object with a \"records\" array")]
    NotABatch,
    #[error("a batch needs at least one record")]
    Empty,
    #[error("the batch has {count} records; at most {max} are accepted in one batch")]
    TooMany { count: usize, max: usize },
    #[error("{} record(s) are invalid; nothing was applied", .0.len())]
    InvalidRecords(Vec<RecordProblem>),
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Checks one record, collecting every problem rather than stopping at the first. A valid
/// record's `data` is moved out of `value`, not copied.
fn check_record(
    index: usize,
    value: &mut Value,
    limits: &BatchLimits,
) -> Result<Record, RecordProblem> {
    let Some(object) = value.as_object_mut() else {
        return Err(RecordProblem {
            index,
            entity: None,
            id: None,
            errors: vec!["a record must be a JSON object".into()],
        });
    };
    let mut errors = Vec::new();
    let entity = object
        .get("entity")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let id = object.get("id").and_then(Value::as_str).map(str::to_owned);
    if entity.is_none() {
        errors.push("\"entity\" must be a string".into());
    }
    if id.is_none() {
        errors.push("\"id\" must be a string".into());
    }
    let data_object = object.get("data").and_then(Value::as_object);
    // A missing name is reported above; the rule is checked on what was sent.
    for problem in record_text_problems(
        entity.as_deref().unwrap_or("x"),
        id.as_deref().unwrap_or("x"),
        data_object,
    ) {
        errors.push(problem.to_string());
    }
    let op = match object.get("op").and_then(Value::as_str) {
        Some("upsert") => Some(Op::Upsert),
        Some("delete") => Some(Op::Delete),
        Some(other) => {
            errors.push(format!(
                "\"op\" {other:?} is unknown; use \"upsert\" or \"delete\""
            ));
            None
        }
        None => {
            errors.push("\"op\" must be \"upsert\" or \"delete\"".into());
            None
        }
    };
    let version = match object.get("version") {
        Some(Value::String(text)) => match text.parse::<Version>() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(format!("\"version\": {e}"));
                None
            }
        },
        _ => {
            errors.push("\"version\" must be a string like 1732838400123-0000-site12".into());
            None
        }
    };
    let data = match (op, object.get_mut("data")) {
        (Some(Op::Upsert), Some(Value::Object(map))) => {
            let size = canonical_json(map).len();
            if size > limits.max_data_bytes {
                errors.push(format!(
                    "\"data\" is {size} bytes; at most {} are accepted",
                    limits.max_data_bytes
                ));
            }
            if 1 + map.values().map(depth).max().unwrap_or(0) > limits.max_data_depth {
                errors.push(format!(
                    "\"data\" is nested deeper than {} levels",
                    limits.max_data_depth
                ));
            }
            Some(std::mem::take(map))
        }
        (Some(Op::Upsert), _) => {
            errors.push("an upsert needs \"data\": a JSON object".into());
            None
        }
        (Some(Op::Delete), None | Some(Value::Null)) => None,
        (Some(Op::Delete), Some(_)) => {
            errors.push("a delete carries no \"data\"".into());
            None
        }
        (None, _) => None,
    };
    match (entity, id, op, version) {
        (Some(entity), Some(id), Some(op), Some(version)) if errors.is_empty() => Ok(Record {
            entity: EntityName::checked(entity),
            id: RecordId::checked(id),
            op,
            version,
            data,
        }),
        (entity, id, ..) => Err(RecordProblem {
            index,
            entity,
            id,
            errors,
        }),
    }
}

/// Validates a batch body, `{"records": [...]}`. Either every record is valid, or the error
/// lists every bad record and why. Records' data is moved out of `body`, not copied.
pub fn validate_batch(body: &mut Value, limits: &BatchLimits) -> Result<Vec<Record>, BatchError> {
    let records = body
        .get_mut("records")
        .and_then(Value::as_array_mut)
        .ok_or(BatchError::NotABatch)?;
    if records.is_empty() {
        return Err(BatchError::Empty);
    }
    if records.len() > limits.max_records {
        return Err(BatchError::TooMany {
            count: records.len(),
            max: limits.max_records,
        });
    }
    let mut valid = Vec::with_capacity(records.len());
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    for (index, value) in records.iter_mut().enumerate() {
        match check_record(index, value, limits) {
            Ok(record) => {
                if !seen.insert((record.entity.clone(), record.id.clone())) {
                    problems.push(RecordProblem {
                        index,
                        entity: Some(record.entity.into()),
                        id: Some(record.id.into()),
                        errors: vec![
                            "the same record appears earlier in this batch; send one change per record".into(),
                        ],
                    });
                } else {
                    valid.push(record);
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(BatchError::InvalidRecords(problems))
    }
}
