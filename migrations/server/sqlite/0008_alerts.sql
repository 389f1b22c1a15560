-- Anomaly detection: the alerts it opens and resolves, and the lease that lets one server
-- instance at a time run a detection pass.
CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    -- The site (a client) and its tenant; both null for the whole server (the audit chain).
    tenant_id    INTEGER REFERENCES tenants(id),
    client_pk    INTEGER REFERENCES oauth_clients(id),
    opened_at    INTEGER NOT NULL,
    -- The last pass that found the value unusual; the alert resolves a while after it.
    unusual_at   INTEGER NOT NULL,
    resolved_at  INTEGER,
    -- What was observed, and the baseline (the threshold it crossed) that made it unusual.
    observed     REAL NOT NULL,
    baseline     REAL NOT NULL,
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
    until_ms  INTEGER NOT NULL
);
INSERT INTO detection_lease (id, holder, until_ms) VALUES (1, '', 0);
