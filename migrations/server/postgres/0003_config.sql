-- Central configuration: every change makes a new immutable version of one configuration
-- (tenant_id 0 is the global one), holding a full snapshot of its entries.

CREATE TABLE sync_config_versions (
    tenant_id     BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    author        TEXT NOT NULL,
    at            BIGINT NOT NULL,
    comment       TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- scope: 'global', 'tenant', or the client id of a client of the tenant.
-- value: JSON text of a plain value, or a sealed value (kxs1:…) when secret.
CREATE TABLE sync_config (
    tenant_id   BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value_type  TEXT NOT NULL CHECK (value_type IN ('string', 'number', 'bool', 'json')),
    value       TEXT NOT NULL,
    secret      BOOLEAN NOT NULL,
    reveal      BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, version, scope, key)
);

-- The configuration each client last reported running (its content hash), for drift.
CREATE TABLE config_reports (
    client_pk    BIGINT PRIMARY KEY REFERENCES oauth_clients(id),
    config_hash  TEXT NOT NULL,
    reported_at  BIGINT NOT NULL
);
