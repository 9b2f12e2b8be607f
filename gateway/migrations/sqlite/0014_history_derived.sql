-- A message's first two steps are read from its own row, not written twice: `recorded` is
-- its `created_at`, `queued` its new `queued_at` (set by the queued mark, or by a later
-- status that found it still recorded). Recording and queuing a message wrote a history
-- row each, each with an entry in the history's index on a random page (the message id):
-- about a fifth of the store's write cost per message. The history keeps what happens
-- after: deliveries, receipts, failures and the recipient's answers.
ALTER TABLE messages ADD COLUMN queued_at TEXT;
UPDATE messages SET queued_at = (SELECT min(h.at) FROM status_history h
                                 WHERE h.message_id = messages.id AND h.status = 'queued');
DELETE FROM status_history WHERE status IN ('recorded', 'queued');

DROP TRIGGER messages_recorded;
CREATE TRIGGER messages_recorded AFTER INSERT ON messages
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.created_at, NEW.sender || coalesce(' supplier:' || NEW.supplier, ''),
                'recorded', NEW.id, NEW.kind, NEW.legal_basis, NEW.recipient);
END;

-- A later status implies `queued` (the mark is not waited for, and may come after it or
-- never); reaching `queued` or past it from `recorded` counts the message as accepted by
-- its adapter.
DROP TRIGGER messages_status_changed;
CREATE TRIGGER messages_status_changed AFTER UPDATE OF status ON messages
    WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO status_history (message_id, status, at, reason)
        SELECT NEW.id, NEW.status, NEW.updated_at, NEW.status_reason
        WHERE NEW.status <> 'queued';
    INSERT INTO accepted_counts (adapter, accepted)
        SELECT substr(NEW.routing_key, 1, instr(NEW.routing_key, '.') - 1), 1
        WHERE OLD.status = 'recorded' AND NEW.status <> 'withdrawn'
        ON CONFLICT (adapter) DO UPDATE SET accepted = accepted + 1;
END;
CREATE TRIGGER messages_queued_on_the_way AFTER UPDATE OF status ON messages
    WHEN OLD.status = 'recorded' AND NEW.queued_at IS NULL
     AND NEW.status IN ('delivered', 'received', 'feedback_given', 'failed', 'expired')
BEGIN
    UPDATE messages SET queued_at = NEW.updated_at WHERE id = NEW.id;
END;
