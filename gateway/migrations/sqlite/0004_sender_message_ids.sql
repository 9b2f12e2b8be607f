-- A message id belongs to its sender: the idempotency key is (sender, client_id), the id the
-- sender chose. `id` is the gateway's id of the message, derived from that pair (a UUIDv5),
-- which everything downstream (outbox, broker, adapters, receipts, status events, dead
-- letters) knows the message by; two senders' ids can never collide there. Messages
-- recorded before keep their id, which was unique across senders already.
ALTER TABLE messages ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE messages SET client_id = id;
CREATE UNIQUE INDEX messages_sender_client ON messages(sender, client_id);
