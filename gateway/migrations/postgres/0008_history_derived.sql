-- A message's first two steps are read from its own row, not written twice: `recorded` is
-- its `created_at`, `queued` its new `queued_at` (set by the queued mark, or by a later
-- status that found it still recorded). Recording and queuing a message wrote a history
-- row each, each with an index entry keyed by the message id. The history keeps what
-- happens after: deliveries, receipts, failures and the recipient's answers.
ALTER TABLE messages ADD COLUMN queued_at TEXT;
UPDATE messages SET queued_at = (SELECT min(h.at) FROM status_history h
                                 WHERE h.message_id = messages.id AND h.status = 'queued');
DELETE FROM status_history WHERE status IN ('recorded', 'queued');

CREATE OR REPLACE FUNCTION messages_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.created_at, NEW.sender || coalesce(' supplier:' || NEW.supplier, ''),
                'recorded', NEW.id, NEW.kind, NEW.legal_basis, NEW.recipient);
    RETURN NULL;
END $$;

-- Reaching `queued` or past it from `recorded` counts the message as accepted by its adapter.
CREATE OR REPLACE FUNCTION messages_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'queued' THEN
        INSERT INTO status_history (message_id, status, at, reason)
            VALUES (NEW.id, NEW.status, NEW.updated_at, NEW.status_reason);
    END IF;
    IF OLD.status = 'recorded' AND NEW.status <> 'withdrawn' THEN
        INSERT INTO accepted_counts (adapter, accepted)
            VALUES (split_part(NEW.routing_key, '.', 1), 1)
            ON CONFLICT (adapter) DO UPDATE SET accepted = accepted_counts.accepted + 1;
    END IF;
    RETURN NULL;
END $$;

-- A later status implies `queued` (the mark is not waited for, and may come after it or
-- never): it is set in the same row.
CREATE FUNCTION messages_queued_on_the_way() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.queued_at := NEW.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_queued_on_the_way BEFORE UPDATE OF status ON messages
    FOR EACH ROW
    WHEN (OLD.status = 'recorded' AND NEW.queued_at IS NULL
          AND NEW.status IN ('delivered', 'received', 'feedback_given', 'failed', 'expired'))
    EXECUTE FUNCTION messages_queued_on_the_way();
