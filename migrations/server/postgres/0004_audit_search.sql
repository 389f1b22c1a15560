-- Audit queries: newest-first keyset pages per tenant, and full-text search.

CREATE INDEX audit_logs_tenant_id ON audit_logs(tenant_id, id);
CREATE INDEX audit_logs_tenant_event_id ON audit_logs(tenant_id, event, id);
CREATE INDEX audit_logs_search ON audit_logs USING GIN (
    to_tsvector('simple', event || ' ' || coalesce(client_id, '') || ' ' || details)
);
