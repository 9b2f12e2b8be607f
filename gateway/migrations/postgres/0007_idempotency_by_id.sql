-- A repeated message is found by its id alone: the gateway id is derived from (sender,
-- client_id) (a UUIDv5), so the primary key already makes the pair unique, and the second
-- unique index on it cost an index entry per message for nothing the key does not do. (This
-- store began after ids were derived: no message here has an id of its sender's choosing.)
DROP INDEX messages_sender_client;
