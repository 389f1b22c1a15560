//! The sync settings the server's configuration gives (applied live).

use std::time::Duration;

use serde_json::{Map, Value};

use crate::local_store::BatchBudget;

/// The configuration keys the engine reads (every one a number).
const KEYS: [&str; 6] = [
    "sync.batch_size",
    "sync.batch_bytes",
    "sync.interval_seconds",
    "sync.request_timeout_seconds",
    "sync.retry_max_seconds",
    "sync.retry_budget",
];

/// The sync settings, from the server's configuration (keys `sync.batch_size`,
/// `sync.batch_bytes`, `sync.interval_seconds`, `sync.request_timeout_seconds`,
/// `sync.retry_max_seconds`, `sync.retry_budget`), applied live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    pub batch_size: i64,
    /// Most bytes in one batch's body: under the server's body limit (16 MB by default).
    pub batch_bytes: i64,
    pub interval: Duration,
    pub request_timeout: Duration,
    pub retry_cap: Duration,
    /// Retries one run may make (see [`crate::RetryBudget`]).
    pub retry_budget: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            batch_bytes: BatchBudget::DEFAULT_BYTES,
            interval: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            retry_cap: Duration::from_secs(300),
            retry_budget: 10,
        }
    }
}

impl SyncSettings {
    /// Reads the settings from the configuration's JSON (a flat object); anything missing or
    /// out of range keeps its default.
    pub fn from_config(body: &str) -> Self {
        let config: Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        let number = |key: &str, min: i64, max: i64| {
            config
                .get(key)
                .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
                .filter(|n| (min..=max).contains(n))
        };
        let default = Self::default();
        Self {
            batch_size: number("sync.batch_size", 1, 5000).unwrap_or(default.batch_size),
            batch_bytes: number("sync.batch_bytes", 1024, 1 << 30).unwrap_or(default.batch_bytes),
            retry_budget: number("sync.retry_budget", 0, 10_000)
                .map(|n| n as u32)
                .unwrap_or(default.retry_budget),
            interval: number("sync.interval_seconds", 1, 86_400)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default.interval),
            request_timeout: number("sync.request_timeout_seconds", 1, 600)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default.request_timeout),
            retry_cap: number("sync.retry_max_seconds", 1, 86_400)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default.retry_cap),
        }
    }

    /// The part of a configuration the engine keeps on disk: the keys it reads, as numbers.
    /// Everything else — secret values revealed to this site among it — is never written to
    /// the local database (`sync.*` keys that are not numbers are left out too).
    pub fn kept_part(body: &str) -> String {
        let config: Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        let kept: Map<String, Value> = KEYS
            .iter()
            .filter_map(|key| {
                let value = config.get(*key)?;
                let number = value
                    .as_i64()
                    .or_else(|| value.as_str()?.trim().parse().ok())?;
                Some(((*key).to_owned(), Value::from(number)))
            })
            .collect();
        Value::Object(kept).to_string()
    }

    /// The batch budget these settings give.
    pub fn batch_budget(&self) -> BatchBudget {
        BatchBudget {
            records: self.batch_size,
            bytes: self.batch_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_configuration_and_out_of_range_values_keep_their_default() {
        let settings = SyncSettings::from_config(
            r#"{"sync.batch_size": "250", "sync.interval_seconds": 60,
                "sync.request_timeout_seconds": 0, "sync.retry_max_seconds": "soon"}"#,
        );
        assert_eq!(
            settings,
            SyncSettings {
                batch_size: 250,
                interval: Duration::from_secs(60),
                ..SyncSettings::default()
            }
        );
        assert_eq!(
            SyncSettings::from_config("not json"),
            SyncSettings::default()
        );
    }

    #[test]
    fn only_the_settings_read_are_kept_and_they_give_the_same_settings() {
        let body = r#"{"sync.batch_size": "250", "sync.batch_bytes": 65536,
            "sync.retry_budget": 3, "db.password": "hunter2-secret", "sync.note": "x",
            "sync.interval_seconds": "soon"}"#;
        let kept = SyncSettings::kept_part(body);
        assert_eq!(
            kept,
            r#"{"sync.batch_bytes":65536,"sync.batch_size":250,"sync.retry_budget":3}"#
        );
        assert_eq!(
            SyncSettings::from_config(&kept),
            SyncSettings::from_config(body)
        );
        assert_eq!(SyncSettings::kept_part("not json"), "{}");
    }
}
