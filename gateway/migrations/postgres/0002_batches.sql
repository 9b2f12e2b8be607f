-- A batch of the writer (gateway/src/record/batch.rs) in one round trip: its statements run
-- one after another in one statement's transaction, the audit numbering taken first (see
-- audit_seq: as every audited transaction takes it). Each statement reads its parameters as
-- `$1[n]` (text) or `$2[n]` (bytes) of `texts` and `bytes`, and must return rows
-- (RETURNING); each row comes back as the number of its statement and its columns as
-- text, in order. A statement that fails undoes the whole batch.
CREATE FUNCTION run_batch(statements TEXT[], texts TEXT[], bytes BYTEA[])
    RETURNS TABLE (n INT, cols TEXT[]) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM last FROM audit_seq FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(statements, 1), 0) LOOP
        RETURN QUERY EXECUTE format(
            'WITH r AS (%s) SELECT %s, ARRAY(SELECT value FROM json_each_text(row_to_json(r))) FROM r',
            statements[i], i)
            USING texts, bytes;
    END LOOP;
END $$;
