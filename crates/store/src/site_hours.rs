//! Each site's counts per hour (`site_hours`): failed sign-ins and tokens issued, counted as
//! their audit entries are appended, and refused records and batches, counted as their
//! batch rows are written — in the same transaction, so the counts are exactly the events.
//! A detection pass reads two weeks of them in key order ([`read`]) instead of grouping
//! every event again each minute.

use std::collections::BTreeMap;

use kendrix_core::audit::AuditEntry;
use kendrix_core::{AuditEvent, UnixMillis};
use sqlx::QueryBuilder;

use crate::dialect::{sql, Dialect, On, PushParam, Statement};
use crate::sql_store::Connections;
use crate::{alerts, Backend, MetricCount, StoreResult};

pub(crate) const HOUR_MS: i64 = 3_600_000;

const ADD_AUDITED: &str = "INSERT INTO site_hours (client_id, hour, auth_failures, tokens_issued) ";
const ADD_AUDITED_TAIL: &str = " ON CONFLICT (client_id, hour) DO UPDATE SET \
     auth_failures = site_hours.auth_failures + excluded.auth_failures, \
     tokens_issued = site_hours.tokens_issued + excluded.tokens_issued";
/// A batch's refusals, for its client by `pk`.
const ADD_REFUSED: &str = "INSERT INTO site_hours (client_id, hour, rejected_records, \
     refused_batches) SELECT client_id, $2, $3, $4 FROM oauth_clients WHERE id = $1 \
     ON CONFLICT (client_id, hour) DO UPDATE SET \
     rejected_records = site_hours.rejected_records + excluded.rejected_records, \
     refused_batches = site_hours.refused_batches + excluded.refused_batches";
pub(crate) const PRUNE_HOURS: &str = "DELETE FROM site_hours WHERE hour < $1";

/// Counts the failed sign-ins and issued tokens among entries being appended: one upsert
/// for all of them (none when there are none).
pub(crate) async fn count_audited<D: Dialect>(
    conn: &mut D::Connection,
    entries: &[AuditEntry],
) -> StoreResult<()> {
    let failure = AuditEvent::ClientAuthFailed.as_str();
    let issued = AuditEvent::TokenIssued.as_str();
    let mut hours: BTreeMap<(&str, i64), (i64, i64)> = BTreeMap::new();
    for entry in entries {
        let Some(client_id) = entry.client_id.as_deref() else {
            continue;
        };
        let slot = (client_id, entry.at.div_euclid(HOUR_MS));
        if entry.event == failure {
            hours.entry(slot).or_default().0 += 1;
        } else if entry.event == issued {
            hours.entry(slot).or_default().1 += 1;
        }
    }
    if hours.is_empty() {
        return Ok(());
    }
    let mut upsert = QueryBuilder::<D>::new(ADD_AUDITED);
    upsert.push_values(
        &hours,
        |mut row, ((client_id, hour), (failures, tokens))| {
            row.push_param(client_id.to_string())
                .push_param(*hour)
                .push_param(*failures)
                .push_param(*tokens);
        },
    );
    upsert.push(ADD_AUDITED_TAIL);
    Statement::from(upsert.build())
        .execute(On::Tx(conn))
        .await?;
    Ok(())
}

/// Counts a batch's refused records (and the batch itself when it was refused whole).
pub(crate) async fn count_refused<D: Dialect>(
    conn: &mut D::Connection,
    client_pk: i64,
    at: UnixMillis,
    rejected: i64,
    batch_refused: bool,
) -> StoreResult<()> {
    if rejected == 0 && !batch_refused {
        return Ok(());
    }
    sql::<D>(ADD_REFUSED)
        .bind(client_pk)
        .bind(at.div_euclid(HOUR_MS))
        .bind(rejected)
        .bind(i64::from(batch_refused))
        .execute(On::Tx(conn))
        .await?;
    Ok(())
}

/// Each watched site's counts per hour since `since`, sparse: one row per site, each
/// metric's hours as `hour:count` pairs (zeros left out), read in key order (no grouping sort).
pub(crate) async fn read<D: Dialect>(
    db: &Connections<D>,
    since: UnixMillis,
) -> StoreResult<Vec<MetricCount>> {
    let concat = match D::BACKEND {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    let columns: Vec<String> = alerts::METRICS
        .iter()
        .map(|m| {
            format!("{concat}(CASE WHEN h.{m} > 0 THEN h.hour || ':' || h.{m} END, ',') AS {m}")
        })
        .collect();
    let select = format!(
        "SELECT c.id, {} FROM (SELECT h.client_id, {} FROM site_hours h \
         WHERE h.hour >= $1 GROUP BY h.client_id) s \
         JOIN oauth_clients c ON c.client_id = s.client_id",
        alerts::METRICS.map(|m| format!("s.{m}")).join(", "),
        columns.join(", ")
    );
    type Row = (
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sql(&select)
        .bind(since.div_euclid(HOUR_MS))
        .fetch_all(db.read())
        .await?;
    let mut counts = Vec::new();
    for (client_pk, failures, tokens, rejected, refused) in rows {
        for (metric, pairs) in alerts::METRICS
            .into_iter()
            .zip([failures, tokens, rejected, refused])
        {
            if let Some(pairs) = pairs {
                alerts::push_pairs(&mut counts, client_pk, metric, &pairs)?;
            }
        }
    }
    Ok(counts)
}
