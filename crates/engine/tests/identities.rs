//! The agent keeps two identities apart: the site's enrollment (which syncs) and an optional
//! admin credential (which reads the admin API). Each has its own keychain entries and its
//! own record; enrolling, re-enrolling or signing out one never touches the other, nor the
//! outbox. The real OS keychain (run inside scripts/with-session.sh); the server is a port
//! nobody listens on, so enrollments are kept unverified, as they are while offline.

mod common;
use common::orders;

use std::collections::HashSet;
use std::sync::Arc;

use kendrix_core::clock::ManualClock;
use kendrix_core::enrollment::Enrollment;
use kendrix_core::sync::{BatchResponse, RecordResult, RecordStatus, StatusCounts};
use kendrix_engine::{Engine, EngineError, Keychain};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Nothing listens there: every request is refused at once (the server is "offline").
const SERVER: &str = "http://127.0.0.1:9";

/// A client id of this test run, so parallel tests sharing the keychain never meet.
fn client_id(role: &str) -> String {
    format!("kxc_{role}_{:016x}", rand::thread_rng().next_u64())
}

fn enrollment(client_id: &str, secret: &str) -> Enrollment {
    Enrollment {
        server: SERVER.into(),
        client_id: client_id.into(),
        client_secret: secret.into(),
    }
}

async fn open(dir: &std::path::Path) -> Arc<Engine> {
    Engine::open(dir, Arc::new(ManualClock::new(1_764_590_000_000)))
        .await
        .unwrap()
}

async fn site_secret(client_id: &str) -> Option<String> {
    Keychain::for_client(SERVER, client_id)
        .secret()
        .await
        .unwrap()
}

async fn admin_secret(client_id: &str) -> Option<String> {
    Keychain::for_admin(SERVER, client_id)
        .secret()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_admin_credential_is_kept_apart_from_the_site_and_signing_it_out_leaves_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let site = client_id("site");
    let admin = client_id("admin");
    let enrolled = engine.enroll(&enrollment(&site, "kxs_site")).await.unwrap();
    assert!(!enrolled.verified, "nobody answers at {SERVER}");
    engine.enqueue(&orders(0, 3)).await.unwrap();
    assert!(matches!(
        engine.admin_sites().await.unwrap_err(),
        EngineError::NoAdmin
    ));

    let report = engine
        .admin_enroll(&enrollment(&admin, "kxs_admin"))
        .await
        .unwrap();
    assert_eq!(report.client_id, admin);
    assert_eq!(report.sites, None, "not checked while the server is away");
    assert!(report.note.is_some());
    let identity = engine.admin_identity().await.unwrap().unwrap();
    assert_eq!(
        (identity.server.as_str(), identity.client_id.as_str()),
        (SERVER, admin.as_str())
    );
    assert_eq!(admin_secret(&admin).await.as_deref(), Some("kxs_admin"));
    // The site is as it was.
    let status = engine.status().await.unwrap();
    assert_eq!(status.enrolled.unwrap().client_id, site);
    assert_eq!(status.queue_depth, 3);
    assert_eq!(site_secret(&site).await.as_deref(), Some("kxs_site"));
    assert_eq!(
        site_secret(&admin).await,
        None,
        "the admin secret is not in the site's entries"
    );

    // Another process sees the admin identity (it is in the agent state).
    let other = open(dir.path()).await;
    assert_eq!(
        other.admin_identity().await.unwrap().unwrap().client_id,
        admin
    );
    drop(other);

    // The same client as both: still two sets of entries, and the previous admin's go.
    engine
        .admin_enroll(&enrollment(&site, "kxs_site_as_admin"))
        .await
        .unwrap();
    assert_eq!(
        admin_secret(&admin).await,
        None,
        "the previous admin is forgotten"
    );
    assert_eq!(
        admin_secret(&site).await.as_deref(),
        Some("kxs_site_as_admin")
    );
    assert_eq!(site_secret(&site).await.as_deref(), Some("kxs_site"));

    let signed_out = engine.admin_sign_out().await.unwrap().unwrap();
    assert_eq!(signed_out.client_id, site);
    assert_eq!(engine.admin_identity().await.unwrap(), None);
    assert_eq!(admin_secret(&site).await, None);
    assert!(matches!(
        engine.admin_sites().await.unwrap_err(),
        EngineError::NoAdmin
    ));
    assert_eq!(
        site_secret(&site).await.as_deref(),
        Some("kxs_site"),
        "signing out the admin leaves the site's secret"
    );
    let status = engine.status().await.unwrap();
    assert_eq!(status.enrolled.unwrap().client_id, site);
    assert_eq!(status.queue_depth, 3);
    assert_eq!(
        engine.admin_sign_out().await.unwrap(),
        None,
        "signing out twice is harmless"
    );
    let reopened = open(dir.path()).await;
    assert_eq!(reopened.admin_identity().await.unwrap(), None);

    Keychain::for_client(SERVER, &site)
        .forget_all()
        .await
        .unwrap();
}

#[tokio::test]
async fn enrolling_the_site_anew_forgets_the_old_site_and_leaves_the_admin() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let admin = client_id("admin");
    let (old, new) = (client_id("site"), client_id("site"));
    engine
        .admin_enroll(&enrollment(&admin, "kxs_admin"))
        .await
        .unwrap();
    engine.enroll(&enrollment(&old, "kxs_old")).await.unwrap();
    assert_eq!(admin_secret(&admin).await.as_deref(), Some("kxs_admin"));

    engine.enroll(&enrollment(&new, "kxs_new")).await.unwrap();
    assert_eq!(
        site_secret(&old).await,
        None,
        "the old site's secret is forgotten"
    );
    assert_eq!(site_secret(&new).await.as_deref(), Some("kxs_new"));
    assert_eq!(
        admin_secret(&admin).await.as_deref(),
        Some("kxs_admin"),
        "the admin's secret stays"
    );
    assert_eq!(
        engine.admin_identity().await.unwrap().unwrap().client_id,
        admin
    );

    engine.admin_sign_out().await.unwrap();
    Keychain::for_client(SERVER, &new)
        .forget_all()
        .await
        .unwrap();
}

/// Secret rotation: the same client enrolled with a new secret keeps everything queued,
/// the batches on their way and the dead letters.
#[tokio::test]
async fn a_new_secret_for_the_same_client_keeps_the_queue_and_the_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let site = client_id("site");
    engine
        .enroll(&enrollment(&site, "kxs_first"))
        .await
        .unwrap();
    engine.enqueue(&orders(0, 10)).await.unwrap();
    let store = engine.store();
    let mut rng = StdRng::seed_from_u64(3);
    // One record refused by the server (a dead letter), one applied, two on their way.
    let answered = store
        .next_batch(&HashSet::new(), 2, None, 0, &mut rng)
        .await
        .unwrap()
        .unwrap();
    let result = |id: &str, status| RecordResult {
        entity: "orders".into(),
        id: id.into(),
        status,
        version: "v".into(),
        reason: Some("refused".into()),
    };
    let response = BatchResponse {
        batch_id: "b".into(),
        results: vec![
            result("o0000", RecordStatus::Applied),
            result("o0001", RecordStatus::Rejected),
        ],
        counts: StatusCounts::default(),
    };
    store.batch_answered(&answered, &response, 0).await.unwrap();
    let on_its_way = store
        .next_batch(&HashSet::new(), 2, None, 0, &mut rng)
        .await
        .unwrap()
        .unwrap();
    let before = engine.status().await.unwrap();
    assert_eq!((before.queue_depth, before.dead_letters), (8, 1));

    let report = engine
        .enroll(&enrollment(&site, "kxs_second"))
        .await
        .unwrap();
    assert_eq!(report.client_id, site);
    let after = engine.status().await.unwrap();
    assert_eq!((after.queue_depth, after.dead_letters), (8, 1));
    assert_eq!(site_secret(&site).await.as_deref(), Some("kxs_second"));
    let again = store
        .next_batch(&HashSet::new(), 2, None, 0, &mut rng)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.idempotency_key, again.body),
        (on_its_way.idempotency_key, on_its_way.body),
        "the batch on its way goes out unchanged"
    );
    assert_eq!(engine.dead_letters().await.unwrap()[0].record_id, "o0001");

    Keychain::for_client(SERVER, &site)
        .forget_all()
        .await
        .unwrap();
}
