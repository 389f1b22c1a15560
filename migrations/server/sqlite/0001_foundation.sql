-- Server foundation: tenants, OAuth clients and tokens, the audit chain, rate-limit windows.
-- Times are Unix milliseconds (INTEGER); credentials are stored only as SHA-256 hex.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE oauth_clients (
    id           INTEGER PRIMARY KEY,
    client_id    TEXT NOT NULL UNIQUE,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX oauth_clients_tenant ON oauth_clients(tenant_id);

CREATE TABLE oauth_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_pk   INTEGER NOT NULL REFERENCES oauth_clients(id),
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    scopes      TEXT NOT NULL,
    family      TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    used_at     INTEGER
);
CREATE INDEX oauth_tokens_client ON oauth_tokens(client_pk);
CREATE INDEX oauth_tokens_family ON oauth_tokens(family);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens(expires_at);

-- The audit log is one hash chain; `id` is the position in it.
CREATE TABLE audit_logs (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    tenant_id   INTEGER,
    client_id   TEXT,
    request_id  TEXT,
    source      TEXT,
    event       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_logs_tenant_event_at ON audit_logs(tenant_id, event, at);
CREATE INDEX audit_logs_at ON audit_logs(at);

-- The head of the chain; appends lock this single row so they never fork.
CREATE TABLE audit_chain (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seq        INTEGER NOT NULL,
    head_hash  TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, head_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Fixed-window counters shared by every server instance.
CREATE TABLE rate_limits (
    bucket        TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    hits          INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;

-- Per tenant, client and entity: the newest version the server holds (filled by sync).
CREATE TABLE sync_versions (
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    client_pk       INTEGER NOT NULL REFERENCES oauth_clients(id),
    entity          TEXT NOT NULL,
    newest_version  TEXT NOT NULL,
    last_batch_id   TEXT,
    applied         INTEGER NOT NULL DEFAULT 0,
    duplicate       INTEGER NOT NULL DEFAULT 0,
    stale           INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, client_pk, entity)
);
