//! Enrolling never puts the secret at risk: no `http://` to another machine (refused before
//! any request), one spelling of the server however it was pasted (a trailing slash used to
//! lose the secret at the next start), and an agent enrolled that way before keeps working.
//! The real OS keychain (run inside scripts/with-session.sh).

use std::net::{IpAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use kendrix_core::clock::ManualClock;
use kendrix_core::enrollment::{Enrollment, EnrollmentError};
use kendrix_engine::{Engine, EngineError, Keychain};
use rand::RngCore;

/// Nothing listens there: enrollments are kept unverified, as they are while offline.
const SERVER: &str = "http://127.0.0.1:9";

fn client_id(role: &str) -> String {
    format!("kxc_{role}_{:016x}", rand::thread_rng().next_u64())
}

fn enrollment(server: &str, client_id: &str) -> Enrollment {
    Enrollment {
        server: server.into(),
        client_id: client_id.into(),
        client_secret: format!("kxs_{client_id}"),
    }
}

async fn open(dir: &std::path::Path) -> Arc<Engine> {
    Engine::open(dir, Arc::new(ManualClock::new(1_764_590_000_000)))
        .await
        .unwrap()
}

/// An address of this machine that is not loopback (the one it would reach the internet
/// from; a UDP "connect" sends nothing), if it has one.
fn non_loopback_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn http_to_another_machine_is_refused_before_any_request_and_nothing_is_kept() {
    let Some(ip) = non_loopback_address() else {
        eprintln!("skipped: this machine has no address but loopback");
        return;
    };
    // A listener on that address counts whether anything connects.
    let listener = TcpListener::bind((ip, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let site = client_id("site");

    let refused = engine
        .enroll(&enrollment(&server, &site))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            EngineError::BadEnrollment(EnrollmentError::InsecureServer(_))
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("use the server's https:// address"),
        "{refused}"
    );
    let admin = engine
        .admin_enroll(&enrollment(&server, &site))
        .await
        .unwrap_err();
    assert!(
        matches!(
            admin,
            EngineError::BadEnrollment(EnrollmentError::InsecureServer(_))
        ),
        "{admin:?}"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(listener.accept().is_err(), "no request reached the server");
    assert_eq!(engine.status().await.unwrap().enrolled, None);
    assert_eq!(engine.admin_identity().await.unwrap(), None);
    for keychain in [
        Keychain::for_client(&server, &site),
        Keychain::for_admin(&server, &site),
    ] {
        assert_eq!(keychain.secret().await.unwrap(), None, "no secret kept");
    }
}

#[tokio::test]
async fn a_server_pasted_with_a_trailing_slash_keeps_its_secret_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let site = client_id("site");
    {
        let engine = open(dir.path()).await;
        let report = engine
            .enroll(&enrollment(&format!("{SERVER}/"), &site))
            .await
            .unwrap();
        assert_eq!(report.server, SERVER);
    }
    // The next start: the enrollment it finds names a server whose keychain entry holds
    // the secret.
    let engine = open(dir.path()).await;
    let enrolled = engine.status().await.unwrap().enrolled.expect("enrolled");
    assert_eq!(enrolled.server, SERVER);
    assert_eq!(
        Keychain::for_client(&enrolled.server, &site)
            .secret()
            .await
            .unwrap(),
        Some(format!("kxs_{site}")),
        "the secret is found where the enrollment says"
    );
    Keychain::for_client(SERVER, &site)
        .forget_all()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_agent_enrolled_with_a_trailing_slash_before_the_fix_finds_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let site = client_id("site");
    open(dir.path())
        .await
        .enroll(&enrollment(SERVER, &site))
        .await
        .unwrap();
    // What such an agent left: the secret under the trailing-slash name only.
    let old_name = |item: &str| {
        keyring::Entry::new("kendrix-sync", &format!("{site}@{SERVER}/#{item}")).unwrap()
    };
    Keychain::for_client(SERVER, &site)
        .forget_all()
        .await
        .unwrap();
    old_name("secret")
        .set_password(&format!("kxs_{site}"))
        .unwrap();

    let keychain = Keychain::for_client(SERVER, &site);
    assert_eq!(
        keychain.secret().await.unwrap(),
        Some(format!("kxs_{site}"))
    );
    assert!(
        matches!(
            old_name("secret").get_password(),
            Err(keyring::Error::NoEntry)
        ),
        "moved to the one name, not copied"
    );
    assert_eq!(
        keychain.secret().await.unwrap(),
        Some(format!("kxs_{site}"))
    );
    keychain.forget_all().await.unwrap();
    assert_eq!(keychain.secret().await.unwrap(), None);
}
