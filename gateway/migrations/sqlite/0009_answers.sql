-- Answers of the recipient (assessed, acknowledged, decided, investigation ended,
-- concluded) are entries of the history that leave the message's status as it is, once per
-- message: a repeated answer is kept out by this index.
CREATE UNIQUE INDEX status_history_answers ON status_history(message_id, status)
    WHERE status IN ('assessed', 'acknowledged', 'decided', 'investigation_ended', 'concluded');
