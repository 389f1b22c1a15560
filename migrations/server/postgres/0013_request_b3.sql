-- The BLAKE3 of a key's request body, beside its SHA-256 (`request_hash`): a replay finds
-- its stored answer by this one, which costs a fifth of SHA-256 on a 250 kB batch (bench
-- S3). The SHA-256 stays what a claim compares, so servers of before this column — side by
-- side during an upgrade, or after a rollback — still match every key; a key they wrote has
-- no BLAKE3 and is replayed through the claim instead.
ALTER TABLE idempotency_keys ADD COLUMN request_b3 TEXT;
