-- A batch of the writer is now one query of many statements, its values written in as
-- literals (gateway/src/record/postgres/mod.rs says why): run_batch of migration 0002 is
-- no longer called.
DROP FUNCTION run_batch(TEXT[], TEXT[], BYTEA[]);

-- Sealed payloads do not compress: stored out of line without trying to.
ALTER TABLE messages ALTER COLUMN routed SET STORAGE EXTERNAL;
