-- A record's tenant is the tenant of the client whose batch wrote it — that client's own row
-- references tenants, and no tenant is ever deleted — so the foreign key on records.tenant_id
-- guarded nothing the one writer does not already guarantee. It was not free: PostgreSQL
-- checks it with a trigger per inserted row (a query that also locks the tenant's row), which
-- was 29 % of the database's time while ingesting batches (bench S7). SQLite keeps it: there
-- the check is a primary-key lookup without a row lock.
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_tenant_id_fkey;
