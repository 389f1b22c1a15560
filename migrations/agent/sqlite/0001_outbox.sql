-- The agent's local database: records waiting to be sent, batches formed and persisted
-- before they are sent (with their Idempotency-Key), and records the server refused.

-- Pending changes, one row per record: a newer change to the same record replaces an
-- older one that has not been put in a batch yet.
CREATE TABLE outbox (
    entity       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    op           TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    version      TEXT NOT NULL,
    data         TEXT,
    enqueued_at  INTEGER NOT NULL,
    PRIMARY KEY (entity, record_id)
) WITHOUT ROWID;
CREATE INDEX outbox_order ON outbox(enqueued_at, entity, record_id);

-- A batch exists from the moment it is formed until the server's answer is recorded; its
-- body and key never change, so every retry sends exactly the same request.
CREATE TABLE batches (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    body             TEXT NOT NULL,
    records          INTEGER NOT NULL,
    formed_at        INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT
);

-- Records the server refused (or that can never be accepted), kept for staff to fix,
-- resend or discard.
CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    version    TEXT NOT NULL,
    data       TEXT,
    reason     TEXT NOT NULL,
    at         INTEGER NOT NULL
);
