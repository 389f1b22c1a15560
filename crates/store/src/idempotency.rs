//! Idempotency keys (`idempotency_keys`, per client): the whole life of a batch's key. A
//! retry of a completed batch is answered from a read ([`stored_response`]); any other
//! request claims the key ([`claim`]: replay, mismatch, in flight, or a lease of its own); the
//! batch's transaction completes it with the response body ([`complete`], from
//! `batches::apply`); a claim whose batch will not be applied is given back ([`release`]);
//! retention ends it (`PRUNE_KEYS`).

use crate::dialect::{sql, Dialect, On, Statement};
use crate::sql_store::Connections;
use kendrix_core::UnixMillis;

use crate::{BatchToApply, IdempotencyClaim, NextAction, StoreResult};

/// The stored response of a key completed with this very body (by its BLAKE3), while it is
/// retained.
const STORED_RESPONSE: &str = "SELECT response FROM idempotency_keys \
     WHERE client_pk = $1 AND key = $2 AND request_b3 = $3 AND state = 'done' AND expires_at > $4";
const CLAIM_KEY: &str = "INSERT INTO idempotency_keys \
     (client_pk, key, request_hash, state, owner, locked_until, created_at, expires_at, \
     request_b3) VALUES ($1, $2, $3, 'in_flight', $4, $5, $6, $7, $8) \
     ON CONFLICT (client_pk, key) DO NOTHING RETURNING key";
const READ_KEY: &str = "SELECT request_hash, state, locked_until, response, expires_at \
     FROM idempotency_keys WHERE client_pk = $1 AND key = $2";
/// Takes over a key whose retention ended, or whose in-flight claim was abandoned.
const TAKE_OVER_KEY: &str = "UPDATE idempotency_keys SET request_hash = $3, \
     state = 'in_flight', owner = $4, locked_until = $5, status_code = NULL, response = NULL, \
     created_at = $6, expires_at = $7, request_b3 = $8 \
     WHERE client_pk = $1 AND key = $2 \
     AND (expires_at <= $6 OR (state = 'in_flight' AND locked_until <= $6))";
const RELEASE_KEY: &str = "DELETE FROM idempotency_keys \
     WHERE client_pk = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'";
const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET state = 'done', status_code = $4, \
     response = $5, expires_at = $6 \
     WHERE client_pk = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'";
pub(crate) const PRUNE_KEYS: &str = "DELETE FROM idempotency_keys WHERE expires_at < $1";

/// The stored response of a key completed with this very body: a read, no write transaction.
pub(crate) async fn stored_response<D: Dialect>(
    db: &Connections<D>,
    client_pk: i64,
    key: &str,
    body_b3: &str,
    now: UnixMillis,
) -> StoreResult<Option<String>> {
    let stored: Option<(Option<String>,)> = sql(STORED_RESPONSE)
        .bind(client_pk)
        .bind(key)
        .bind(body_b3)
        .bind(now)
        .fetch_optional(db.read())
        .await?;
    Ok(stored.map(|(body,)| body.unwrap_or_default()))
}

/// What the request does next with its key, decided in one short write transaction.
pub(crate) async fn claim<D: Dialect>(
    db: &Connections<D>,
    claim: &IdempotencyClaim,
) -> StoreResult<NextAction> {
    let mut write = db.begin_write().await?;
    let inserted: Option<(String,)> = lease(sql(CLAIM_KEY), claim)
        .fetch_optional(write.on())
        .await?;
    if inserted.is_some() {
        write.commit(&[]).await?;
        return Ok(NextAction::Claimed);
    }
    let mut next = decide(&read_key(&mut write, claim).await?, claim);
    if next == NextAction::Claimed {
        let taken = lease(sql(TAKE_OVER_KEY), claim).execute(write.on()).await?;
        if taken == 0 {
            // Another request took the key over between the read and this update (on
            // PostgreSQL the update waited for it and then found the key live): decide again
            // on what it holds now, never as if this request held it.
            next = match decide(&read_key(&mut write, claim).await?, claim) {
                NextAction::Claimed => NextAction::InFlight {
                    retry_after_ms: claim.lease_ms,
                },
                other => other,
            };
        }
    }
    write.commit(&[]).await?;
    Ok(next)
}

/// A key as stored: request hash, state, lease end, stored response, retention end.
type KeyRow = (String, String, i64, Option<String>, i64);

async fn read_key<D: Dialect>(
    write: &mut crate::sql_store::AuditedWrite<D>,
    claim: &IdempotencyClaim,
) -> StoreResult<KeyRow> {
    sql(READ_KEY)
        .bind(claim.client_pk)
        .bind(&claim.key)
        .fetch_one(write.on())
        .await
}

/// What a claim does with a key someone already has: take it over (its retention ended, or
/// its holder abandoned the same body), replay it, refuse another body, or wait.
fn decide(key: &KeyRow, claim: &IdempotencyClaim) -> NextAction {
    let (hash, state, held_until, body, expires) = key;
    let expired = *expires <= claim.now;
    let abandoned = state == "in_flight" && *held_until <= claim.now;
    if expired || (abandoned && *hash == claim.request_hash) {
        NextAction::Claimed
    } else if *hash != claim.request_hash {
        NextAction::Mismatch
    } else if state == "done" {
        NextAction::Replay(body.clone().unwrap_or_default())
    } else {
        NextAction::InFlight {
            retry_after_ms: held_until - claim.now,
        }
    }
}

/// Binds a claim's lease to `CLAIM_KEY` or `TAKE_OVER_KEY`: key, body hash, owner, how long
/// the lease holds, and how long the key is retained.
fn lease<'q, D: Dialect>(
    statement: Statement<'q, 'q, D>,
    claim: &'q IdempotencyClaim,
) -> Statement<'q, 'q, D> {
    statement
        .bind(claim.client_pk)
        .bind(&claim.key)
        .bind(&claim.request_hash)
        .bind(&claim.owner)
        .bind(claim.now + claim.lease_ms)
        .bind(claim.now)
        .bind(claim.now + claim.retention_ms)
        .bind(&claim.body_b3)
}

/// Gives back a claim whose batch will not be applied; only its owner can.
pub(crate) async fn release<D: Dialect>(
    db: &Connections<D>,
    client_pk: i64,
    key: &str,
    owner: &str,
) -> StoreResult<()> {
    sql(RELEASE_KEY)
        .bind(client_pk)
        .bind(key)
        .bind(owner)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Completes a batch's claimed key with its response body, inside the batch's transaction;
/// false if the claim is no longer the batch's (another request took it over).
pub(crate) async fn complete<D: Dialect>(
    on: On<'_, D>,
    batch: &BatchToApply,
    body: &str,
) -> StoreResult<bool> {
    let completed = sql(COMPLETE_KEY)
        .bind(batch.client_pk)
        .bind(&batch.idempotency_key)
        .bind(&batch.owner)
        .bind(200_i32)
        .bind(body)
        .bind(batch.received_at + batch.retention_ms)
        .execute(on)
        .await?;
    Ok(completed == 1)
}
