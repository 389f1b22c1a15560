//! OAuth tokens (`oauth_tokens`), stored by the SHA-256 of their value: issuance (through
//! group commit), look-up, refresh rotation, revocation.

use kendrix_core::{AuditDraft, UnixMillis};
use sqlx::QueryBuilder;

use crate::dialect::{sql, Dialect, PushParam, Statement};
use crate::sql_store::{AuditedWrite, Connections};
use crate::{NewToken, RefreshUse, StoreResult, TokenKind, TokenState};

const INSERT_TOKENS: &str = "INSERT INTO oauth_tokens (token_hash, kind, client_pk, tenant_id, \
     scopes, family, issued_at, expires_at) ";
const TOKEN_STATE: &str = "SELECT t.kind, t.scopes, t.family, t.issued_at, t.expires_at, \
     t.revoked_at, t.used_at, t.client_pk, c.client_id, c.name AS client_name, t.tenant_id, \
     c.revoked_at AS client_revoked_at \
     FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client_pk WHERE t.token_hash = $1";
/// Spends an unused refresh token of one client; no row back means it was already used, is
/// another client's (which must not spend it), or is unknown.
const SPEND_REFRESH: &str = "UPDATE oauth_tokens SET used_at = $1 \
     WHERE token_hash = $2 AND kind = 'refresh' AND used_at IS NULL AND client_pk = $3 \
     RETURNING id";
const REVOKE_TOKEN: &str = "UPDATE oauth_tokens SET revoked_at = $1 \
     WHERE token_hash = $2 AND revoked_at IS NULL RETURNING kind, family";
const REVOKE_FAMILY: &str =
    "UPDATE oauth_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL";
pub(crate) const PRUNE_TOKENS: &str = "DELETE FROM oauth_tokens WHERE expires_at < $1";

/// Inserts tokens in multi-row statements (8 values a row, 1000 rows a statement).
pub(crate) async fn insert<D: Dialect>(
    write: &mut AuditedWrite<D>,
    tokens: &[&NewToken],
) -> StoreResult<()> {
    for chunk in tokens.chunks(1000) {
        let mut insert = QueryBuilder::<D>::new(INSERT_TOKENS);
        insert.push_values(chunk, |mut row, t| {
            row.push_param(t.token_hash.clone())
                .push_param(t.kind.as_str())
                .push_param(t.client_pk)
                .push_param(t.tenant_id)
                .push_param(t.scopes.clone())
                .push_param(t.family.clone())
                .push_param(t.issued_at)
                .push_param(t.expires_at);
        });
        Statement::from(insert.build()).execute(write.on()).await?;
    }
    Ok(())
}

/// A token by the hash of its value, with its client's state.
pub(crate) async fn token<D: Dialect>(
    db: &Connections<D>,
    token_hash: &str,
) -> StoreResult<Option<TokenState>> {
    sql(TOKEN_STATE)
        .bind(token_hash)
        .fetch_optional(db.read())
        .await
}

/// Marks a refresh token of `client_pk` used; says whether this was its first use, a reuse,
/// or another client's token (then nothing changes).
pub(crate) async fn use_refresh_token<D: Dialect>(
    db: &Connections<D>,
    token_hash: &str,
    client_pk: i64,
    at: UnixMillis,
) -> StoreResult<Option<RefreshUse>> {
    let mut write = db.begin_write().await?;
    let spent: Option<(i64,)> = sql(SPEND_REFRESH)
        .bind(at)
        .bind(token_hash)
        .bind(client_pk)
        .fetch_optional(write.on())
        .await?;
    let state: Option<TokenState> = sql(TOKEN_STATE)
        .bind(token_hash)
        .fetch_optional(write.on())
        .await?;
    write.commit(&[]).await?;
    Ok(match state {
        Some(s) if s.kind != TokenKind::Refresh => None,
        Some(s) if s.client_pk != client_pk => Some(RefreshUse::OtherClient),
        Some(s) if spent.is_some() => Some(RefreshUse::First(s)),
        Some(s) => Some(RefreshUse::Reused(s)),
        None => None,
    })
}

/// Revokes one token; a refresh token takes its whole family with it.
pub(crate) async fn revoke_token<D: Dialect>(
    db: &Connections<D>,
    token_hash: &str,
    at: UnixMillis,
    audit: &[AuditDraft],
) -> StoreResult<u64> {
    let mut write = db.begin_write().await?;
    let revoked: Option<(String, String)> = sql(REVOKE_TOKEN)
        .bind(at)
        .bind(token_hash)
        .fetch_optional(write.on())
        .await?;
    let count = match revoked {
        None => 0,
        Some((kind, _)) if kind == TokenKind::Access.as_str() => 1,
        Some((_, family)) => {
            1 + sql(REVOKE_FAMILY)
                .bind(at)
                .bind(family)
                .execute(write.on())
                .await?
        }
    };
    write.commit(audit).await?;
    Ok(count)
}

/// Revokes every token of a family (refresh-token reuse).
pub(crate) async fn revoke_family<D: Dialect>(
    db: &Connections<D>,
    family: &str,
    at: UnixMillis,
    audit: &[AuditDraft],
) -> StoreResult<u64> {
    let mut write = db.begin_write().await?;
    let count = sql(REVOKE_FAMILY)
        .bind(at)
        .bind(family)
        .execute(write.on())
        .await?;
    write.commit(audit).await?;
    Ok(count)
}
