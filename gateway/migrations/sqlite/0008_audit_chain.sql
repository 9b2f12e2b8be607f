-- The audit trail is tamper-evident: `chain` is an HMAC (the audit key of the key file) of
-- the previous entry's chain and this entry, written in order of `seq` by the gateway right
-- after the entry (gateway/src/record/audit.rs). A changed, removed or reordered entry breaks
-- the chain from there on; `gateway audit verify` finds it.
ALTER TABLE audit ADD COLUMN chain TEXT;

-- The keyed hash of the person an entry concerns, where it concerns one (a data protection
-- officer's disclosure report: whose disclosures were looked up, never who they are).
ALTER TABLE audit ADD COLUMN subject_hash TEXT;
