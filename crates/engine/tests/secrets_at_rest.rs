//! The agent's folder keeps no secret and is its owner's alone: a configuration cached by an
//! older agent (revealed secret values and all) is cut down to the settings the engine reads
//! when the agent opens, its bytes gone from the database and its WAL; the folder is 0700
//! and the database files 0600.

use std::path::Path;
use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_engine::{Engine, FetchedConfig, LocalStore};

const SECRET: &str = "S3cret-db-password-0123456789";

fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_cached_configuration_loses_its_secret_values_when_the_agent_opens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agent");
    std::fs::create_dir_all(&data).unwrap();
    {
        // What an older agent left after fetching a configuration with a revealed secret.
        let store = LocalStore::open(&data.join("agent.db")).await.unwrap();
        store
            .update_state(|s| {
                s.config = Some(FetchedConfig {
                    etag: "c0ffee".into(),
                    version: "1.4".into(),
                    body: format!(r#"{{"db.password":"{SECRET}","sync.batch_size":250}}"#),
                })
            })
            .await
            .unwrap();
    }
    assert!(!files_holding(&data, SECRET.as_bytes()).is_empty());

    let engine = Engine::open(&data, Arc::new(ManualClock::new(1_764_590_000_000)))
        .await
        .unwrap();
    assert_eq!(
        engine.settings().batch_size,
        250,
        "the settings still apply"
    );
    let config = engine.store().agent_state().await.unwrap().config.unwrap();
    assert_eq!(
        (config.etag.as_str(), config.version.as_str()),
        ("c0ffee", "1.4")
    );
    assert_eq!(
        files_holding(&data, SECRET.as_bytes()),
        Vec::<String>::new(),
        "no file of the agent holds the secret's bytes"
    );

    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700, "the agent's folder");
        for file in ["agent.db", "agent.db-wal", "agent.db-shm"] {
            let path = data.join(file);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{file}");
            }
        }
        assert!(
            data.join("agent.db-wal").exists(),
            "WAL mode: the -wal is checked too"
        );
    }
}
