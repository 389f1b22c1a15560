-- When the oldest record of a batch was queued, so the heartbeat's oldest pending record
-- stays the time it was queued after it moved into a batch (older batches: formed_at).
ALTER TABLE batches ADD COLUMN oldest_enqueued_at INTEGER;
