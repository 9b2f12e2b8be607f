-- Two more answers, once per message like the others: an investigation was opened (the
-- decision whether to investigate said yes), and its time limit was extended.
DROP INDEX status_history_answers;
CREATE UNIQUE INDEX status_history_answers ON status_history(message_id, status)
    WHERE status IN ('assessed', 'acknowledged', 'decided', 'investigation_opened',
                     'investigation_extended', 'investigation_ended', 'concluded');
