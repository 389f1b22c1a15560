//! Stories of the signed checkpoints of the audit chain: an auditor checks them with an
//! independent Ed25519 implementation (ring's, not the server's ed25519-dalek), and someone
//! who can write the database — but holds no signing key — is caught rewriting and
//! re-hashing history, cutting off the tail, or forging the retention checkpoint.
//! Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use kendrix_core::checkpoint::AuditSigningKey;
use kendrix_core::clock::ManualClock;
use kendrix_core::SystemClock;
use kendrix_server::RequestContext;
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::Value;

on_both_backends!(
    an_auditor_checks_every_checkpoint_with_an_independent_ed25519_implementation,
    history_rewritten_and_rehashed_is_caught_by_the_signed_checkpoint,
    a_cut_off_tail_is_caught_by_a_checkpoint_past_the_end,
    a_forged_retention_checkpoint_is_not_trusted_and_a_signed_one_is,
    a_rotated_key_keeps_old_checkpoints_verifiable,
);

const DAY: i64 = 86_400_000;

/// A key file holding `seeds` (the last signs), in a folder kept for the story.
fn key_file(seeds: &[[u8; 32]]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-keys");
    let text: String = seeds
        .iter()
        .map(|s| format!("{}\n", AuditSigningKey::seed_base64(*s)))
        .collect();
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

async fn signing_server(backend: Backend, seeds: &[[u8; 32]]) -> (TestServer, tempfile::TempDir) {
    let (dir, path) = key_file(seeds);
    let server = TestServer::start_with(
        backend,
        |s| s.audit_signing_key_file = Some(path),
        Arc::new(SystemClock),
    )
    .await;
    (server, dir)
}

/// Some history: a tenant, a site and a few grants, good and bad.
async fn some_history(server: &TestServer) -> kendrix_server::services::sites::Registration {
    let tenant = server.tenant("Acme").await;
    let site = server
        .register(tenant, "Site", "sync:write audit:read")
        .await;
    for secret in ["kxs_wrong", site.client_secret.as_str(), "kxs_wrong"] {
        server
            .token_request(
                &site.client_id,
                secret,
                &[("grant_type", "client_credentials")],
            )
            .await;
    }
    site
}

async fn an_auditor_checks_every_checkpoint_with_an_independent_ed25519_implementation(
    backend: Backend,
) {
    let (server, _keys) = signing_server(backend, &[[11; 32]]).await;
    let site = some_history(&server).await;
    let first = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    some_history_more(&server, &site).await;
    let second = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    assert!(second.seq > first.seq);
    assert!(
        server.app.audit_log.checkpoint().await.unwrap().is_none(),
        "an unchanged head is not signed twice"
    );

    // The public key needs no token; the checkpoints need audit:read.
    let keys: Value = server
        .get_public("/audit/public-key")
        .await
        .json()
        .await
        .unwrap();
    let token = server.access_token(&site).await;
    let listed: Value = server
        .get_as(&token, "/audit/checkpoints")
        .await
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["seq"], second.seq, "newest first");
    for checkpoint in listed {
        assert_eq!(checkpoint["key_id"], keys["key_id"]);
        let message = format!(
            "kendrix-audit-checkpoint:v1:{}:{}:{}",
            checkpoint["seq"],
            checkpoint["hash"].as_str().unwrap(),
            checkpoint["signed_at_ms"]
        );
        let public = B64.decode(keys["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(public.len(), 32, "a raw 32-byte key");
        let signature = B64
            .decode(checkpoint["signature"].as_str().unwrap())
            .unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
            .verify(message.as_bytes(), &signature)
            .expect("ring verifies the server's signature");
        // And a changed byte does not verify.
        let forged = message.replace(":v1:", ":v2:");
        assert!(
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
                .verify(forged.as_bytes(), &signature)
                .is_err()
        );
    }
    let verification = server.app.audit_log.verify().await.unwrap();
    assert!(verification.ok, "{:?}", verification.first_broken);
    assert_eq!(verification.checkpoints_checked, 2);
    assert_eq!(verification.signed_through, Some(second.seq));
}

async fn some_history_more(
    server: &TestServer,
    site: &kendrix_server::services::sites::Registration,
) {
    for _ in 0..3 {
        server.access_token(site).await;
    }
}

/// Rewrites entry `seq`'s details and computes every hash after it again, head included,
/// as someone with write access to the database (but not the signing key) would.
async fn rewrite_history(server: &TestServer, seq: i64, details: &str) {
    let mut entries = server.store.audit_entries(0, 10_000).await.unwrap();
    let mut prev = None::<String>;
    for entry in entries.iter_mut() {
        if entry.seq == seq {
            entry.details = details.to_owned();
        }
        if entry.seq >= seq {
            entry.prev_hash = prev.clone().unwrap_or_else(|| entry.prev_hash.clone());
            entry.hash = entry.computed_hash();
            server
                .db
                .execute(&format!(
                    "UPDATE audit_logs SET details = '{}', prev_hash = '{}', hash = '{}' WHERE id = {}",
                    entry.details.replace('\'', "''"),
                    entry.prev_hash,
                    entry.hash,
                    entry.seq
                ))
                .await;
        }
        prev = Some(entry.hash.clone());
    }
    server
        .db
        .execute(&format!(
            "UPDATE audit_chain SET head_hash = '{}' WHERE id = 1",
            prev.unwrap()
        ))
        .await;
}

async fn history_rewritten_and_rehashed_is_caught_by_the_signed_checkpoint(backend: Backend) {
    let (server, _keys) = signing_server(backend, &[[12; 32]]).await;
    let site = some_history(&server).await;
    let signed = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    some_history_more(&server, &site).await;
    rewrite_history(&server, 3, r#"{"note":"nothing happened here"}"#).await;
    let verification = server.app.audit_log.verify().await.unwrap();
    assert!(
        !verification.ok,
        "the re-hashed chain links up, but not to the signature"
    );
    let broken = verification.first_broken.unwrap();
    assert_eq!(broken.seq, signed.seq);
    assert!(
        broken.reason.contains("history was rewritten"),
        "{}",
        broken.reason
    );

    // Past the newest checkpoint, a rewrite is not caught until the next one: the chain
    // alone cannot tell (why checkpoints are signed often, and witnessed).
    let (server, _keys) = signing_server(backend, &[[12; 32]]).await;
    let site = some_history(&server).await;
    let signed = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    some_history_more(&server, &site).await;
    rewrite_history(&server, signed.seq + 1, r#"{"note":"later"}"#).await;
    assert!(server.app.audit_log.verify().await.unwrap().ok);
}

async fn a_cut_off_tail_is_caught_by_a_checkpoint_past_the_end(backend: Backend) {
    let (server, _keys) = signing_server(backend, &[[13; 32]]).await;
    let site = some_history(&server).await;
    some_history_more(&server, &site).await;
    let signed = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    // The last three entries go, and the head is set back to match: the chain alone links.
    let keep = signed.seq - 3;
    let (_, kept_hash) = {
        let entries = server.store.audit_entries(keep - 1, 1).await.unwrap();
        (entries[0].seq, entries[0].hash.clone())
    };
    server
        .db
        .execute(&format!("DELETE FROM audit_logs WHERE id > {keep}"))
        .await;
    server
        .db
        .execute(&format!(
            "UPDATE audit_chain SET seq = {keep}, head_hash = '{kept_hash}' WHERE id = 1"
        ))
        .await;
    let verification = server.app.audit_log.verify().await.unwrap();
    let broken = verification.first_broken.expect("caught");
    assert_eq!(broken.seq, keep + 1);
    assert!(
        broken.reason.contains("tail was cut off"),
        "{}",
        broken.reason
    );
}

async fn a_forged_retention_checkpoint_is_not_trusted_and_a_signed_one_is(backend: Backend) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let (dir, path) = key_file(&[[14; 32]]);
    let server = TestServer::start_with(
        backend,
        |s| s.audit_signing_key_file = Some(path),
        clock.clone(),
    )
    .await;
    let site = some_history(&server).await;
    let old = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    clock.advance(40 * DAY);
    some_history_more(&server, &site).await;
    server.app.audit_log.checkpoint().await.unwrap().unwrap();

    // Retention cuts at the signed checkpoint: the rest verifies, the cut vouched for.
    let ctx = RequestContext::cli();
    let deleted = server.app.audit_log.prune(&ctx, 30).await.unwrap();
    assert_eq!(deleted, old.seq as u64, "cut exactly at the old checkpoint");
    let verification = server.app.audit_log.verify().await.unwrap();
    assert!(verification.ok, "{:?}", verification.first_broken);
    assert!(verification.checkpoints_checked >= 2);

    // Someone deletes more of the chain and writes a retention checkpoint of their own.
    let entries = server.store.audit_entries(old.seq + 1, 1).await.unwrap();
    let (forged_seq, forged_hash) = (entries[0].seq, entries[0].hash.clone());
    server
        .db
        .execute(&format!("DELETE FROM audit_logs WHERE id <= {forged_seq}"))
        .await;
    server
        .db
        .execute(&format!(
            "UPDATE audit_chain SET pruned_seq = {forged_seq}, pruned_hash = '{forged_hash}' WHERE id = 1"
        ))
        .await;
    let broken = server
        .app
        .audit_log
        .verify()
        .await
        .unwrap()
        .first_broken
        .expect("caught");
    assert_eq!(broken.seq, forged_seq);
    assert!(
        broken.reason.contains("not vouched for"),
        "{}",
        broken.reason
    );
    drop(dir);
}

async fn a_rotated_key_keeps_old_checkpoints_verifiable(backend: Backend) {
    // After a rotation the key file holds the old key's line and, last, the new one's.
    let (server, _keys) = signing_server(backend, &[[15; 32], [16; 32]]).await;
    let site = some_history(&server).await;
    // A checkpoint the old key signed before the rotation.
    let old_key = AuditSigningKey::from_seed([15; 32]);
    let (seq, hash) = server.store.audit_head().await.unwrap();
    server
        .store
        .add_audit_checkpoint(&old_key.sign(seq, &hash, 1_800_000_000_000))
        .await
        .unwrap();
    some_history_more(&server, &site).await;
    let new = server.app.audit_log.checkpoint().await.unwrap().unwrap();
    assert_eq!(new.key_id, AuditSigningKey::from_seed([16; 32]).key_id());
    let published: Value = server
        .get_public("/audit/public-key")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(published["key_id"], new.key_id.as_str());
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        2,
        "earlier keys too"
    );
    let verification = server.app.audit_log.verify().await.unwrap();
    assert!(verification.ok, "{:?}", verification.first_broken);
    assert_eq!(verification.checkpoints_checked, 2);

    // A checkpoint signed by a key the server does not trust is named.
    let stranger = AuditSigningKey::from_seed([17; 32]);
    let (seq, hash) = server.store.audit_head().await.unwrap();
    server
        .store
        .add_audit_checkpoint(&stranger.sign(seq, &hash, 1_800_000_000_000))
        .await
        .unwrap();
    let broken = server
        .app
        .audit_log
        .verify()
        .await
        .unwrap()
        .first_broken
        .expect("caught");
    assert!(
        broken.reason.contains("not among the audit keys"),
        "{}",
        broken.reason
    );
}
