//! The sync settings the server's configuration gives (applied live).

use std::time::Duration;

use serde_json::{Map, Value};

/// The sync settings, from the server's configuration (keys `sync.batch_size`,
/// `sync.interval_seconds`, `sync.request_timeout_seconds`, `sync.retry_max_seconds`),
/// applied live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    pub batch_size: i64,
    pub interval: Duration,
    pub request_timeout: Duration,
    pub retry_cap: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            interval: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            retry_cap: Duration::from_secs(300),
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
}
