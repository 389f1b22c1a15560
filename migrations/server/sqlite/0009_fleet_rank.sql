-- Where each client sorts in its tenant's fleet, kept up to date so that a page of the
-- admin's site list is one index range, whatever the number of sites:
-- 0 a site that needs attention, 1 a site that is well, 2 a revoked site, 3 an admin
-- credential (not a site). Registration and revocation set it; each detection pass
-- recomputes 0 and 1 (they change with time: a site becomes overdue by not syncing).
ALTER TABLE oauth_clients ADD COLUMN fleet_rank INTEGER NOT NULL DEFAULT 0;
UPDATE oauth_clients SET fleet_rank = CASE
    WHEN ' ' || scopes || ' ' LIKE '% clients:admin %' THEN 3
    WHEN revoked_at IS NOT NULL THEN 2
    ELSE 0 END;
CREATE INDEX oauth_clients_fleet ON oauth_clients(tenant_id, fleet_rank, name, client_id);
-- A page's last tokens: each site's newest without reading its older ones (and it serves
-- every lookup by client the old index did).
CREATE INDEX oauth_tokens_client_issued ON oauth_tokens(client_pk, issued_at);
DROP INDEX oauth_tokens_client;
