//! Tenants and their OAuth clients (`tenants`, `oauth_clients`).

use kendrix_core::{AuditDraft, UnixMillis};

use crate::dialect::{sql, Dialect};
use crate::sql_store::Connections;
use crate::{Client, FleetRank, NewClient, RevokedClient, StoreResult, Tenant};

const INSERT_TENANT: &str =
    "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id, name, created_at";
const LIST_TENANTS: &str = "SELECT id, name, created_at FROM tenants ORDER BY id";
const TENANT: &str = "SELECT id, name, created_at FROM tenants WHERE id = $1";

pub(crate) const CLIENT_COLUMNS: &str = "id AS pk, client_id, tenant_id, name, secret_hash, \
     scopes, created_at, revoked_at, previous_secret_hash, previous_secret_until";

fn insert_client() -> String {
    format!(
        "INSERT INTO oauth_clients (client_id, tenant_id, name, secret_hash, scopes, created_at, \
         fleet_rank) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CLIENT_COLUMNS}"
    )
}
fn list_clients_sql() -> String {
    format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY id")
}
fn client_by_id() -> String {
    format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1")
}
const REVOKE_CLIENT: &str = "UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $1), \
     fleet_rank = CASE WHEN fleet_rank = $3 THEN fleet_rank ELSE $4 END \
     WHERE client_id = $2 RETURNING id";
const REVOKE_CLIENT_TOKENS: &str =
    "UPDATE oauth_tokens SET revoked_at = $1 WHERE client_pk = $2 AND revoked_at IS NULL";

pub(crate) async fn create_tenant<D: Dialect>(
    db: &Connections<D>,
    name: &str,
    at: UnixMillis,
    audit: AuditDraft,
) -> StoreResult<Tenant> {
    let mut write = db.begin_write().await?;
    let tenant: Tenant = sql(INSERT_TENANT)
        .bind(name)
        .bind(at)
        .fetch_one(write.on())
        .await
        .map_err(|e| e.naming("a tenant with this name", "the tenant"))?;
    write.commit(&[audit.tenant(tenant.id)]).await?;
    Ok(tenant)
}

pub(crate) async fn list_tenants<D: Dialect>(db: &Connections<D>) -> StoreResult<Vec<Tenant>> {
    sql(LIST_TENANTS).fetch_all(db.read()).await
}

pub(crate) async fn tenant<D: Dialect>(
    db: &Connections<D>,
    tenant_id: i64,
) -> StoreResult<Option<Tenant>> {
    sql(TENANT).bind(tenant_id).fetch_optional(db.read()).await
}

pub(crate) async fn register_client<D: Dialect>(
    db: &Connections<D>,
    client: NewClient,
    audit: AuditDraft,
) -> StoreResult<Client> {
    let mut write = db.begin_write().await?;
    let insert = insert_client();
    let row: Client = sql(&insert)
        .bind(&client.client_id)
        .bind(client.tenant_id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(&client.scopes)
        .bind(client.created_at)
        .bind(FleetRank::of_new(&client.scopes) as i16)
        .fetch_one(write.on())
        .await
        .map_err(|e| e.naming("the client", "the tenant"))?;
    write.commit(&[audit]).await?;
    Ok(row)
}

pub(crate) async fn list_clients<D: Dialect>(
    db: &Connections<D>,
    tenant_id: Option<i64>,
) -> StoreResult<Vec<Client>> {
    sql(&list_clients_sql())
        .bind(tenant_id)
        .fetch_all(db.read())
        .await
}

pub(crate) async fn client<D: Dialect>(
    db: &Connections<D>,
    client_id: &str,
) -> StoreResult<Option<Client>> {
    sql(&client_by_id())
        .bind(client_id)
        .fetch_optional(db.read())
        .await
}

/// Disables a client and revokes every token it holds. `None` if no such client.
pub(crate) async fn revoke_client<D: Dialect>(
    db: &Connections<D>,
    client_id: &str,
    at: UnixMillis,
    audit: AuditDraft,
) -> StoreResult<Option<RevokedClient>> {
    let mut write = db.begin_write().await?;
    let pk: Option<(i64,)> = sql(REVOKE_CLIENT)
        .bind(at)
        .bind(client_id)
        .bind(FleetRank::Admin as i16)
        .bind(FleetRank::Revoked as i16)
        .fetch_optional(write.on())
        .await?;
    let Some((pk,)) = pk else {
        return Ok(None);
    };
    let revoked = sql(REVOKE_CLIENT_TOKENS)
        .bind(at)
        .bind(pk)
        .execute(write.on())
        .await?;
    write
        .commit(&[audit.with_detail("tokens_revoked", revoked)])
        .await?;
    Ok(Some(RevokedClient {
        tokens_revoked: revoked,
    }))
}
