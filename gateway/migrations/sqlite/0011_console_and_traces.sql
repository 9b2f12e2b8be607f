-- The operator console reads the messages of the last hour by their recording time.
CREATE INDEX messages_created ON messages(created_at);

-- The W3C trace id the sender's request carried (none: the trace is the gateway id).
ALTER TABLE messages ADD COLUMN trace_id TEXT;
