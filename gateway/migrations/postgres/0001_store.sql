-- The gateway's store in PostgreSQL, shared by every gateway instance: the tables of the
-- SQLite store (gateway/migrations/sqlite, whose comments say what each holds) as they stand
-- after its migrations, with the triggers written in PL/pgSQL. Times are text in the
-- store's fixed-width UTC form, as in SQLite, so that text order is time order.

CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  BYTEA NOT NULL
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    legal_basis     TEXT NOT NULL,
    body_hash       TEXT NOT NULL,
    routing_key     TEXT NOT NULL,
    routed          BYTEA NOT NULL,
    key_id          TEXT,
    wrapped_key     BYTEA,
    status          TEXT NOT NULL,
    status_reason   TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    claimed_by      TEXT,
    consent_ref     TEXT,
    subject_hashes  TEXT NOT NULL DEFAULT '[]',
    erased_at       TEXT
);
CREATE UNIQUE INDEX messages_sender_client ON messages(sender, client_id);
CREATE INDEX messages_outbox ON messages(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX messages_consent ON messages(sender, consent_ref) WHERE consent_ref IS NOT NULL;
CREATE INDEX messages_key ON messages(key_id) WHERE key_id IS NOT NULL;

CREATE TABLE status_history (
    seq          BIGSERIAL PRIMARY KEY,
    message_id   TEXT NOT NULL REFERENCES messages(id),
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT
);
CREATE INDEX status_history_message ON status_history(message_id, seq);
CREATE UNIQUE INDEX status_history_answers ON status_history(message_id, status)
    WHERE status IN ('assessed', 'acknowledged', 'decided', 'investigation_ended', 'concluded');

CREATE TABLE accepted_counts (
    adapter   TEXT PRIMARY KEY,
    accepted  BIGINT NOT NULL
);

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

CREATE TABLE refusals (
    seq          BIGSERIAL PRIMARY KEY,
    at           TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    reasons      TEXT NOT NULL
);
CREATE INDEX refusals_message ON refusals(message_id);

-- The audit trail. Its chain (gateway/src/record/audit.rs) is written in `seq` order and
-- finds a removed entry by a gap in `seq`, so `seq` must have no gaps and follow commit
-- order, which a sequence does not give when instances commit side by side. `audit_seq`
-- numbers the entries instead: the transaction that takes the next number holds the row
-- until it commits (a rolled-back one gives its number back), so numbers are taken in
-- commit order. A transaction that writes audit entries and other rows, or changes many
-- messages at once, takes it first (`SELECT … FOR UPDATE`), so that no two transactions
-- wait on each other.
CREATE TABLE audit_seq (
    only_row  BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    last      BIGINT NOT NULL
);
INSERT INTO audit_seq (last) VALUES (0);

CREATE TABLE audit (
    seq          BIGINT PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    chain        TEXT,
    subject_hash TEXT
);

CREATE FUNCTION audit_numbered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_seq SET last = last + 1 RETURNING last INTO NEW.seq;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_numbered BEFORE INSERT ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_numbered();

-- Recording a message writes its first status and its audit entry in the same statement.
CREATE FUNCTION messages_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_history (message_id, status, at) VALUES (NEW.id, NEW.status, NEW.created_at);
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.created_at, NEW.sender, 'recorded', NEW.id, NEW.kind, NEW.legal_basis, NEW.recipient);
    RETURN NULL;
END $$;
CREATE TRIGGER messages_recorded AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_recorded();

-- A later status implies `queued`; reaching `queued` or past it from `recorded` counts the
-- message as accepted by its adapter.
CREATE FUNCTION messages_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'recorded'
       AND NEW.status IN ('delivered', 'received', 'feedback_given', 'failed', 'expired') THEN
        INSERT INTO status_history (message_id, status, at) VALUES (NEW.id, 'queued', NEW.updated_at);
    END IF;
    INSERT INTO status_history (message_id, status, at, reason)
        VALUES (NEW.id, NEW.status, NEW.updated_at, NEW.status_reason);
    IF OLD.status = 'recorded' AND NEW.status <> 'withdrawn' THEN
        INSERT INTO accepted_counts (adapter, accepted)
            VALUES (split_part(NEW.routing_key, '.', 1), 1)
            ON CONFLICT (adapter) DO UPDATE SET accepted = accepted_counts.accepted + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_status_changed AFTER UPDATE OF status ON messages
    FOR EACH ROW WHEN (NEW.status <> OLD.status) EXECUTE FUNCTION messages_status_changed();

-- A message that can never be sent again from here loses its payload in the same statement.
CREATE FUNCTION messages_payload_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.routed := ''::bytea;
    NEW.key_id := NULL;
    NEW.wrapped_key := NULL;
    NEW.erased_at := NEW.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_payload_erased BEFORE UPDATE OF status ON messages
    FOR EACH ROW
    WHEN (NEW.status IN ('delivered', 'received', 'feedback_given', 'withdrawn') AND NEW.erased_at IS NULL)
    EXECUTE FUNCTION messages_payload_erased();

CREATE FUNCTION refusals_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.at, NEW.sender, 'refused', NEW.message_id, NEW.kind, NEW.legal_basis, NEW.recipient);
    RETURN NULL;
END $$;
CREATE TRIGGER refusals_recorded AFTER INSERT ON refusals
    FOR EACH ROW EXECUTE FUNCTION refusals_recorded();

CREATE FUNCTION consents_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.recorded_at, NEW.organisation, 'consent_recorded', NEW.id, '', '', '');
    RETURN NULL;
END $$;
CREATE TRIGGER consents_recorded AFTER INSERT ON consents
    FOR EACH ROW EXECUTE FUNCTION consents_recorded();

CREATE FUNCTION consents_withdrawn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
        VALUES (NEW.withdrawn_at, NEW.organisation, 'consent_withdrawn', NEW.id, '', '', '');
    RETURN NULL;
END $$;
CREATE TRIGGER consents_withdrawn AFTER UPDATE OF withdrawn_at ON consents
    FOR EACH ROW WHEN (OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL)
    EXECUTE FUNCTION consents_withdrawn();
