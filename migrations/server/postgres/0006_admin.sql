-- Admins and their fleet view: secret rotation with a grace period, and what sites report
-- in their heartbeats (what an admin sees of a site without asking it).

-- During a rotation's grace the replaced secret still authenticates, until the given time.
ALTER TABLE oauth_clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE oauth_clients ADD COLUMN previous_secret_until BIGINT;

-- Each site's latest heartbeat: one row per site, replaced by the next.
CREATE TABLE site_status (
    client_pk          BIGINT PRIMARY KEY REFERENCES oauth_clients(id),
    tenant_id          BIGINT NOT NULL REFERENCES tenants(id),
    received_at        BIGINT NOT NULL,
    agent_version      TEXT NOT NULL,
    queue_depth        BIGINT NOT NULL,
    oldest_pending_at  BIGINT,
    dead_letters       BIGINT NOT NULL,
    config_hash        TEXT,
    interval_secs      BIGINT
);
CREATE INDEX site_status_tenant ON site_status(tenant_id);

-- The sync runs sites reported, one row per run (an idle heartbeat repeats its last run,
-- which the key absorbs); housekeeping keeps 30 days.
CREATE TABLE site_runs (
    client_pk    BIGINT NOT NULL REFERENCES oauth_clients(id),
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    sent         BIGINT NOT NULL,
    applied      BIGINT NOT NULL,
    refused      BIGINT NOT NULL,
    message      TEXT,
    PRIMARY KEY (client_pk, started_at)
);
CREATE INDEX site_runs_started ON site_runs(started_at);

-- A site's own batches, newest first (its page in the admin API).
CREATE INDEX sync_batches_client_at ON sync_batches(client_pk, received_at);
