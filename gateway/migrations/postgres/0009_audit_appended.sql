-- A recorded message's audit entry is appended by the batch that records it, numbered and
-- chained as it is written, several in one statement. A trigger wrote it without its
-- chain value (and took its number from `audit_seq`, a row update each); the batch read
-- it back and wrote it again with its chain.
DROP TRIGGER messages_recorded ON messages;
DROP FUNCTION messages_recorded();

-- An entry written with its number (a batch numbers its own, holding `audit_seq` from its
-- start, on from the newest entry) keeps it; `audit_seq` follows once per statement.
CREATE OR REPLACE FUNCTION audit_numbered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NULL THEN
        UPDATE audit_seq SET last = last + 1 RETURNING last INTO NEW.seq;
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION audit_numbered_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_seq SET last = m.seq FROM (SELECT max(seq) AS seq FROM audit) m
        WHERE audit_seq.last < m.seq;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_numbered_after AFTER INSERT ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_numbered_after();
