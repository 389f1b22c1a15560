//! The names a record travels under — its entity and its id — validated once, at
//! construction, so every holder of an [`EntityName`] or a [`RecordId`] knows it is one the
//! server accepts. The agent refuses a bad one at enqueue; the server refuses it in a batch
//! with the same words.

use std::fmt::{self, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest record id, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest entity name, in bytes.
pub const MAX_ENTITY_BYTES: usize = 64;

/// Why a name was refused, in words that name the field (they are shown to whoever sent it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("\"entity\" must match [a-z][a-z0-9_]{{0,63}}")]
    BadEntity,
    #[error("\"id\" must not be empty")]
    EmptyId,
    #[error("\"id\" is longer than {MAX_ID_BYTES} bytes")]
    LongId,
    #[error("\"id\" contains the control character U+{0:04X}; ids must be printable text")]
    ControlInId(u32),
    /// `path` is where in `data`, e.g. `note` or `lines[2].sku`.
    #[error("\"data\" {path} contains U+0000 (NUL), which the server's database cannot store")]
    NulInData { path: String },
}

/// The one rule for what a record may carry: its entity name, its id, and NUL-free text in
/// every key and string of its data (PostgreSQL stores no U+0000 in text or jsonb). Every
/// problem is listed, in that order. The agent applies it at enqueue and the server to every
/// record of a batch, so a row refused by one is refused by the other with the same words.
pub fn record_text_problems(
    entity: &str,
    id: &str,
    data: Option<&Map<String, Value>>,
) -> Vec<NameError> {
    let mut problems = Vec::new();
    if let Err(e) = EntityName::check(entity) {
        problems.push(e);
    }
    if let Err(e) = RecordId::check(id) {
        problems.push(e);
    }
    if let Some(path) = data.and_then(|map| nul_in_object(map, &mut String::new())) {
        problems.push(NameError::NulInData { path });
    }
    problems
}

/// The path of the first key or string holding a NUL, if any (one walk, no copies).
fn nul_in_object(map: &Map<String, Value>, path: &mut String) -> Option<String> {
    for (key, value) in map {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        if key.contains('\0') {
            return Some(format!("field {path:?}"));
        }
        if let Some(found) = nul_in_value(value, path) {
            return Some(found);
        }
        path.truncate(len);
    }
    None
}

fn nul_in_value(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(format!("field {path:?}")),
        Value::Object(map) => nul_in_object(map, path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            let _ = write!(path, "[{i}]");
            let found = nul_in_value(item, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// What a record is, for example `orders`: `[a-z][a-z0-9_]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityName(String);

impl EntityName {
    pub fn parse(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        Self::check(&name)?;
        Ok(Self(name))
    }

    /// Whether `name` would parse, without taking it.
    pub fn check(name: &str) -> Result<(), NameError> {
        let bytes = name.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= MAX_ENTITY_BYTES
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
        if valid {
            Ok(())
        } else {
            Err(NameError::BadEntity)
        }
    }

    /// A name [`check`](Self::check)ed by the caller.
    pub(super) fn checked(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which record of its entity, for example `A-1001`: 1 to 256 bytes of text without
/// control characters (a NUL cannot be stored by PostgreSQL, and none can be shown).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    pub fn parse(id: impl Into<String>) -> Result<Self, NameError> {
        let id = id.into();
        Self::check(&id)?;
        Ok(Self(id))
    }

    /// Whether `id` would parse, without taking it.
    pub fn check(id: &str) -> Result<(), NameError> {
        if id.is_empty() {
            return Err(NameError::EmptyId);
        }
        if id.len() > MAX_ID_BYTES {
            return Err(NameError::LongId);
        }
        match id.chars().find(|c| c.is_control()) {
            Some(c) => Err(NameError::ControlInId(c as u32)),
            None => Ok(()),
        }
    }

    /// An id [`check`](Self::check)ed by the caller.
    pub(super) fn checked(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, NameError> {
                Self::parse(value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_newtype!(EntityName);
string_newtype!(RecordId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_are_lowercase_words() {
        for good in ["orders", "o", "order_lines_2", &"a".repeat(64)] {
            assert!(EntityName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Orders",
            "2orders",
            "order-lines",
            "ordérs",
            &"a".repeat(65),
        ] {
            assert_eq!(EntityName::parse(bad), Err(NameError::BadEntity), "{bad}");
        }
    }

    #[test]
    fn record_ids_are_printable_text_up_to_256_bytes() {
        for good in ["A-1", "Ölfilter 12", "x y", &"é".repeat(128)] {
            assert!(RecordId::parse(good).is_ok(), "{good}");
        }
        assert_eq!(RecordId::parse(""), Err(NameError::EmptyId));
        assert_eq!(RecordId::parse("x".repeat(257)), Err(NameError::LongId));
        assert_eq!(RecordId::parse("A\u{0}1"), Err(NameError::ControlInId(0)));
        assert_eq!(RecordId::parse("A\n1"), Err(NameError::ControlInId(10)));
        assert!(NameError::ControlInId(0).to_string().contains("U+0000"));
    }

    #[test]
    fn a_nul_anywhere_in_data_is_named_by_its_path() {
        let data = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let clean = data(serde_json::json!({"note": "line\nbreak", "n": [1, "a"]}));
        assert!(record_text_problems("orders", "A-1", Some(&clean)).is_empty());
        let deep = data(serde_json::json!({"lines": [{"sku": "ok"}, {"sku": "X\u{0}"}]}));
        assert_eq!(
            record_text_problems("orders", "A-1", Some(&deep)),
            [NameError::NulInData {
                path: "field \"lines[1].sku\"".into()
            }]
        );
        let key = data(serde_json::json!({"a\u{0}b": 1}));
        let problems = record_text_problems("Orders", "", Some(&key));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[2]
            .to_string()
            .contains(r#""data" field "a\0b" contains U+0000"#));
    }

    #[test]
    fn names_deserialize_only_when_valid() {
        let id: RecordId = serde_json::from_str(r#""A-1""#).unwrap();
        assert_eq!(id, "A-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""A-1""#);
        assert!(serde_json::from_str::<RecordId>(r#""A\u00001""#).is_err());
        assert!(serde_json::from_str::<EntityName>(r#""Orders""#).is_err());
    }
}
