-- Payloads at rest are sealed (gateway/src/keys/at_rest.rs): `routed` holds the ciphertext,
-- `key_id` and `wrapped_key` its data key wrapped by a key-encryption key of the key file,
-- never in the database. A row with neither a key nor `erased_at` was stored in clear by an
-- earlier version; the gateway seals it when it starts.
ALTER TABLE messages ADD COLUMN key_id TEXT;
ALTER TABLE messages ADD COLUMN wrapped_key BLOB;
CREATE INDEX messages_key ON messages(key_id) WHERE key_id IS NOT NULL;

-- When the payload was erased: its data key destroyed and its ciphertext removed.
ALTER TABLE messages ADD COLUMN erased_at TEXT;

-- The keyed hashes (the subject key of the key file) of the people a message is about, as
-- a JSON array: how a data protection officer finds the disclosures about a person without
-- the gateway keeping who they are.
ALTER TABLE messages ADD COLUMN subject_hashes TEXT NOT NULL DEFAULT '[]';

-- A message that can never be sent again from here needs no payload: delivered (an operator
-- replays failed and expired ones only) or stopped by a withdrawal. Erased in the same
-- transaction as the status change. Failed and expired ones keep theirs for the grace
-- period of operator replay (the retention sweep erases them).
CREATE TRIGGER messages_payload_erased AFTER UPDATE OF status ON messages
    WHEN NEW.status IN ('delivered', 'received', 'feedback_given', 'withdrawn')
     AND NEW.erased_at IS NULL
BEGIN
    UPDATE messages SET routed = x'', key_id = NULL, wrapped_key = NULL, erased_at = NEW.updated_at
    WHERE id = NEW.id;
END;
