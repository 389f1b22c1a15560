//! Central configuration: typed values, keys, and the renderings a site's software reads —
//! JSON, .NET `App.config` XML and INI — each escaped so that a standard parser of the
//! format reads back exactly the stored text of every value.
//!
//! Escaping, per format:
//! - **JSON**: an object of key → typed JSON value (strings, numbers, booleans, JSON values).
//! - **App.config XML**: `<add key="…" value="…"/>`; in attribute values `&`, `<`, `>`, `"`,
//!   `'` become entities and tab, newline and carriage return become `&#x9;`, `&#xA;`,
//!   `&#xD;` (otherwise XML attribute-value normalization would turn them into spaces).
//!   Characters XML 1.0 cannot carry at all (other control characters) are refused when a
//!   value is set.
//! - **INI**: a key `section.name` goes to `[section]` as `name`; keys without a dot come
//!   first, outside any section. Every value is double-quoted, with `\\`, `\"`, `\n`, `\r`,
//!   `\t` escapes (the quoted-value convention of INI readers such as `rust-ini`), so `;`,
//!   `#`, `=` and leading or trailing spaces survive.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A setting's value, with its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum ConfigValue {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Json(Value),
}

/// What a secret that a client may not read shows instead of its value.
pub const MASKED: &str = "********";

impl ConfigValue {
    /// A value from JSON, typed by `type_name` or, if none is given, by the JSON itself
    /// (objects, arrays and null are `json`).
    pub fn from_json(value: Value, type_name: Option<&str>) -> Result<Self, String> {
        match (type_name, value) {
            (None | Some("string"), Value::String(s)) => Ok(ConfigValue::String(s)),
            (None | Some("number"), Value::Number(n)) => Ok(ConfigValue::Number(n)),
            (None | Some("bool"), Value::Bool(b)) => Ok(ConfigValue::Bool(b)),
            (None | Some("json"), v) => Ok(ConfigValue::Json(v)),
            (Some(t @ ("string" | "number" | "bool")), v) => {
                Err(format!("the value {v} is not a {t}"))
            }
            (Some(other), _) => Err(format!(
                "type {other:?} is unknown; use string, number, bool or json"
            )),
        }
    }

    /// The type name as stored.
    pub fn type_name(&self) -> &'static str {
        match self {
            ConfigValue::String(_) => "string",
            ConfigValue::Number(_) => "number",
            ConfigValue::Bool(_) => "bool",
            ConfigValue::Json(_) => "json",
        }
    }

    /// The value as text, as XML and INI carry it: strings as they are, numbers and booleans
    /// in JSON notation, JSON values as compact JSON.
    pub fn as_text(&self) -> String {
        match self {
            ConfigValue::String(s) => s.clone(),
            ConfigValue::Number(n) => n.to_string(),
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Json(v) => v.to_string(),
        }
    }

    /// The value as JSON renders it.
    pub fn as_json(&self) -> Value {
        match self {
            ConfigValue::String(s) => Value::String(s.clone()),
            ConfigValue::Number(n) => Value::Number(n.clone()),
            ConfigValue::Bool(b) => Value::Bool(*b),
            ConfigValue::Json(v) => v.clone(),
        }
    }
}

/// Why a key or value cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("a key is 1-128 characters of A-Z a-z 0-9 _ . - and starts with a letter, digit or _")]
    BadKey,
    #[error("the value contains a control character (other than tab, newline, carriage return) that XML cannot carry")]
    UnrepresentableValue,
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`: safe unescaped in every rendering.
pub fn check_key(key: &str) -> Result<(), ConfigError> {
    let bytes = key.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadKey)
    }
}

/// Refuses text that XML 1.0 cannot represent, so every value renders in every format.
pub fn check_value(value: &ConfigValue) -> Result<(), ConfigError> {
    let text = value.as_text();
    let representable = text.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    });
    if representable {
        Ok(())
    } else {
        Err(ConfigError::UnrepresentableValue)
    }
}

/// A client's effective configuration: key → value, keys in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EffectiveConfig(pub BTreeMap<String, ConfigValue>);

/// The formats a configuration is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    Json,
    Xml,
    Ini,
}

impl ConfigFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ConfigFormat::Json => "application/json",
            ConfigFormat::Xml => "application/xml; charset=utf-8",
            ConfigFormat::Ini => "text/plain; charset=utf-8",
        }
    }
}

impl std::str::FromStr for ConfigFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(ConfigFormat::Json),
            "xml" => Ok(ConfigFormat::Xml),
            "ini" => Ok(ConfigFormat::Ini),
            other => Err(format!("format {other:?} is unknown; use json, xml or ini")),
        }
    }
}

impl EffectiveConfig {
    /// Layers configurations, later ones winning key by key (global, then tenant, then client).
    pub fn layered<'a>(layers: impl IntoIterator<Item = &'a EffectiveConfig>) -> Self {
        let mut merged = BTreeMap::new();
        for layer in layers {
            for (key, value) in &layer.0 {
                merged.insert(key.clone(), value.clone());
            }
        }
        Self(merged)
    }

    /// SHA-256 of the JSON rendering: the `ETag` and the drift check use it.
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(self.render(ConfigFormat::Json).as_bytes()))
    }

    pub fn render(&self, format: ConfigFormat) -> String {
        match format {
            ConfigFormat::Json => self.render_json(),
            ConfigFormat::Xml => self.render_app_config(),
            ConfigFormat::Ini => self.render_ini(),
        }
    }

    fn render_json(&self) -> String {
        let object: serde_json::Map<String, Value> = self
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.as_json()))
            .collect();
        serde_json::to_string_pretty(&Value::Object(object)).expect("JSON renders")
    }

    fn render_app_config(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <appSettings>\n",
        );
        for (key, value) in &self.0 {
            let _ = writeln!(
                out,
                "    <add key=\"{}\" value=\"{}\" />",
                xml_attribute(key),
                xml_attribute(&value.as_text())
            );
        }
        out.push_str("  </appSettings>\n</configuration>\n");
        out
    }

    fn render_ini(&self) -> String {
        let mut sections: BTreeMap<&str, Vec<(&str, &ConfigValue)>> = BTreeMap::new();
        let mut top = Vec::new();
        for (key, value) in &self.0 {
            match key.split_once('.') {
                Some((section, name)) => sections.entry(section).or_default().push((name, value)),
                None => top.push((key.as_str(), value)),
            }
        }
        let mut out = String::new();
        for (name, value) in top {
            let _ = writeln!(out, "{name} = \"{}\"", ini_escape(&value.as_text()));
        }
        for (section, entries) in sections {
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = writeln!(out, "[{section}]");
            for (name, value) in entries {
                let _ = writeln!(out, "{name} = \"{}\"", ini_escape(&value.as_text()));
            }
        }
        out
    }
}

/// Replaces the characters `table` names, keeping the rest.
fn escape(text: &str, table: fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    out
}

fn xml_attribute(text: &str) -> String {
    escape(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        '\t' => Some("&#x9;"),
        '\n' => Some("&#xA;"),
        '\r' => Some("&#xD;"),
        _ => None,
    })
}

fn ini_escape(text: &str) -> String {
    escape(text, |c| match c {
        '\\' => Some("\\\\"),
        '"' => Some("\\\""),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Values that break naive renderers.
    fn awkward() -> EffectiveConfig {
        let values = [
            ("lt_gt", "<tag attr=\"x\">&amp;</tag>"),
            ("quotes", "it's \"quoted\""),
            ("equals", "a=b;c#d"),
            ("spaces", "  leading and trailing  "),
            ("multi", "line one\nline two\r\nline three"),
            ("tabs", "a\tb"),
            ("unicode", "Zoë — 東京 — 🚀"),
            ("empty", ""),
            ("backslash", "C:\\Program Files\\Kendrix\\"),
            ("db.connection", "Server=x;Password=p@ss;"),
            ("db.timeout", "30"),
            ("sync.batch_size", "1000"),
        ];
        let mut config = EffectiveConfig::default();
        for (k, v) in values {
            config.0.insert(k.into(), ConfigValue::String(v.into()));
        }
        config
            .0
            .insert("long".into(), ConfigValue::String("x&<\"".repeat(20_000)));
        config
            .0
            .insert("sync.enabled".into(), ConfigValue::Bool(true));
        config
            .0
            .insert("sync.interval".into(), ConfigValue::Number(90.into()));
        config.0.insert(
            "sync.ratio".into(),
            ConfigValue::Number(serde_json::Number::from_f64(0.25).unwrap()),
        );
        config.0.insert(
            "endpoints".into(),
            ConfigValue::Json(json!({"a": [1, "x<y"]})),
        );
        for (key, value) in &config.0 {
            check_key(key).unwrap();
            check_value(value).unwrap();
        }
        config
    }

    #[test]
    fn json_parses_back_to_the_typed_values() {
        let config = awkward();
        let parsed: serde_json::Map<String, Value> =
            serde_json::from_str(&config.render(ConfigFormat::Json)).unwrap();
        assert_eq!(parsed.len(), config.0.len());
        for (key, value) in &config.0 {
            assert_eq!(parsed[key], value.as_json(), "{key}");
        }
    }

    #[test]
    fn app_config_parses_back_with_an_xml_parser() {
        let config = awkward();
        let xml = config.render(ConfigFormat::Xml);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let settings = doc
            .descendants()
            .find(|n| n.has_tag_name("appSettings"))
            .unwrap();
        let parsed: BTreeMap<String, String> = settings
            .children()
            .filter(|n| n.has_tag_name("add"))
            .map(|n| {
                (
                    n.attribute("key").unwrap().into(),
                    n.attribute("value").unwrap().into(),
                )
            })
            .collect();
        let expected: BTreeMap<String, String> = config
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.as_text()))
            .collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn ini_parses_back_with_an_ini_parser() {
        let config = awkward();
        let text = config.render(ConfigFormat::Ini);
        let ini = ini::Ini::load_from_str_opt(
            &text,
            ini::ParseOption {
                enabled_quote: true,
                enabled_escape: true,
                ..ini::ParseOption::default()
            },
        )
        .unwrap();
        let mut parsed = BTreeMap::new();
        for (section, properties) in ini.iter() {
            for (name, value) in properties.iter() {
                let key = match section {
                    Some(section) => format!("{section}.{name}"),
                    None => name.to_owned(),
                };
                parsed.insert(key, value.to_owned());
            }
        }
        let expected: BTreeMap<String, String> = config
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.as_text()))
            .collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn keys_and_values_that_cannot_render_are_refused() {
        assert_eq!(check_key("a b"), Err(ConfigError::BadKey));
        assert_eq!(check_key("[x]"), Err(ConfigError::BadKey));
        assert_eq!(check_key(".x"), Err(ConfigError::BadKey));
        assert_eq!(check_key(""), Err(ConfigError::BadKey));
        assert!(check_key("db.connection_string").is_ok());
        assert_eq!(
            check_value(&ConfigValue::String("bell\u{7}".into())),
            Err(ConfigError::UnrepresentableValue)
        );
    }

    #[test]
    fn the_most_specific_scope_wins() {
        let global = EffectiveConfig(BTreeMap::from([
            ("a".into(), ConfigValue::Number(1.into())),
            ("b".into(), ConfigValue::Number(1.into())),
        ]));
        let tenant = EffectiveConfig(BTreeMap::from([(
            "b".into(),
            ConfigValue::Number(2.into()),
        )]));
        let client = EffectiveConfig(BTreeMap::from([(
            "c".into(),
            ConfigValue::Number(3.into()),
        )]));
        let merged = EffectiveConfig::layered([&global, &tenant, &client]);
        assert_eq!(merged.0["a"], ConfigValue::Number(1.into()));
        assert_eq!(merged.0["b"], ConfigValue::Number(2.into()));
        assert_eq!(merged.0.len(), 3);
        assert_ne!(merged.content_hash(), global.content_hash());
    }
}
