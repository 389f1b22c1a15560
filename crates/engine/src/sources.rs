//! Where records come from: files or streams of NDJSON, JSON or CSV rows, handed to the
//! outbox in one transaction, and the inbox folder that takes such files in.
//!
//! A row is one JSON object (or CSV line, every cell a string). Its id is the `--id-field`
//! (default `id`, a string or a number); the row itself is the record's data. Two optional
//! fields steer it and are not part of the data: `_op` (`upsert`, the default, or `delete`)
//! and `_version` (a version the source already has; otherwise the agent's clock gives one).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use kendrix_core::sync::{record_text_problems, Change, EntityName, Op, RecordId};
use serde_json::{Map, Value};

use crate::local_store::Enqueue;
use crate::{EngineError, EngineResult};

/// Rows are handed to the outbox in chunks of this many (inside one transaction).
const CHUNK_ROWS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Json,
    Csv,
}

impl Format {
    /// The format a file name implies: `.ndjson`/`.jsonl`, `.json`, `.csv`.
    pub fn of_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format {other:?}: use ndjson, json or csv")),
        }
    }
}

/// How rows become records.
#[derive(Debug, Clone)]
pub struct RowShape {
    pub entity: String,
    pub id_field: String,
}

fn bad_row(row: usize, reason: impl Into<String>) -> EngineError {
    EngineError::BadRow {
        row,
        reason: reason.into(),
    }
}

/// Turns one row of `entity` into a change. `row` counts from 1, for messages.
fn change_of_row(
    mut object: Map<String, Value>,
    entity: &EntityName,
    shape: &RowShape,
    row: usize,
) -> EngineResult<Change> {
    let id = match object.get(&shape.id_field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(bad_row(
                row,
                format!(
                    "the \"{}\" field must be a non-empty string or a number",
                    shape.id_field
                ),
            ))
        }
        None => {
            return Err(bad_row(
                row,
                format!(
                    "no \"{}\" field (choose the id column with --id-field)",
                    shape.id_field
                ),
            ))
        }
    };
    // An id the server would refuse (a NUL, a control character, too long) stops the source
    // here, naming the row, so it never reaches a batch.
    let id = RecordId::parse(id).map_err(|e| match shape.id_field.as_str() {
        "id" => bad_row(row, e.to_string()),
        field => bad_row(row, format!("{e} (the \"{field}\" field)")),
    })?;
    let op = match object.remove("_op") {
        None => Op::Upsert,
        Some(Value::String(s)) if s == "upsert" || s.is_empty() => Op::Upsert,
        Some(Value::String(s)) if s == "delete" => Op::Delete,
        Some(other) => {
            return Err(bad_row(
                row,
                format!("_op must be \"upsert\" or \"delete\", not {other}"),
            ))
        }
    };
    let version = match object.remove("_version") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(
            s.parse()
                .map_err(|e| bad_row(row, format!("_version {s:?}: {e}")))?,
        ),
        Some(other) => {
            return Err(bad_row(
                row,
                format!("_version must be a string, not {other}"),
            ))
        }
    };
    let data = (op == Op::Upsert).then_some(object);
    // The server's rule for the rest of the row: text its database cannot store (a NUL in
    // a field) is refused here too, naming the field, rather than sent to be refused.
    if let Some(problem) = record_text_problems(entity.as_str(), id.as_str(), data.as_ref())
        .into_iter()
        .next()
    {
        return Err(bad_row(row, problem.to_string()));
    }
    Ok(Change {
        entity: entity.clone(),
        id,
        op,
        version,
        data,
    })
}

/// Reads every row of `input` into `enqueue` (which the caller commits). Any bad row fails
/// the whole read, naming the row; nothing is queued then. Returns the number of rows.
pub async fn read_rows(
    input: impl Read,
    format: Format,
    shape: &RowShape,
    enqueue: &mut Enqueue<'_>,
) -> EngineResult<usize> {
    let mut rows = 0usize;
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    // Refused at the first row (a source without rows queues nothing either way).
    let entity = EntityName::parse(shape.entity.as_str());
    macro_rules! take {
        ($object:expr) => {{
            rows += 1;
            let entity = entity.as_ref().map_err(|e| EngineError::InvalidChange {
                index: 0,
                reason: e.to_string(),
            })?;
            chunk.push(change_of_row($object, entity, shape, rows)?);
            if chunk.len() == CHUNK_ROWS {
                enqueue.add(&chunk).await?;
                chunk.clear();
            }
        }};
    }
    match format {
        Format::Ndjson => {
            for (n, line) in std::io::BufReader::new(input).lines().enumerate() {
                let line = line.map_err(|e| bad_row(n + 1, format!("unreadable: {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(Value::Object(object)) => take!(object),
                    Ok(_) => return Err(bad_row(n + 1, "a line must be a JSON object")),
                    Err(e) => return Err(bad_row(n + 1, format!("not JSON: {e}"))),
                }
            }
        }
        Format::Json => {
            let value: Value = serde_json::from_reader(std::io::BufReader::new(input))
                .map_err(|e| bad_row(0, format!("not JSON: {e}")))?;
            let list = match value {
                Value::Array(list) => list,
                Value::Object(object) => vec![Value::Object(object)],
                _ => return Err(bad_row(0, "expected an array of objects")),
            };
            for (n, item) in list.into_iter().enumerate() {
                match item {
                    Value::Object(object) => take!(object),
                    _ => return Err(bad_row(n + 1, "each element must be a JSON object")),
                }
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
            let headers = reader
                .headers()
                .map_err(|e| bad_row(0, format!("the header line is unreadable: {e}")))?
                .clone();
            for (n, record) in reader.records().enumerate() {
                let record = record.map_err(|e| bad_row(n + 1, e.to_string()))?;
                let object: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect();
                take!(object)
            }
        }
    }
    if !chunk.is_empty() {
        enqueue.add(&chunk).await?;
    }
    Ok(rows)
}

/// The inbox folder: files dropped here are taken into the outbox, then moved to
/// `processed/` — or, if a row is bad, to `failed/` beside a `.error` file saying why.
/// Writers should create files under another name (or a dot-name, `.tmp`/`.part`) and
/// rename them in, so a half-written file is never read. On Windows a file another program
/// still has open (a writer that saves in place) is left for a later pass: it is read only
/// through a handle that shares it with no one.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub dir: PathBuf,
    pub id_field: String,
}

/// What became of one inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxOutcome {
    Taken { file: String, rows: usize },
    Failed { file: String, reason: String },
}

impl Inbox {
    pub fn processed_dir(&self) -> PathBuf {
        self.dir.join("processed")
    }

    pub fn failed_dir(&self) -> PathBuf {
        self.dir.join("failed")
    }

    /// Files ready to take in, oldest name first.
    pub fn ready_files(&self) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(self.processed_dir())?;
        std::fs::create_dir_all(self.failed_dir())?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !name.starts_with('.') && Format::of_path(p).is_some()
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// The entity a file feeds: its name up to the first dot (`orders.2026-11-29.csv`).
    pub fn entity_of(path: &Path) -> String {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.split('.').next().unwrap_or("").to_owned()
    }
}

/// Reads a whole inbox file, or `None` while another program still has it open (Windows: a
/// writer saving in place, an antivirus scan). Elsewhere a file is read as it is.
pub fn read_if_free(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // No sharing: the open fails while any other handle to the file is open.
    #[cfg(windows)]
    std::os::windows::fs::OpenOptionsExt::share_mode(&mut options, 0);
    let mut bytes = Vec::new();
    match options.open(path) {
        Ok(mut file) => {
            std::io::Read::read_to_end(&mut file, &mut bytes)?;
            Ok(Some(bytes))
        }
        Err(e) if still_in_use(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// ERROR_SHARING_VIOLATION (32) and ERROR_LOCK_VIOLATION (33): another program holds the file.
pub fn still_in_use(e: &std::io::Error) -> bool {
    cfg!(windows) && matches!(e.raw_os_error(), Some(32 | 33))
}

/// Moves `path` into `dir`, never over an existing file.
pub fn move_into(path: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut target = dir.join(&name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}
