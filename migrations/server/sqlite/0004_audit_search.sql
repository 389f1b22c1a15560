-- Audit queries: newest-first keyset pages per tenant, and full-text search.

CREATE INDEX audit_logs_tenant_id ON audit_logs(tenant_id, id);
CREATE INDEX audit_logs_tenant_event_id ON audit_logs(tenant_id, event, id);

-- An external-content FTS5 index over the searchable text of each entry.
CREATE VIRTUAL TABLE audit_search USING fts5(
    event, client_id, details, content='audit_logs', content_rowid='id'
);
CREATE TRIGGER audit_search_insert AFTER INSERT ON audit_logs BEGIN
    INSERT INTO audit_search (rowid, event, client_id, details)
    VALUES (new.id, new.event, new.client_id, new.details);
END;
CREATE TRIGGER audit_search_delete AFTER DELETE ON audit_logs BEGIN
    INSERT INTO audit_search (audit_search, rowid, event, client_id, details)
    VALUES ('delete', old.id, old.event, old.client_id, old.details);
END;
INSERT INTO audit_search (audit_search) VALUES ('rebuild');
