-- Messages the gateway has taken in. `routed` is the canonical JSON handed to the broker;
-- everything else is ids, kinds and tags.
CREATE TABLE messages (
    id           TEXT PRIMARY KEY,
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    routing_key  TEXT NOT NULL,
    routed       BLOB NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Every status a message has had, with its time.
CREATE TABLE status_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT NOT NULL REFERENCES messages(id),
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT
);
CREATE INDEX status_history_message ON status_history(message_id, seq);

-- Messages recorded but not yet confirmed by the broker.
CREATE TABLE outbox (
    message_id      TEXT PRIMARY KEY REFERENCES messages(id),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox(next_attempt_at);

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
