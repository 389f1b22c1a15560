-- Anomaly detection: the alerts it opens and resolves, and the lease that lets one server
-- instance at a time run a detection pass.
CREATE TABLE alerts (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    -- The site (a client) and its tenant; both null for the whole server (the audit chain).
    tenant_id    BIGINT REFERENCES tenants(id),
    client_pk    BIGINT REFERENCES oauth_clients(id),
    opened_at    BIGINT NOT NULL,
    -- The last pass that found the value unusual; the alert resolves a while after it.
    unusual_at   BIGINT NOT NULL,
    resolved_at  BIGINT,
    -- What was observed, and the baseline (the threshold it crossed) that made it unusual.
    observed     DOUBLE PRECISION NOT NULL,
    baseline     DOUBLE PRECISION NOT NULL,
    summary      TEXT NOT NULL
);
-- At most one open alert of a kind per site, per tenant (its sites together), or for the
-- server.
CREATE UNIQUE INDEX alerts_open ON alerts(kind, COALESCE(tenant_id, 0), COALESCE(client_pk, 0))
    WHERE resolved_at IS NULL;
CREATE INDEX alerts_tenant ON alerts(tenant_id, opened_at);

-- Who runs detection passes now: an instance holds the row until `until_ms`.
CREATE TABLE detection_lease (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    holder    TEXT NOT NULL,
    until_ms  BIGINT NOT NULL
);
INSERT INTO detection_lease (id, holder, until_ms) VALUES (1, '', 0);
