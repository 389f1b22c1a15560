-- What the agent remembers between runs besides the queue: its enrollment (never a secret:
-- those live in the OS keychain), the clock, the cached configuration, the audit witness,
-- the schedule; the history of sync runs; the inbox files already taken in.

CREATE TABLE agent_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

-- One row per sync run, written when it starts and completed when it ends.
CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    trigger      TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    outcome      TEXT CHECK (outcome IN ('synced', 'partial', 'offline', 'auth', 'error')),
    batches      INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0,
    applied      INTEGER NOT NULL DEFAULT 0,
    duplicate    INTEGER NOT NULL DEFAULT 0,
    stale        INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    error        TEXT
);

-- Inbox files whose rows are in the outbox, recorded in the same transaction as the rows: a
-- crash before the file is moved to processed/ cannot enqueue it twice.
CREATE TABLE inbox_files (
    name          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    rows          INTEGER NOT NULL,
    taken_at      INTEGER NOT NULL,
    PRIMARY KEY (name, content_hash)
) WITHOUT ROWID;

-- The outbox's size, kept by triggers: the status shows the queue depth after every batch,
-- and counting a million rows each time would make draining quadratic.
CREATE TABLE outbox_size (
    only  INTEGER PRIMARY KEY CHECK (only = 1),
    n     INTEGER NOT NULL
);
INSERT INTO outbox_size (only, n) SELECT 1, COUNT(*) FROM outbox;
CREATE TRIGGER outbox_added AFTER INSERT ON outbox
    BEGIN UPDATE outbox_size SET n = n + 1; END;
CREATE TRIGGER outbox_removed AFTER DELETE ON outbox
    BEGIN UPDATE outbox_size SET n = n - 1; END;
