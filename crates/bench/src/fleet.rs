//! S11 and S12, the cost of a fleet: `GET /admin/sites` (its first page) with 10,000 sites
//! against 10, and
//! one anomaly detection pass over 10,000 sites with two weeks of history against 100.
//! The sites, their heartbeats, configuration reports and history are written set-based,
//! straight into the database (the hashes of the audit entries are placeholders: these
//! databases are measured, not verified).

use std::time::Instant;

use kendrix_core::{Clock, ScopeSet, SystemClock};
use kendrix_server::RequestContext;
use sqlx::Connection;

use crate::harness::{latencies_us, percentile, Bench};

const HOUR_MS: i64 = 3_600_000;
/// History: a batch and a token every 6 hours for 14 days, per site.
const HISTORY_EVERY_MS: i64 = 6 * HOUR_MS;
const HISTORY_MS: i64 = 14 * 24 * HOUR_MS;

/// Registers `sites` sites of the bench's tenant with heartbeats, what configuration they
/// run and (with `history`) two weeks of batches and tokens.
pub async fn fill(
    bench: &Bench,
    database_url: &str,
    sites: i64,
    history: bool,
) -> anyhow::Result<f64> {
    // Every site runs the current configuration (its ETag, as the bench's own site gets it).
    let http = reqwest::Client::new();
    let token = bench.token(&http).await?;
    let config = http
        .get(bench.url("/config"))
        .bearer_auth(&token)
        .send()
        .await?;
    let hash = config
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    anyhow::ensure!(hash.len() == 64, "GET /config gave no ETag");
    let started = Instant::now();
    let now = SystemClock.now_ms();
    let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
    let numbers = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {sites})"
    );
    let statements = [
        format!("{numbers} INSERT INTO oauth_clients (id, client_id, tenant_id, name, secret_hash, scopes, created_at) \
             SELECT 100000 + i, 'kxc_fleet_' || i, $1, 'Store ' || i, 'x', 'sync:write config:read', $2 FROM n"),
        format!("{numbers} INSERT INTO site_status (client_pk, tenant_id, received_at, agent_version, queue_depth, \
             oldest_pending_at, dead_letters, config_hash, interval_secs) \
             SELECT 100000 + i, $1, $3, '0.1.0', i % 7, CASE WHEN i % 7 = 0 THEN NULL ELSE $3 - 60000 END, 0, \
             '{hash}', 300 FROM n"),
        format!("{numbers} INSERT INTO config_reports (client_pk, config_hash, reported_at) \
             SELECT 100000 + i, '{hash}', $3 FROM n"),
    ];
    for sql in &statements {
        sqlx::query(sql)
            .bind(bench.tenant_id)
            .bind(now - HISTORY_MS - HOUR_MS)
            .bind(now - 60_000)
            .execute(&mut conn)
            .await?;
    }
    if history {
        let slots = HISTORY_MS / HISTORY_EVERY_MS;
        let grid = format!(
            "{numbers}, k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < {slots})"
        );
        let batches = format!("{grid} INSERT INTO sync_batches (batch_id, tenant_id, client_pk, idempotency_key, \
             received_at, records, applied, duplicate, stale, rejected, duration_us, outcome) \
             SELECT 'b' || i || '-' || j, $1, 100000 + i, NULL, $2 - j * {HISTORY_EVERY_MS} + i % 1000, \
             100, 100 - (i + j) % 3, 0, 0, (i + j) % 3, 1000, 'applied' FROM n, k");
        let tokens = format!("{grid} INSERT INTO audit_logs (id, at, tenant_id, client_id, request_id, source, \
             event, outcome, details, prev_hash, hash) \
             SELECT 1000000 + i * 100 + j, $2 - j * {HISTORY_EVERY_MS} + i % 1000, $1, 'kxc_fleet_' || i, 'bench', \
             '127.0.0.1', 'token.issued', 'success', '{{}}', 'p', 'h' FROM n, k");
        for sql in [batches, tokens] {
            sqlx::query(&sql)
                .bind(bench.tenant_id)
                .bind(now)
                .execute(&mut conn)
                .await?;
        }
        // The hourly counts the server keeps as it writes such rows (`site_hours`).
        let hours = [
            "INSERT INTO site_hours (client_id, hour, tokens_issued) \
             SELECT client_id, at / 3600000, COUNT(*) FROM audit_logs \
             WHERE event = 'token.issued' AND client_id LIKE 'kxc_fleet_%' \
             GROUP BY client_id, at / 3600000",
            "INSERT INTO site_hours (client_id, hour, rejected_records) \
             SELECT c.client_id, b.received_at / 3600000, SUM(b.rejected) \
             FROM sync_batches b JOIN oauth_clients c ON c.id = b.client_pk \
             WHERE b.rejected > 0 AND c.client_id LIKE 'kxc_fleet_%' \
             GROUP BY c.client_id, b.received_at / 3600000 \
             ON CONFLICT (client_id, hour) DO UPDATE SET rejected_records = excluded.rejected_records",
        ];
        for sql in hours {
            sqlx::query(sql).execute(&mut conn).await?;
        }
        sqlx::query("UPDATE audit_chain SET seq = (SELECT MAX(id) FROM audit_logs) WHERE id = 1")
            .execute(&mut conn)
            .await?;
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// p95 of `GET /admin/sites` (µs): the first page, as the admin console opens it, with an
/// admin credential of the bench's tenant, after the fleet's check ranked the sites (as the
/// server does after each detection pass; its time in ms is returned too). Also checks,
/// page by page, that every site is listed exactly once.
pub async fn admin_sites_p95(
    bench: &Bench,
    http: &reqwest::Client,
    sites: usize,
) -> anyhow::Result<(f64, f64, bool)> {
    let started = Instant::now();
    bench.app.sites.rank_fleet().await?;
    let rank_ms = started.elapsed().as_secs_f64() * 1000.0;
    let admin = bench
        .app
        .sites
        .register_client(
            &RequestContext::cli(),
            bench.tenant_id,
            "Bench admin",
            &"clients:admin".parse::<ScopeSet>()?,
        )
        .await?;
    let body: serde_json::Value = http
        .post(bench.url("/oauth/token"))
        .basic_auth(&admin.client_id, Some(&admin.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    // The fleet, plus the bench's own site, each once.
    let mut listed = std::collections::HashSet::new();
    let mut rows = 0;
    let mut after: Option<String> = None;
    loop {
        let mut request = http
            .get(bench.url("/admin/sites"))
            .bearer_auth(&token)
            .query(&[("limit", "500")]);
        if let Some(after) = &after {
            request = request.query(&[("after", after)]);
        }
        let page: serde_json::Value = request.send().await?.error_for_status()?.json().await?;
        for site in page["sites"].as_array().into_iter().flatten() {
            listed.insert(site["client_id"].as_str().unwrap_or_default().to_owned());
            rows += 1;
        }
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let complete = listed.len() == sites + 1 && rows == sites + 1;
    let url = bench.url("/admin/sites");
    // Enough samples that the p95 is not the second-slowest of a handful.
    let (samples, failed) = latencies_us(http, 200, |h| h.get(&url).bearer_auth(&token)).await?;
    Ok((percentile(&samples, 0.95), rank_ms, complete && failed == 0))
}

/// One detection pass: its time (ms, the median of three) and the sites it read; and the
/// peak memory the passes added (MiB, from VmHWM reset before them).
pub async fn detection_pass(bench: &Bench) -> anyhow::Result<(f64, usize, f64)> {
    let before = reset_peak_rss_kb();
    let mut times = Vec::new();
    let mut sites = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let report = bench.app.anomalies.pass(false).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        sites = report.sites;
    }
    let peak = peak_rss_kb();
    times.sort_by(f64::total_cmp);
    Ok((times[1], sites, peak.saturating_sub(before) as f64 / 1024.0))
}

/// Resets the process's peak RSS to its current RSS (Linux: `clear_refs` 5); returns it.
fn reset_peak_rss_kb() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kb("VmRSS:")
}

fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
