//! Configuration versions (`sync_config_versions`, `sync_config`) and what clients report
//! running (`config_reports`). One version sequence per configuration (tenant 0 is the
//! global one); each version is a full snapshot, so history, diff and rollback are reads,
//! and a change writes a new version with its audit entry in one transaction.

use kendrix_core::AuditDraft;
use sqlx::QueryBuilder;

use crate::dialect::{sql, Dialect, PushParam, Statement};
use crate::sql_store::Connections;
use crate::{ConfigChange, ConfigReport, ConfigRow, ConfigVersionRow, NewConfigVersion, Reseal};
use crate::{StoreError, StoreResult};

const HEAD: &str = "SELECT tenant_id, version, author, at, comment, content_hash \
     FROM sync_config_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1";
const VERSIONS: &str = "SELECT tenant_id, version, author, at, comment, content_hash \
     FROM sync_config_versions WHERE tenant_id = $1 ORDER BY version DESC";
const ENTRIES: &str = "SELECT scope, key, value_type, value, secret, reveal \
     FROM sync_config WHERE tenant_id = $1 AND version = $2 ORDER BY scope, key";
const INSERT_VERSION: &str = "INSERT INTO sync_config_versions \
     (tenant_id, version, author, at, comment, content_hash) VALUES ($1, $2, $3, $4, $5, $6)";
const INSERT_ENTRIES: &str = "INSERT INTO sync_config \
     (tenant_id, version, scope, key, value_type, value, secret, reveal) ";
const SEALED_ENTRIES: &str =
    "SELECT tenant_id, version, scope, key, value, reveal FROM sync_config \
     WHERE secret ORDER BY tenant_id, version, scope, key";
/// VALUES columns are column1..column5 on both SQLite and PostgreSQL.
const RESEAL: &str = "UPDATE sync_config SET value = u.column5 FROM (";
const RESEAL_TAIL: &str = ") AS u WHERE sync_config.tenant_id = u.column1 \
     AND sync_config.version = u.column2 AND sync_config.scope = u.column3 \
     AND sync_config.key = u.column4";
/// Sites only: an admin credential never syncs, so it never runs a configuration.
const REPORTS: &str = "SELECT c.id AS client_pk, c.client_id, c.name, r.config_hash, \
     r.reported_at FROM oauth_clients c LEFT JOIN config_reports r ON r.client_pk = c.id \
     WHERE c.tenant_id = $1 AND c.revoked_at IS NULL \
     AND ' ' || c.scopes || ' ' NOT LIKE '% clients:admin %' ORDER BY c.client_id";
/// What a client reported running, written with each of its batches.
pub(crate) const REPORT_CONFIG: &str = "INSERT INTO config_reports (client_pk, config_hash, \
     reported_at) VALUES ($1, $2, $3) ON CONFLICT (client_pk) DO UPDATE SET \
     config_hash = excluded.config_hash, reported_at = excluded.reported_at";

/// The latest version of a configuration, if any.
pub(crate) async fn head<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
) -> StoreResult<Option<ConfigVersionRow>> {
    sql(HEAD).bind(tenant_id).fetch_optional(db.read()).await
}

/// Every version of a configuration, newest first.
pub(crate) async fn versions<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
) -> StoreResult<Vec<ConfigVersionRow>> {
    sql(VERSIONS).bind(tenant_id).fetch_all(db.read()).await
}

/// The entries of one version, by scope and key.
pub(crate) async fn entries<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
    version: i64,
) -> StoreResult<Vec<ConfigRow>> {
    sql(ENTRIES)
        .bind(tenant_id)
        .bind(version)
        .fetch_all(db.read())
        .await
}

/// Makes a new version from the latest one (or, for a rollback, the old one) and a change.
pub(crate) async fn change<D: Dialect>(
    db: &Connections<D>,
    change: NewConfigVersion,
) -> StoreResult<ConfigVersionRow> {
    let mut write = db.begin_write().await?;
    let head: Option<ConfigVersionRow> = sql(HEAD)
        .bind(change.tenant_id)
        .fetch_optional(write.on())
        .await?;
    let old_version = head.map_or(0, |h| h.version);
    let base_version = match &change.change {
        ConfigChange::Rollback { to } if *to < 1 || *to > old_version => {
            return Err(StoreError::MissingReference("the configuration version"));
        }
        ConfigChange::Rollback { to } => *to,
        _ => old_version,
    };
    let mut entries: Vec<ConfigRow> = if base_version == 0 {
        Vec::new()
    } else {
        sql(ENTRIES)
            .bind(change.tenant_id)
            .bind(base_version)
            .fetch_all(write.on())
            .await?
    };
    apply_change(&mut entries, &change.change)?;
    let version = old_version + 1;
    let content_hash = snapshot_hash(&entries);
    sql(INSERT_VERSION)
        .bind(change.tenant_id)
        .bind(version)
        .bind(&change.author)
        .bind(change.at)
        .bind(&change.comment)
        .bind(&content_hash)
        .execute(write.on())
        .await
        .map_err(|e| e.naming("the configuration version", "the tenant"))?;
    for chunk in entries.chunks(1000) {
        let mut insert = QueryBuilder::<D>::new(INSERT_ENTRIES);
        insert.push_values(chunk, |mut row, e| {
            row.push_param(change.tenant_id)
                .push_param(version)
                .push_param(e.scope.clone())
                .push_param(e.key.clone())
                .push_param(e.value_type.clone())
                .push_param(e.value.clone())
                .push_param(e.secret)
                .push_param(e.reveal);
        });
        Statement::from(insert.build()).execute(write.on()).await?;
    }
    let audit = change
        .audit
        .clone()
        .with_detail("old_version", old_version)
        .with_detail("new_version", version);
    write.commit(&[audit]).await?;
    Ok(ConfigVersionRow {
        tenant_id: change.tenant_id,
        version,
        author: change.author,
        at: change.at,
        comment: change.comment,
        content_hash,
    })
}

/// Every secret entry of every version.
pub(crate) async fn sealed_entries<D: Dialect>(db: &Connections<D>) -> StoreResult<Vec<Reseal>> {
    let rows: Vec<(i64, i64, String, String, String, bool)> =
        sql(SEALED_ENTRIES).fetch_all(db.read()).await?;
    Ok(rows
        .into_iter()
        .map(|(tenant_id, version, scope, key, value, reveal)| Reseal {
            tenant_id,
            version,
            scope,
            key,
            value,
            reveal,
        })
        .collect())
}

/// Replaces sealed values in place, with the audit entry of the rotation.
pub(crate) async fn reseal<D: Dialect>(
    db: &Connections<D>,
    updates: &[Reseal],
    audit: AuditDraft,
) -> StoreResult<u64> {
    let mut write = db.begin_write().await?;
    let mut changed = 0;
    for chunk in updates.chunks(1000) {
        let mut update = QueryBuilder::<D>::new(RESEAL);
        update.push_values(chunk, |mut row, r| {
            row.push_param(r.tenant_id)
                .push_param(r.version)
                .push_param(r.scope.clone())
                .push_param(r.key.clone())
                .push_param(r.value.clone());
        });
        update.push(RESEAL_TAIL);
        changed += Statement::from(update.build()).execute(write.on()).await?;
    }
    write
        .commit(&[audit.with_detail("values_resealed", changed)])
        .await?;
    Ok(changed)
}

/// The clients of a tenant with the configuration hash each last reported.
pub(crate) async fn reports<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
) -> StoreResult<Vec<ConfigReport>> {
    sql(REPORTS).bind(tenant_id).fetch_all(db.read()).await
}

/// Applies a set or unset to the entries of the version it is based on (a rollback's
/// entries are already the target version's).
fn apply_change(entries: &mut Vec<ConfigRow>, change: &ConfigChange) -> StoreResult<()> {
    match change {
        ConfigChange::Set(row) => {
            entries.retain(|e| !(e.scope == row.scope && e.key == row.key));
            entries.push(row.clone());
            entries.sort_by(|a, b| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
        }
        ConfigChange::Unset { scope, key } => {
            let before = entries.len();
            entries.retain(|e| !(&e.scope == scope && &e.key == key));
            if entries.len() == before {
                return Err(StoreError::MissingReference("the setting"));
            }
        }
        ConfigChange::Rollback { .. } => {}
    }
    Ok(())
}

/// SHA-256 over the snapshot's entries in scope and key order, as stored.
fn snapshot_hash(entries: &[ConfigRow]) -> String {
    let rows: Vec<(&str, &str, &str, &str, bool, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.scope.as_str(),
                e.key.as_str(),
                e.value_type.as_str(),
                e.value.as_str(),
                e.secret,
                e.reveal,
            )
        })
        .collect();
    kendrix_core::credentials::hash_bytes(&serde_json::to_vec(&rows).expect("rows serialize"))
}
