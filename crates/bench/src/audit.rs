//! S6: a filtered audit query at depth 990k of a 1M-event log, against the first page.

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sqlx::Connection;

use crate::harness::{latencies_us, percentile, Bench, Outcome};

pub const EVENTS: i64 = 1_000_000;
const SAMPLES: usize = 60;

/// Fills the audit log with `EVENTS` entries in one set-based statement (every tenth a
/// failed login of one client). The hashes are placeholders: this database is measured,
/// not verified.
pub async fn fill(database_url: &str, tenant_id: i64, client_id: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let insert = "INSERT INTO audit_logs (id, at, tenant_id, client_id, request_id, source, event, outcome, details, prev_hash, hash) \
         SELECT i + 1000, 1700000000000 + i, $1, $2, 'bench', '127.0.0.1', \
         CASE WHEN i % 10 = 0 THEN 'auth.client.failure' ELSE 'token.issued' END, \
         CASE WHEN i % 10 = 0 THEN 'failure' ELSE 'success' END, \
         '{\"reason\":\"bench\"}', 'p', 'h' FROM ";
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        let sql = format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {EVENTS}) {insert} n");
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(client_id)
            .execute(&mut conn)
            .await?;
        sqlx::query("UPDATE audit_chain SET seq = (SELECT MAX(id) FROM audit_logs) WHERE id = 1")
            .execute(&mut conn)
            .await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await?;
        let sql = format!("{insert} generate_series(1::bigint, {EVENTS}::bigint) AS g(i)");
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(client_id)
            .execute(&mut conn)
            .await?;
        sqlx::query("UPDATE audit_chain SET seq = (SELECT MAX(id) FROM audit_logs) WHERE id = 1")
            .execute(&mut conn)
            .await?;
        sqlx::query("ANALYZE audit_logs").execute(&mut conn).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// p95 latencies of the first page and of the page at depth 990k, same filter.
pub async fn measure(
    scenario: &'static str,
    bench: &Bench,
    http: &reqwest::Client,
) -> anyhow::Result<Outcome> {
    let token = {
        let body: serde_json::Value = http
            .post(bench.url("/oauth/token"))
            .basic_auth(&bench.site.client_id, Some(&bench.site.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "audit:read"),
            ])
            .send()
            .await?
            .json()
            .await?;
        body["access_token"].as_str().unwrap_or_default().to_owned()
    };
    let filter = format!(
        "event=auth.client.failure&client_id={}&limit=100",
        bench.site.client_id
    );
    let first_url = bench.url(&format!("/audit/logs?{filter}"));
    let (head_seq, _) = bench.store.audit_head().await?;
    let cursor = URL_SAFE_NO_PAD.encode(format!("seq:{}", head_seq - 990_000));
    let deep_url = bench.url(&format!("/audit/logs?{filter}&cursor={cursor}"));
    // Warm both paths once, then sample.
    for url in [&first_url, &deep_url] {
        let page: serde_json::Value = http
            .get(url.as_str())
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(
            page["entries"].as_array().map_or(0, Vec::len) == 100,
            "a page of 100 entries"
        );
    }
    let (first, f1) =
        latencies_us(http, SAMPLES, |h| h.get(&first_url).bearer_auth(&token)).await?;
    let (deep, f2) = latencies_us(http, SAMPLES, |h| h.get(&deep_url).bearer_auth(&token)).await?;
    let (first, deep) = (percentile(&first, 0.95), percentile(&deep, 0.95));
    let ratio = deep / first;
    Ok(Outcome {
        scenario,
        description: "filtered audit page at depth 990k of 1M events vs the first page (p95)",
        value: deep,
        unit: "us",
        baseline: first,
        ratio,
        target: "<=2",
        pass: f1 + f2 == 0 && ratio <= 2.0,
        correct: f1 + f2 == 0,
        note: format!("{} events", EVENTS),
    })
}
