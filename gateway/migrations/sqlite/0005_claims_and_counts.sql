-- Who holds a recorded message's publish: the gateway instance that recorded or claimed it,
-- until `next_attempt_at` (its lease). Only the holder publishes; a claim is one UPDATE.
ALTER TABLE messages ADD COLUMN claimed_by TEXT;

-- Messages accepted (that reached `queued`, whoever queued them), per adapter: kept by the
-- store itself, so the counter agrees with the statuses and survives restarts.
CREATE TABLE accepted_counts (
    adapter   TEXT PRIMARY KEY,
    accepted  INTEGER NOT NULL
);
INSERT INTO accepted_counts (adapter, accepted)
    SELECT substr(m.routing_key, 1, instr(m.routing_key, '.') - 1), count(*)
    FROM messages m
    WHERE EXISTS (SELECT 1 FROM status_history h WHERE h.message_id = m.id AND h.status = 'queued')
    GROUP BY 1;

-- A later status implies the earlier ones: an adapter's report that arrives before the
-- gateway marked the message queued writes the skipped `queued` first. Reaching `queued`
-- (or a status past it) from `recorded` counts the message as accepted.
DROP TRIGGER messages_status_changed;
CREATE TRIGGER messages_status_changed AFTER UPDATE OF status ON messages
    WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO status_history (message_id, status, at)
        SELECT NEW.id, 'queued', NEW.updated_at
        WHERE OLD.status = 'recorded'
          AND NEW.status IN ('delivered', 'received', 'feedback_given', 'failed', 'expired');
    INSERT INTO status_history (message_id, status, at, reason)
        VALUES (NEW.id, NEW.status, NEW.updated_at, NEW.status_reason);
    INSERT INTO accepted_counts (adapter, accepted)
        SELECT substr(NEW.routing_key, 1, instr(NEW.routing_key, '.') - 1), 1
        WHERE OLD.status = 'recorded' AND NEW.status <> 'withdrawn'
        ON CONFLICT (adapter) DO UPDATE SET accepted = accepted + 1;
END;
