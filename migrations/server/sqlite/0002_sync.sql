-- Sync: the records themselves, idempotency keys, and per-batch statistics.

-- The newest version of every record per tenant; deletes stay as tombstones.
CREATE TABLE records (
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    entity        TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    version       TEXT NOT NULL,
    deleted       BOOLEAN NOT NULL,
    data          TEXT,
    content_hash  TEXT NOT NULL,
    client_pk     INTEGER NOT NULL,
    batch_id      TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, entity, record_id)
) WITHOUT ROWID;

-- One row per (client, Idempotency-Key): claimed while the batch is applied, then the
-- stored response, replayed byte for byte until it expires.
CREATE TABLE idempotency_keys (
    client_pk     INTEGER NOT NULL REFERENCES oauth_clients(id),
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    owner         TEXT NOT NULL,
    locked_until  INTEGER NOT NULL,
    status_code   INTEGER,
    response      TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (client_pk, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);

-- Every batch received, applied or refused, for GET /sync/stats.
CREATE TABLE sync_batches (
    batch_id         TEXT PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    client_pk        INTEGER NOT NULL REFERENCES oauth_clients(id),
    idempotency_key  TEXT,
    received_at      INTEGER NOT NULL,
    records          INTEGER NOT NULL,
    applied          INTEGER NOT NULL,
    duplicate        INTEGER NOT NULL,
    stale            INTEGER NOT NULL,
    rejected         INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('applied', 'refused'))
);
CREATE INDEX sync_batches_tenant_at ON sync_batches(tenant_id, received_at);

CREATE TABLE sync_batch_entities (
    batch_id   TEXT NOT NULL REFERENCES sync_batches(batch_id),
    entity     TEXT NOT NULL,
    applied    INTEGER NOT NULL,
    duplicate  INTEGER NOT NULL,
    stale      INTEGER NOT NULL,
    rejected   INTEGER NOT NULL,
    PRIMARY KEY (batch_id, entity)
);
