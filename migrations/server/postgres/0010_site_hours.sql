-- Each site's counts per hour, kept as the audit entries and batches that make them are
-- written, so a detection pass reads two weeks of a fleet's history in key order instead of
-- grouping the audit log and the batches again each minute (a sort of every event: what made
-- a pass over 10,000 sites grow faster than the fleet). Keyed by client id, as the audit log
-- names clients; the pass joins it to the sites it watches.
CREATE TABLE site_hours (
    client_id         TEXT COLLATE "C" NOT NULL,
    -- Unix milliseconds / 3,600,000.
    hour              BIGINT NOT NULL,
    auth_failures     BIGINT NOT NULL DEFAULT 0,
    tokens_issued     BIGINT NOT NULL DEFAULT 0,
    rejected_records  BIGINT NOT NULL DEFAULT 0,
    refused_batches   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, hour)
);
-- The last 15 days from what is already written (detection looks back 14).
INSERT INTO site_hours (client_id, hour, auth_failures, tokens_issued)
SELECT client_id, at / 3600000,
       CAST(SUM(CASE WHEN event = 'auth.client.failure' THEN 1 ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN event = 'token.issued' THEN 1 ELSE 0 END) AS BIGINT)
FROM audit_logs
WHERE client_id IS NOT NULL AND event IN ('auth.client.failure', 'token.issued')
  AND at >= CAST(extract(epoch FROM now()) * 1000 AS BIGINT) - 15 * 86400000
GROUP BY client_id, at / 3600000;
INSERT INTO site_hours (client_id, hour, rejected_records, refused_batches)
SELECT c.client_id, b.received_at / 3600000, CAST(SUM(b.rejected) AS BIGINT),
       CAST(SUM(CASE WHEN b.outcome = 'refused' THEN 1 ELSE 0 END) AS BIGINT)
FROM sync_batches b JOIN oauth_clients c ON c.id = b.client_pk
WHERE (b.rejected > 0 OR b.outcome = 'refused')
  AND b.received_at >= CAST(extract(epoch FROM now()) * 1000 AS BIGINT) - 15 * 86400000
GROUP BY c.client_id, b.received_at / 3600000
ON CONFLICT (client_id, hour) DO UPDATE SET rejected_records = excluded.rejected_records,
    refused_batches = excluded.refused_batches;
