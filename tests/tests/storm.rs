//! The boot storm: after an outage 200 sites come back at the same moment, each with its
//! backlog. The server admits a few batches at a time and asks the rest to come back
//! (503 with `Retry-After`) instead of holding every body in memory; the sites honour it
//! with full jitter. Every record arrives exactly once and the server's memory stays bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kendrix_tests::agent::checksum_of;
use kendrix_tests::storm::{batch_rows, peak_rss_kib, register_sites, rss_kib, run_site};
use kendrix_tests::{on_both_backends, Backend, ServerProcess, TestDb};

const SITES: usize = 200;
const BATCHES_PER_SITE: usize = 2;
const RECORDS_PER_BATCH: usize = 250;
/// Bytes of text in each record: a batch body is about 130 KB.
const PAD: usize = 400;
/// Batches the server reads and applies at once in this story.
const MAX_CONCURRENT_BATCHES: usize = 4;
/// What the storm may add to the server's resident set over its idle size. Admitted four at a
/// time, the bodies in memory are ~0.5 MB raw and a few MB parsed; the rest is fixed by the
/// number of sites, not their backlog: 200 connections with their buffers and tasks, 200
/// tokens issued, the allocator's retained pages and the database's caches (measured: +60 to
/// +66 MiB in a debug build). Without admission the 400 bodies (~52 MB) are read and parsed at
/// once: +160 MiB on PostgreSQL, +220 MiB on SQLite.
const STORM_HEADROOM_KIB: u64 = 100 * 1024;

async fn two_hundred_sites_return_at_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (tenant_id, sites) = register_sites(&db, SITES).await;
    let max_batches = MAX_CONCURRENT_BATCHES.to_string();
    let server = ServerProcess::start(
        &db.url,
        &[
            ("KENDRIX_SYNC__MAX_CONCURRENT_BATCHES", max_batches.as_str()),
            (
                "KENDRIX_RATE_LIMITS__TOKEN_PER_ADDRESS_PER_MINUTE",
                "100000",
            ),
            ("KENDRIX_RATE_LIMITS__TOKEN_PER_CLIENT_PER_MINUTE", "1000"),
            ("KENDRIX_RATE_LIMITS__API_PER_CLIENT_PER_MINUTE", "100000"),
        ],
    );
    let idle_kib = rss_kib(server.pid());

    // Every site is released at the same instant.
    let release = Arc::new(tokio::sync::Barrier::new(SITES));
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut tasks = Vec::with_capacity(SITES);
    for site in sites {
        let (base, release) = (server.url.clone(), release.clone());
        tasks.push(tokio::spawn(async move {
            release.wait().await;
            run_site(
                &base,
                &site,
                BATCHES_PER_SITE,
                RECORDS_PER_BATCH,
                PAD,
                deadline,
            )
            .await
        }));
    }
    let mut tallies = Vec::with_capacity(SITES);
    for task in tasks {
        tallies.push(task.await.expect("site task"));
    }
    let peak_kib = peak_rss_kib(server.pid());
    let shed: u64 = tallies.iter().map(|t| t.shed).sum();
    let shed_blind: u64 = tallies.iter().map(|t| t.shed_without_retry_after).sum();
    let total = (SITES * BATCHES_PER_SITE * RECORDS_PER_BATCH) as u64;
    eprintln!(
        "storm: {total} records from {SITES} sites, {shed} batches shed, peak RSS {} MiB (idle {} MiB)",
        peak_kib / 1024,
        idle_kib / 1024
    );

    // The server shed load, and said when to come back every time.
    assert!(
        shed > 0,
        "no batch was ever refused with 503: the server applied {SITES} sites' batches at once"
    );
    assert_eq!(shed_blind, 0, "a 503 without Retry-After");

    // Every record arrived exactly once: each applied once as the sites were told, once in
    // the server's batch statistics, and the server's copy equals the source.
    let told_applied: u64 = tallies.iter().map(|t| t.applied).sum();
    assert_eq!(
        told_applied, total,
        "records the sites were told were applied"
    );
    let store = db.store().await;
    let figures = store.batch_figures(tenant_id, 0).await.unwrap();
    let applied_batches = figures.iter().filter(|f| f.outcome == "applied").count();
    assert_eq!(applied_batches, SITES * BATCHES_PER_SITE, "batches applied");
    let stored_applied: i64 = figures.iter().map(|f| f.applied).sum();
    assert_eq!(
        stored_applied as u64, total,
        "records applied per the server"
    );
    let source = checksum_of((0..SITES).flat_map(|site| {
        (0..BATCHES_PER_SITE).flat_map(move |batch| {
            batch_rows(site, batch, RECORDS_PER_BATCH, PAD)
                .into_iter()
                .map(|row| (row["id"].as_str().unwrap().to_owned(), row))
        })
    }));
    let stored = store
        .records_page(tenant_id, "orders", "", 10_000_000)
        .await
        .unwrap();
    let server_side = checksum_of(stored.into_iter().map(|r| {
        let data = serde_json::from_str(r.data.as_deref().expect("an upsert's data")).unwrap();
        (r.record_id, data)
    }));
    assert_eq!(
        server_side, source,
        "server count and checksum vs the source"
    );

    // Memory stayed bounded.
    assert!(
        peak_kib < idle_kib + STORM_HEADROOM_KIB,
        "the server's peak RSS was {peak_kib} KiB, idle {idle_kib} KiB: more than {STORM_HEADROOM_KIB} KiB for the storm"
    );
}

on_both_backends!(two_hundred_sites_return_at_once);
