-- A vendor acting for the sending organisation (a Maskinporten token's `supplier`) is kept
-- beside the sender: in the message, the refusal, and the actor of their audit entries
-- (`<agency id> supplier:<organisation number>`).
ALTER TABLE messages ADD COLUMN supplier TEXT;
ALTER TABLE refusals ADD COLUMN supplier TEXT;

DROP TRIGGER messages_recorded;
CREATE TRIGGER messages_recorded AFTER INSERT ON messages
BEGIN
    INSERT INTO status_history (message_id, status, at) VALUES (NEW.id, NEW.status, NEW.created_at);
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.created_at, NEW.sender || coalesce(' supplier:' || NEW.supplier, ''),
                'recorded', NEW.id, NEW.kind, NEW.legal_basis, NEW.recipient);
END;

DROP TRIGGER refusals_recorded;
CREATE TRIGGER refusals_recorded AFTER INSERT ON refusals
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.at, NEW.sender || coalesce(' supplier:' || NEW.supplier, ''),
                'refused', NEW.message_id, NEW.kind, NEW.legal_basis, NEW.recipient);
END;
