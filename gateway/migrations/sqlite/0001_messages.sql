-- Messages the gateway has taken in. `routed` is the canonical JSON handed to the broker;
-- everything else is ids, kinds and tags. A message whose `next_attempt_at` is set is in
-- the outbox: recorded, not yet confirmed by the broker.
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    legal_basis     TEXT NOT NULL,
    body_hash       TEXT NOT NULL,
    routing_key     TEXT NOT NULL,
    routed          BLOB NOT NULL,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT
);
CREATE INDEX messages_outbox ON messages(next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- Every status a message has had, with its time.
CREATE TABLE status_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT NOT NULL REFERENCES messages(id),
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT
);
CREATE INDEX status_history_message ON status_history(message_id, seq);

-- Who shared what with whom, when, and why: ids, kinds and tags only.
CREATE TABLE audit (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    recipient    TEXT NOT NULL
);

-- Recording a message writes its first status and its audit entry in the same statement
-- (and so the same transaction); every status change writes its history entry.
CREATE TRIGGER messages_recorded AFTER INSERT ON messages
BEGIN
    INSERT INTO status_history (message_id, status, at) VALUES (NEW.id, NEW.status, NEW.created_at);
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.created_at, NEW.sender, 'recorded', NEW.id, NEW.kind, NEW.legal_basis, NEW.recipient);
END;

CREATE TRIGGER messages_status_changed AFTER UPDATE OF status ON messages
    WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO status_history (message_id, status, at) VALUES (NEW.id, NEW.status, NEW.updated_at);
END;
