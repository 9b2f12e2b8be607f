-- A recorded message's audit entry is appended by the batch that records it, numbered and
-- chained as it is written, several in one statement. A trigger wrote it without its
-- chain value; the batch read it back and wrote it again with its chain: three steps per
-- entry where one does.
DROP TRIGGER messages_recorded;
