//! Stories about reaching PostgreSQL over TLS: a server told `sslmode=require` migrates and
//! writes over an encrypted connection, and one told to verify the certificate against the
//! wrong CA refuses to start, saying why. PostgreSQL only (SQLite has no connection); Debian's
//! PostgreSQL has SSL on with its snakeoil certificate (CN and SAN `localhost`).

use std::process::Command;
use std::sync::Arc;

use kendrix_core::{ScopeSet, SystemClock};
use kendrix_server::{App, RequestContext};
use kendrix_tests::{binary, server_cli, test_settings, Backend, TestDb};
use sqlx::{Connection, Row};

/// The Debian snakeoil certificate PostgreSQL serves: self-signed, so it is its own CA.
const SNAKEOIL_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
/// Public CAs, none of which signed the snakeoil certificate: a wrong CA.
const PUBLIC_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `url` with `params` added to its query string.
fn with_params(url: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(url).expect("database url");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// Whether the connection behind `url` is encrypted, as PostgreSQL itself reports it.
async fn connection_is_encrypted(url: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect for pg_stat_ssl");
    sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .expect("pg_stat_ssl")
        .get::<bool, _>(0)
}

async fn ensure_postgres_has_ssl(url: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut conn)
        .await
        .expect("show ssl");
    assert_eq!(
        ssl, "on",
        "these stories need PostgreSQL with ssl = on (Debian's default, with its snakeoil certificate)"
    );
}

#[tokio::test]
async fn a_server_told_sslmode_require_migrates_and_writes_over_tls() {
    let db = TestDb::new(Backend::Postgres).await;
    ensure_postgres_has_ssl(&db.url).await;
    let url = with_params(&db.url, &[("sslmode", "require")]);

    // The store opens (and migrates) over TLS, and a registration — a write with its audit
    // entry — goes through it.
    let store = kendrix_store::connect(&url, 2)
        .await
        .unwrap_or_else(|e| panic!("the store did not open with sslmode=require: {e}"));
    let app = App::new(store, test_settings(&url), Arc::new(SystemClock));
    let ctx = RequestContext::cli();
    let tenant = app.sites.create_tenant(&ctx, "Over TLS").await.unwrap();
    let scopes: ScopeSet = "sync:write".parse().unwrap();
    let site = app
        .sites
        .register_client(&ctx, tenant.id, "Store 1", &scopes)
        .await
        .expect("a write over TLS");
    assert!(site.client_id.starts_with("kxc_"));
    assert!(
        connection_is_encrypted(&url).await,
        "pg_stat_ssl says clear text"
    );

    // The real binary, as an operator runs it, reads what was written.
    let tenants = server_cli(&url, &["tenant", "list", "--json"]);
    assert!(tenants.contains("Over TLS"), "{tenants}");
}

#[tokio::test]
async fn a_server_verifying_the_certificate_trusts_only_the_ca_it_is_given() {
    let db = TestDb::new(Backend::Postgres).await;
    ensure_postgres_has_ssl(&db.url).await;
    let mut on_localhost = url::Url::parse(&db.url).unwrap();
    on_localhost.set_host(Some("localhost")).unwrap();

    // The right CA: the certificate is checked, host name and all, and the server migrates.
    let trusted = with_params(
        on_localhost.as_str(),
        &[("sslmode", "verify-full"), ("sslrootcert", SNAKEOIL_CERT)],
    );
    server_cli(&trusted, &["migrate"]);

    // The wrong CA: `migrate` fails before touching the database, and says it is the
    // certificate, not the password or the network.
    let wrong = with_params(
        on_localhost.as_str(),
        &[("sslmode", "verify-full"), ("sslrootcert", PUBLIC_CAS)],
    );
    let output = Command::new(binary("kendrix-server"))
        .arg("migrate")
        .env("KENDRIX_DATABASE_URL", &wrong)
        .output()
        .expect("run kendrix-server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "connected with a wrong CA");
    assert!(
        stderr.contains("certificate"),
        "the refusal should name the certificate: {stderr}"
    );
}
