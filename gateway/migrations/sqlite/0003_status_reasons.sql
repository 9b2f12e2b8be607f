-- Why a message has its status (a failure's reason, value-free), carried into the history.
ALTER TABLE messages ADD COLUMN status_reason TEXT;

DROP TRIGGER messages_status_changed;
CREATE TRIGGER messages_status_changed AFTER UPDATE OF status ON messages
    WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO status_history (message_id, status, at, reason)
        VALUES (NEW.id, NEW.status, NEW.updated_at, NEW.status_reason);
END;
