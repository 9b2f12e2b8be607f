-- A secret per installation: the key of the subject hashes in `consents`.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);

-- Recorded consents. `record` is the consent as JSON without its subject; `subject_hash`
-- is a keyed hash of the subject's national ID (or name and birth date).
CREATE TABLE consents (
    id            TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    subject_hash  TEXT NOT NULL,
    body_hash     TEXT NOT NULL,
    record        TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    withdrawn_at  TEXT,
    PRIMARY KEY (organisation, id)
);

-- The consent a message was sent under (scoped by its sender, who recorded it).
ALTER TABLE messages ADD COLUMN consent_ref TEXT;
CREATE INDEX messages_consent ON messages(sender, consent_ref) WHERE consent_ref IS NOT NULL;

-- Refused messages: ids, kinds, tags and the reasons (rule codes and field pointers), no payload.
CREATE TABLE refusals (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    reasons      TEXT NOT NULL
);
CREATE INDEX refusals_message ON refusals(message_id);

CREATE TRIGGER refusals_recorded AFTER INSERT ON refusals
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.at, NEW.sender, 'refused', NEW.message_id, NEW.kind, NEW.legal_basis, NEW.recipient);
END;

CREATE TRIGGER consents_recorded AFTER INSERT ON consents
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.recorded_at, NEW.organisation, 'consent_recorded', NEW.id, '', '', '');
END;

CREATE TRIGGER consents_withdrawn AFTER UPDATE OF withdrawn_at ON consents
    WHEN OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.withdrawn_at, NEW.organisation, 'consent_withdrawn', NEW.id, '', '', '');
END;
