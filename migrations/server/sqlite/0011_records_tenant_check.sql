-- PostgreSQL drops the foreign key on records.tenant_id here (see its 0011: a trigger per
-- inserted row). SQLite keeps it — its check is a primary-key lookup without a row lock — and
-- dropping a constraint in SQLite would rebuild the whole records table. The numbering of
-- both backends' migrations stays aligned.
SELECT 1;
