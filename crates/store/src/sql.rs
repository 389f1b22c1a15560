//! SQL shared by both backends. Placeholders are `$N`, which PostgreSQL and sqlx's SQLite
//! driver both bind by number. Backend-specific statements live in `sqlite.rs` and
//! `postgres.rs`.

pub const INSERT_TENANT: &str =
    "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id, name, created_at";
pub const LIST_TENANTS: &str = "SELECT id, name, created_at FROM tenants ORDER BY id";

const CLIENT_COLUMNS: &str =
    "id AS pk, client_id, tenant_id, name, secret_hash, scopes, created_at, revoked_at";

pub fn insert_client() -> String {
    format!(
        "INSERT INTO oauth_clients (client_id, tenant_id, name, secret_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CLIENT_COLUMNS}"
    )
}
pub fn list_clients() -> String {
    format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY id")
}
pub fn client_by_id() -> String {
    format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1")
}
pub const REVOKE_CLIENT: &str = "UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $1) \
     WHERE client_id = $2 RETURNING id";
pub const REVOKE_CLIENT_TOKENS: &str =
    "UPDATE oauth_tokens SET revoked_at = $1 WHERE client_pk = $2 AND revoked_at IS NULL";

pub const TOKEN_STATE: &str = "SELECT t.kind, t.scopes, t.family, t.issued_at, t.expires_at, \
     t.revoked_at, t.used_at, t.client_pk, c.client_id, t.tenant_id, \
     c.revoked_at AS client_revoked_at \
     FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client_pk WHERE t.token_hash = $1";
/// Spends an unused refresh token; no row back means it was already used (or is unknown).
pub const SPEND_REFRESH: &str = "UPDATE oauth_tokens SET used_at = $1 \
     WHERE token_hash = $2 AND kind = 'refresh' AND used_at IS NULL RETURNING id";
pub const REVOKE_TOKEN: &str = "UPDATE oauth_tokens SET revoked_at = $1 \
     WHERE token_hash = $2 AND revoked_at IS NULL RETURNING kind, family";
pub const REVOKE_FAMILY: &str =
    "UPDATE oauth_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL";

pub const AUDIT_ENTRIES: &str = "SELECT id AS seq, at, tenant_id, client_id, request_id, source, \
     event, outcome, details, prev_hash, hash FROM audit_logs WHERE id > $1 ORDER BY id LIMIT $2";
pub const UPDATE_CHAIN_HEAD: &str = "UPDATE audit_chain SET seq = $1, head_hash = $2 WHERE id = 1";
pub const AUTH_EVENT_COUNTS: &str = "SELECT client_id, event, COUNT(*) AS count FROM audit_logs \
     WHERE tenant_id = $1 AND at >= $2 AND event IN \
     ('auth.client.success', 'auth.client.failure', 'auth.bearer.failure', 'token.issued', \
      'token.refreshed', 'token.revoked', 'token.refresh_reuse', 'rate_limit.exceeded') \
     GROUP BY client_id, event ORDER BY client_id, event";

pub const SYNC_VERSIONS: &str =
    "SELECT entity, newest_version, last_batch_id, applied, duplicate, \
     stale, updated_at FROM sync_versions WHERE tenant_id = $1 AND client_pk = $2 ORDER BY entity";

pub const PRUNE_RATE_WINDOWS: &str = "DELETE FROM rate_limits WHERE window_start < $1";
pub const PRUNE_TOKENS: &str = "DELETE FROM oauth_tokens WHERE expires_at < $1";

pub const CLAIM_KEY: &str = "INSERT INTO idempotency_keys \
     (client_pk, key, request_hash, state, owner, locked_until, created_at, expires_at) \
     VALUES ($1, $2, $3, 'in_flight', $4, $5, $6, $7) \
     ON CONFLICT (client_pk, key) DO NOTHING RETURNING key";
pub const READ_KEY: &str = "SELECT request_hash, state, locked_until, response, expires_at \
     FROM idempotency_keys WHERE client_pk = $1 AND key = $2";
/// Takes over a key whose retention ended, or whose in-flight claim was abandoned.
pub const TAKE_OVER_KEY: &str = "UPDATE idempotency_keys SET request_hash = $3, \
     state = 'in_flight', owner = $4, locked_until = $5, status_code = NULL, response = NULL, \
     created_at = $6, expires_at = $7 \
     WHERE client_pk = $1 AND key = $2 \
     AND (expires_at <= $6 OR (state = 'in_flight' AND locked_until <= $6))";
pub const RELEASE_KEY: &str = "DELETE FROM idempotency_keys \
     WHERE client_pk = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'";
pub const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET state = 'done', status_code = $4, \
     response = $5, expires_at = $6 \
     WHERE client_pk = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'";
pub const PRUNE_KEYS: &str = "DELETE FROM idempotency_keys WHERE expires_at < $1";

pub const INSERT_BATCH: &str = "INSERT INTO sync_batches (batch_id, tenant_id, client_pk, \
     idempotency_key, received_at, records, applied, duplicate, stale, rejected, duration_us, \
     outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

pub const RECORDS_PAGE: &str = "SELECT r.entity, r.record_id, r.version, r.deleted, r.data, \
     c.client_id, r.batch_id, r.updated_at \
     FROM records r JOIN oauth_clients c ON c.id = r.client_pk \
     WHERE r.tenant_id = $1 AND r.entity = $2 AND r.record_id > $3 \
     ORDER BY r.record_id LIMIT $4";

pub const BATCH_FIGURES: &str = "SELECT c.client_id, b.received_at, b.records, b.applied, \
     b.duplicate, b.stale, b.rejected, b.duration_us, b.outcome \
     FROM sync_batches b JOIN oauth_clients c ON c.id = b.client_pk \
     WHERE b.tenant_id = $1 AND b.received_at >= $2 ORDER BY b.received_at";
pub const ENTITY_FIGURES: &str = "SELECT c.client_id, e.entity, \
     CAST(SUM(e.applied) AS BIGINT) AS applied, CAST(SUM(e.duplicate) AS BIGINT) AS duplicate, \
     CAST(SUM(e.stale) AS BIGINT) AS stale, CAST(SUM(e.rejected) AS BIGINT) AS rejected \
     FROM sync_batch_entities e JOIN sync_batches b ON b.batch_id = e.batch_id \
     JOIN oauth_clients c ON c.id = b.client_pk \
     WHERE b.tenant_id = $1 AND b.received_at >= $2 \
     GROUP BY c.client_id, e.entity ORDER BY c.client_id, e.entity";

/// Writes a record only over an older version.
pub const UPSERT_TAIL: &str = " ON CONFLICT (tenant_id, entity, record_id) DO UPDATE SET \
     version = excluded.version, deleted = excluded.deleted, data = excluded.data, \
     content_hash = excluded.content_hash, client_pk = excluded.client_pk, \
     batch_id = excluded.batch_id, updated_at = excluded.updated_at \
     WHERE excluded.version > records.version";

pub const STORED_RESPONSE: &str = "SELECT response FROM idempotency_keys \
     WHERE client_pk = $1 AND key = $2 AND request_hash = $3 AND state = 'done' AND expires_at > $4";

pub const CONFIG_HEAD: &str = "SELECT tenant_id, version, author, at, comment, content_hash \
     FROM sync_config_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1";
pub const CONFIG_VERSIONS: &str = "SELECT tenant_id, version, author, at, comment, content_hash \
     FROM sync_config_versions WHERE tenant_id = $1 ORDER BY version DESC";
pub const CONFIG_ENTRIES: &str = "SELECT scope, key, value_type, value, secret, reveal \
     FROM sync_config WHERE tenant_id = $1 AND version = $2 ORDER BY scope, key";
pub const INSERT_CONFIG_VERSION: &str = "INSERT INTO sync_config_versions \
     (tenant_id, version, author, at, comment, content_hash) VALUES ($1, $2, $3, $4, $5, $6)";
pub const SEALED_ENTRIES: &str = "SELECT tenant_id, version, scope, key, value FROM sync_config \
     WHERE secret ORDER BY tenant_id, version, scope, key";
pub const CONFIG_REPORTS: &str = "SELECT c.id AS client_pk, c.client_id, c.name, r.config_hash, \
     r.reported_at FROM oauth_clients c LEFT JOIN config_reports r ON r.client_pk = c.id \
     WHERE c.tenant_id = $1 AND c.revoked_at IS NULL ORDER BY c.client_id";
pub const REPORT_CONFIG: &str = "INSERT INTO config_reports (client_pk, config_hash, reported_at) \
     VALUES ($1, $2, $3) ON CONFLICT (client_pk) DO UPDATE SET \
     config_hash = excluded.config_hash, reported_at = excluded.reported_at";

pub const AUDIT_HEAD: &str = "SELECT seq, head_hash FROM audit_chain WHERE id = 1";

pub const AUDIT_CHECKPOINT: &str = "SELECT pruned_seq, pruned_hash FROM audit_chain WHERE id = 1";
/// The last entry older than the cutoff, if any.
pub const LAST_ENTRY_BEFORE: &str =
    "SELECT id, hash FROM audit_logs WHERE at < $1 ORDER BY id DESC LIMIT 1";
pub const DELETE_AUDIT_UPTO: &str = "DELETE FROM audit_logs WHERE id <= $1";
pub const SET_CHECKPOINT: &str =
    "UPDATE audit_chain SET pruned_seq = $1, pruned_hash = $2 WHERE id = 1";
