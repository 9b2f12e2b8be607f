-- Adapters by transport: the routing keys `barnevern.<recipient>` become `queue.<recipient>`,
-- `politikontakt.<recipient>` and `sspf.<recipient>` become `inbox.<recipient>` (the outbox
-- republishes by the stored key), and the accepted counts follow.
UPDATE messages SET routing_key = 'queue.' || substr(routing_key, length('barnevern.') + 1)
    WHERE routing_key LIKE 'barnevern.%';
UPDATE messages SET routing_key = 'inbox.' || substr(routing_key, length('politikontakt.') + 1)
    WHERE routing_key LIKE 'politikontakt.%';
UPDATE messages SET routing_key = 'inbox.' || substr(routing_key, length('sspf.') + 1)
    WHERE routing_key LIKE 'sspf.%';
CREATE TABLE accepted_counts_by_transport (
    adapter   TEXT PRIMARY KEY,
    accepted  INTEGER NOT NULL
);
INSERT INTO accepted_counts_by_transport (adapter, accepted)
    SELECT CASE adapter WHEN 'barnevern' THEN 'queue' WHEN 'politikontakt' THEN 'inbox'
                        WHEN 'sspf' THEN 'inbox' ELSE adapter END, sum(accepted)
    FROM accepted_counts GROUP BY 1;
DELETE FROM accepted_counts;
INSERT INTO accepted_counts (adapter, accepted)
    SELECT adapter, accepted FROM accepted_counts_by_transport;
DROP TABLE accepted_counts_by_transport;
