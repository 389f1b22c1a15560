-- Retention: where the pruned prefix of the audit chain ended, so the rest still verifies.
ALTER TABLE audit_chain ADD COLUMN pruned_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_chain ADD COLUMN pruned_hash TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
