//! Server settings: one typed struct, from built-in defaults, then an optional TOML file, then
//! `KENDRIX_*` environment variables (nested fields with `__`, e.g.
//! `KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE=600`). A misspelt key in the file is an
//! error; environment variables that name no setting are ignored.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://FILE` (default `sqlite://kendrix.db`) or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Connections in the read pool (SQLite) or the pool (PostgreSQL).
    pub max_connections: u32,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The URL clients reach this server at; the OAuth issuer and the enrollment string use it.
    /// Defaults to `http://<bind>`.
    pub public_url: Option<String>,
    /// Lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// Issue refresh tokens with client-credentials grants (RFC 6749 §4.4.3 advises against
    /// it, so it is off by default). When on, each use rotates the token and a reused one
    /// revokes its whole family.
    pub refresh_tokens: bool,
    pub refresh_token_ttl_secs: u64,
    /// Largest accepted body at the OAuth endpoints, checked before parsing.
    pub max_form_bytes: usize,
    pub rate_limits: RateLimits,
    pub sync: SyncSettings,
    /// File of master keys for secret configuration values: one base64 32-byte key a line,
    /// the first seals new values, all open old ones. `KENDRIX_MASTER_KEY` (one key) comes
    /// before the file's keys. Never stored in the database.
    pub master_key_file: Option<std::path::PathBuf>,
    /// Days audit entries are kept; older ones are pruned in the background, leaving a
    /// checkpoint so the rest of the chain still verifies. None keeps everything.
    pub audit_retention_days: Option<u32>,
    /// File of audit signing keys (Ed25519): one base64 32-byte seed a line, the last signs,
    /// all are trusted (`kendrix-server audit keygen` makes one). `KENDRIX_AUDIT_SIGNING_KEY`
    /// (one key) comes after the file's and so signs. Never stored in the database. With
    /// no key, no checkpoints are signed.
    pub audit_signing_key_file: Option<std::path::PathBuf>,
    /// Minutes between signed checkpoints of the audit chain (when a key is set).
    pub audit_checkpoint_minutes: u32,
    /// The shortest time a site may keep running an earlier configuration after a new one
    /// is published before a `config_drift` alert opens (three of its sync intervals when
    /// longer).
    pub config_drift_grace_minutes: u32,
    /// Refuse configuration changes (set, unset, rollback; dry runs too) that carry no
    /// comment saying why, through the API and the command line alike.
    pub require_config_comment: bool,
    /// Reverse proxies in front of this server (addresses or CIDR networks, e.g.
    /// `["127.0.0.1", "10.0.0.0/8"]`; in the environment also `127.0.0.1,10.0.0.0/8`). A
    /// request whose socket peer is one of them is taken to come from the client the proxy
    /// names in `Forwarded` / `X-Forwarded-For`; from any other peer those headers are
    /// ignored. Empty (the default): every request comes from its socket peer.
    #[serde(with = "proxy_networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Log filter in `tracing` syntax, e.g. `info` or `kendrix_server=debug,info`.
    pub log: String,
    /// Log format: `text` or `json`.
    pub log_format: String,
}

/// Limits and retention of `POST /sync/batches`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// Most records in one batch.
    pub max_batch_records: usize,
    /// Largest batch body, checked before parsing.
    pub max_batch_bytes: usize,
    /// Largest `data` object of one record (compact JSON).
    pub max_record_data_bytes: usize,
    /// Deepest nesting inside one record's `data`.
    pub max_record_data_depth: usize,
    /// How long a batch's response is kept for replays under its Idempotency-Key
    /// (advertised in the `Idempotency-Key-Retention` response header).
    pub idempotency_retention_secs: i64,
    /// How long an in-flight claim blocks the same key before it counts as abandoned
    /// (its server died mid-batch) and a retry may take over.
    pub idempotency_lease_secs: i64,
    /// Most batches read and applied at once by this instance; a batch beyond them is
    /// answered 503 with `Retry-After` (admission control: a boot storm of returning sites
    /// sheds load instead of queueing bodies in memory).
    pub max_concurrent_batches: usize,
    /// How long a batch may wait for a free slot before it is refused, in milliseconds.
    pub batch_admission_wait_ms: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            max_batch_records: 5000,
            max_batch_bytes: 16 * 1024 * 1024,
            max_record_data_bytes: 64 * 1024,
            max_record_data_depth: 32,
            idempotency_retention_secs: 24 * 3600,
            idempotency_lease_secs: 30,
            max_concurrent_batches: 8,
            batch_admission_wait_ms: 25,
        }
    }
}

/// Fixed-window limits, counted in the database so they hold across instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub token_per_client_per_minute: i64,
    pub token_per_address_per_minute: i64,
    pub api_per_client_per_minute: i64,
    /// Whole-chain audit verifications (`GET /audit/verify`) one client may ask for a minute
    /// (each instance also runs at most two at once).
    pub verify_per_client_per_minute: i64,
    /// After this many failed logins from one address in the name of one client within
    /// `failed_auth_window_secs`, that address gets 429 for that client until the window
    /// ends, even with the right secret (which is then not even compared). The same client
    /// from any other address is not affected.
    pub failed_auth_max: i64,
    /// After this many failed authentications from one address, whatever client they name,
    /// that address gets 429 — except for clients that logged in from it in the last 12–24
    /// hours, which are only slowed down (so a machine behind the same NAT or proxy cannot
    /// lock out its neighbours).
    pub failed_auth_max_per_address: i64,
    pub failed_auth_window_secs: i64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            token_per_client_per_minute: 60,
            token_per_address_per_minute: 600,
            api_per_client_per_minute: 1200,
            verify_per_client_per_minute: 6,
            failed_auth_max: 10,
            failed_auth_max_per_address: 50,
            failed_auth_window_secs: 900,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://kendrix.db".into(),
            max_connections: 8,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            access_token_ttl_secs: 3600,
            refresh_tokens: false,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            max_form_bytes: 8 * 1024,
            rate_limits: RateLimits::default(),
            sync: SyncSettings::default(),
            master_key_file: None,
            audit_retention_days: None,
            audit_signing_key_file: None,
            audit_checkpoint_minutes: 60,
            config_drift_grace_minutes: 30,
            require_config_comment: false,
            trusted_proxies: Vec::new(),
            log: "info".into(),
            log_format: "text".into(),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &kendrix_store::redact_url(&self.database_url),
            )
            .field("max_connections", &self.max_connections)
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_tokens", &self.refresh_tokens)
            .field("rate_limits", &self.rate_limits)
            .field("sync", &self.sync)
            .field("require_config_comment", &self.require_config_comment)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Defaults, then `file` if given (it must exist), then `KENDRIX_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "settings file {} does not exist",
                    file.display()
                ))));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Only variables naming a setting: other KENDRIX_* variables belong to other tools
        // (the agent, the tests) and must not stop the server.
        let known: Vec<String> = serde_json::to_value(Settings::default())
            .ok()
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default();
        let env = Env::prefixed("KENDRIX_").split("__").filter(move |key| {
            let key = key.as_str().to_ascii_lowercase();
            known.iter().any(|k| {
                key.strip_prefix(k.as_str()).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with("__") || rest.starts_with('.')
                })
            })
        });
        figment.merge(env).extract().map_err(Box::new)
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }
}

/// `trusted_proxies` as written: a list, or one comma-separated string; each entry an address
/// (one host) or a CIDR network.
mod proxy_networks {
    use ipnet::IpNet;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        List(Vec<String>),
        Text(String),
    }

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        let entries = match Written::deserialize(d)? {
            Written::List(list) => list,
            Written::Text(text) => text.split(',').map(str::to_owned).collect(),
        };
        entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        D::Error::custom(format!(
                            "trusted_proxies: {entry:?} is neither an IP address nor a network such as 10.0.0.0/8"
                        ))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error by value
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_unrelated_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KENDRIX_BIND", "127.0.0.1:9999");
            jail.set_env("KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE", "7");
            jail.set_env("KENDRIX_TEST_PG_URL", "postgres://elsewhere");
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(settings.bind.port(), 9999);
            assert_eq!(settings.rate_limits.api_per_client_per_minute, 7);
            Ok(())
        });
    }

    #[test]
    fn config_comments_are_optional_unless_the_file_or_the_environment_requires_them() {
        figment::Jail::expect_with(|jail| {
            let required = |file: Option<&str>| {
                Settings::load(file.map(Path::new)).map(|s| s.require_config_comment)
            };
            assert!(!required(None).map_err(|e| *e)?);
            jail.create_file("k.toml", "require_config_comment = true")?;
            assert!(required(Some("k.toml")).map_err(|e| *e)?);
            jail.set_env("KENDRIX_REQUIRE_CONFIG_COMMENT", "false");
            assert!(
                !required(Some("k.toml")).map_err(|e| *e)?,
                "the environment comes after the file"
            );
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks_and_name_a_bad_entry() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("k.toml", r#"trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]"#)?;
            let nets = Settings::load(Some(Path::new("k.toml")))
                .map_err(|e| *e)?
                .trusted_proxies;
            assert_eq!(nets.len(), 2);
            assert!(nets[0].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
            assert!(!nets[0].contains(&"127.0.0.2".parse::<std::net::IpAddr>().unwrap()));
            jail.set_env("KENDRIX_TRUSTED_PROXIES", "::1, 192.168.0.0/16");
            let nets = Settings::load(None).map_err(|e| *e)?.trusted_proxies;
            assert_eq!(nets.len(), 2);
            jail.set_env("KENDRIX_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("proxy.local"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_key_in_the_file_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("k.toml", "databse_url = \"sqlite://x.db\"")?;
            let err = Settings::load(Some(Path::new("k.toml"))).unwrap_err();
            assert!(err.to_string().contains("databse_url"));
            Ok(())
        });
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let settings = Settings {
            database_url: "postgres://app:hunter2@db/kendrix".into(),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
