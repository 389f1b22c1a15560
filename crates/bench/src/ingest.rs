//! Ingest scenarios: S1 (SQLite) and S7 (PostgreSQL) end-to-end batch ingest against a raw
//! insert of the same rows, S2 versioned upserts with stale and duplicate records, S3
//! idempotent replay latency.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use kendrix_core::sync::{Record, StatusCounts};
use serde_json::{json, Value};

use crate::harness::Bench;

/// Batches in flight at once from the load client.
const IN_FLIGHT: usize = 4;
pub const BATCH: usize = 1000;

#[derive(serde::Deserialize)]
struct Counted {
    counts: StatusCounts,
}

/// One generated record: its id, version and data.
#[derive(Clone)]
pub struct Row {
    pub id: String,
    pub version: String,
    pub data: Value,
}

/// `count` records with ids `o0000000…`, all at one generation of versions.
pub fn rows(count: usize, generation: u64) -> Vec<Row> {
    (0..count)
        .map(|n| Row {
            id: format!("o{n:07}"),
            version: format!("{:013}-{:04x}-site12", 1_800_000_000_000u64 + generation * 10_000_000 + n as u64, 0),
            data: json!({"n": n, "total": n as f64 * 1.25, "site": "site12", "generation": generation, "note": "bench"}),
        })
        .collect()
}

/// Request bodies of `BATCH` records each, serialized before the clock starts (the agent
/// forms and stores its batches before sending them).
pub fn bodies(rows: &[Row]) -> Vec<Vec<u8>> {
    rows.chunks(BATCH)
        .map(|chunk| {
            let records: Vec<Value> = chunk
                .iter()
                .map(|r| json!({"entity": "orders", "id": r.id, "op": "upsert", "version": r.version, "data": r.data}))
                .collect();
            serde_json::to_vec(&json!({ "records": records })).expect("body")
        })
        .collect()
}

/// Posts every body once with `IN_FLIGHT` in flight; returns records/s and the summed
/// counts of the responses.
pub async fn post_all(
    bench: &Bench,
    http: &reqwest::Client,
    token: &str,
    bodies: &[Vec<u8>],
    key_prefix: &str,
) -> anyhow::Result<(f64, BTreeMap<String, u64>)> {
    let started = Instant::now();
    let results: Vec<anyhow::Result<StatusCounts>> = stream::iter(bodies.iter().enumerate())
        .map(|(i, body)| {
            let request = http
                .post(bench.url("/sync/batches"))
                .bearer_auth(token)
                .header("idempotency-key", format!("{key_prefix}-{i}"))
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let response = request.send().await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "batch answered {}",
                    response.status()
                );
                // Only the counts: the per-record results are skipped, not built.
                Ok(response.json::<Counted>().await?.counts)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut counts = BTreeMap::new();
    let mut records = 0;
    for result in results {
        let c = result?;
        for (status, n) in [
            ("applied", c.applied),
            ("duplicate", c.duplicate),
            ("stale", c.stale),
            ("rejected", c.rejected),
        ] {
            *counts.entry(status.to_owned()).or_default() += n;
            records += n;
        }
    }
    Ok((records as f64 / elapsed, counts))
}

/// Count and order-independent checksum of what the server holds for the bench tenant.
pub async fn server_state(bench: &Bench) -> anyhow::Result<(usize, String)> {
    let stored = bench
        .store
        .records_page(bench.tenant_id, "orders", "", i64::MAX)
        .await?;
    let lines: Vec<String> = stored
        .into_iter()
        .map(|r| {
            let data: Value =
                serde_json::from_str(r.data.as_deref().unwrap_or("null")).unwrap_or(Value::Null);
            format!("{}|{}|{}", r.record_id, r.version, data)
        })
        .collect();
    Ok((
        lines.len(),
        kendrix_core::credentials::hash_bytes(lines.join("\n").as_bytes()),
    ))
}

/// The same for the rows the server should hold (input in id order).
pub fn expected_state(rows: &[Row]) -> (usize, String) {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| format!("{}|{}|{}", r.id, r.version, r.data))
        .collect();
    (
        lines.len(),
        kendrix_core::credentials::hash_bytes(lines.join("\n").as_bytes()),
    )
}

/// The row values the server stores for a record (for the raw baselines).
pub struct StoredRow {
    pub id: String,
    pub version: String,
    pub data: String,
    pub hash: String,
}

pub fn stored_rows(rows: &[Row]) -> Vec<StoredRow> {
    rows.iter()
        .map(|r| {
            let record = Record {
                entity: "orders".parse().expect("entity"),
                id: r.id.parse().expect("id"),
                op: kendrix_core::sync::Op::Upsert,
                version: r.version.parse().expect("version"),
                data: r.data.as_object().cloned(),
            };
            StoredRow {
                id: r.id.clone(),
                version: r.version.clone(),
                data: record.data_text().unwrap_or_default(),
                hash: record.content_hash(),
            }
        })
        .collect()
}

/// Raw rusqlite: the same rows into the same schema (the server's migrations), one
/// transaction, WAL + synchronous=NORMAL. Rows per second.
pub fn raw_sqlite_rate(rows: &[StoredRow]) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut conn = rusqlite::Connection::open(dir.path().join("raw.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(include_str!(
        "../../../migrations/server/sqlite/0001_foundation.sql"
    ))?;
    conn.execute_batch(include_str!(
        "../../../migrations/server/sqlite/0002_sync.sql"
    ))?;
    conn.execute_batch("INSERT INTO tenants (id, name, created_at) VALUES (1, 't', 0); \
        INSERT INTO oauth_clients (id, client_id, tenant_id, name, secret_hash, scopes, created_at) VALUES (1, 'c', 1, 'c', 'h', 's', 0);")?;
    let started = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO records (tenant_id, entity, record_id, version, deleted, data, content_hash, client_pk, batch_id, updated_at) \
             VALUES (1, 'orders', ?1, ?2, 0, ?3, ?4, 1, 'b', 0)",
        )?;
        for row in rows {
            insert.execute(rusqlite::params![row.id, row.version, row.data, row.hash])?;
        }
    }
    tx.commit()?;
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}

/// PostgreSQL COPY of the same rows into a table shaped like `records`. Rows per second.
pub async fn copy_rate(database_url: &str, rows: &[StoredRow]) -> anyhow::Result<f64> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    sqlx::query("CREATE TABLE records_copy (LIKE records INCLUDING ALL)")
        .execute(&mut conn)
        .await?;
    let mut csv = String::with_capacity(rows.len() * 200);
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    for row in rows {
        csv.push_str(&format!(
            "1,orders,{},{},false,{},{},1,b,0\n",
            quote(&row.id),
            quote(&row.version),
            quote(&row.data),
            quote(&row.hash)
        ));
    }
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY records_copy (tenant_id, entity, record_id, version, deleted, data, content_hash, client_pk, batch_id, updated_at) FROM STDIN WITH (FORMAT csv)")
        .await?;
    copy.send(csv.as_bytes()).await?;
    let copied = copy.finish().await?;
    anyhow::ensure!(copied as usize == rows.len(), "COPY wrote {copied} rows");
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}
