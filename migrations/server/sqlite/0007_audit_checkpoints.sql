-- Signed checkpoints of the audit chain: the head {seq, hash} signed with the server's
-- Ed25519 audit key (the key itself is never in the database). Several keys may sign the
-- same head during a rotation.
CREATE TABLE audit_checkpoints (
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    signed_at_ms INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (seq, key_id)
);
