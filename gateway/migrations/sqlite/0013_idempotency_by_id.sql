-- A repeated message is found by its id alone: the gateway id is derived from (sender,
-- client_id) (a UUIDv5), so the primary key already makes the pair unique, and the second
-- unique index on it (0004) cost an index entry per message, on a random page of its own,
-- for nothing the key does not do.
DROP INDEX messages_sender_client;

-- But for messages recorded before ids were derived (0004): they kept the sender's id as
-- theirs (id = client_id), so a repeat would derive another id. Their sender repeating one
-- records nothing, as the index did; the lookup is one probe of the primary key.
CREATE TRIGGER messages_repeated_before_derived_ids BEFORE INSERT ON messages
    WHEN EXISTS (SELECT 1 FROM messages
                 WHERE id = NEW.client_id AND client_id = NEW.client_id AND sender = NEW.sender)
BEGIN
    SELECT RAISE(IGNORE);
END;
