//! The hot writes written as a few statements for many: multi-row `INSERT`s, `UPDATE`s by
//! lists of ids, each `RETURNING` what it changed.

use super::script::{Rows, Script};
use super::sorted::{Move, Sorted};
use crate::record::audit::{AuditEntry, ChainLink};
use crate::record::{NewMessage, Status, timestamp};
use contract::message::MessageId;
use contract::plumbing::sql::Value;
use std::collections::HashSet;
use std::ops::Range;
use time::OffsetDateTime;

/// Ids one statement changes at most.
const IDS: usize = 500;

/// The values of one recorded message's row.
const COLUMNS: usize = 19;

/// Chain values one statement writes at most (SQLite's cost is the square of a statement's
/// parameters: see its `Backend::ROWS`).
pub const LINKS: usize = 100;

/// The texts a batch's statements bind, made once.
pub(super) struct Texts {
    /// Per record: its id, client id, lease and subject hashes.
    pub(super) records: Vec<[String; 4]>,
    pub(super) queued: Vec<String>,
    pub(super) moves: Vec<Vec<String>>,
}

impl Texts {
    pub(super) fn of(sorted: &Sorted) -> Self {
        let ids = |ids: &[MessageId]| ids.iter().map(MessageId::to_string).collect();
        Self {
            records: sorted
                .records
                .iter()
                .map(|(msg, lease_until)| {
                    [
                        msg.id.to_string(),
                        msg.client_id.to_string(),
                        timestamp(*lease_until),
                        serde_json::to_string(&msg.subject_hashes).expect("hashes serialise"),
                    ]
                })
                .collect(),
            queued: ids(&sorted.queued),
            moves: sorted.moves.iter().map(|m| ids(&m.ids)).collect(),
        }
    }
}

/// The hot writes at the time `at`, written into a script, `rows` messages a statement.
pub(super) struct Statements<'a> {
    pub(super) at: &'a str,
    pub(super) rows: usize,
}

/// `$first, $first+1, …` for `n` parameters.
fn params(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> Statements<'a> {
    /// Records the messages, a statement per `self.rows`, each returning the ids it inserted;
    /// their places in the script.
    pub(super) fn record(
        &self,
        script: &mut Script<'a>,
        records: &'a [(Box<NewMessage>, OffsetDateTime)],
        texts: &'a Texts,
        instance: &'a str,
    ) -> Range<usize> {
        let first = script.len();
        let rows = self.rows;
        for (chunk, texts) in records.chunks(rows).zip(texts.records.chunks(rows)) {
            let mut values = Vec::with_capacity(chunk.len() * COLUMNS);
            for ((msg, _), [id, client_id, lease_until, hashes]) in chunk.iter().zip(texts) {
                values.extend([
                    Value::Text(Some(id)),
                    Value::Text(Some(client_id)),
                    Value::Text(Some(&msg.sender.0)),
                    Value::Text(msg.supplier.as_deref()),
                    Value::Text(Some(&msg.recipient.0)),
                    Value::Text(Some(msg.kind.as_str())),
                    Value::Text(Some(&msg.legal_basis)),
                    Value::Text(Some(&msg.body_hash)),
                    Value::Text(Some(&msg.routing_key)),
                    Value::Bytes(&msg.routed.ciphertext),
                    Value::Text(Some(&msg.routed.key.key_id)),
                    Value::Bytes(&msg.routed.key.wrapped),
                    Value::Text(Some(Status::Recorded.as_str())),
                    Value::Text(Some(self.at)),
                    Value::Text(Some(lease_until)),
                    Value::Text(msg.consent_ref.as_deref()),
                    Value::Text(Some(instance)),
                    Value::Text(Some(hashes)),
                    Value::Text(msg.trace_id.as_deref()),
                ]);
            }
            let rows = chunk.len();
            script.push(
                |first| {
                    let rows: Vec<String> = (0..rows)
                        .map(|row| {
                            let p = first + COLUMNS * row;
                            // created_at and updated_at are both the time of the batch.
                            format!("({}, ${}, {})", params(p, 14), p + 13, params(p + 14, 5))
                        })
                        .collect();
                    format!(
                        "INSERT INTO messages (id, client_id, sender, supplier, recipient, kind, legal_basis, body_hash, routing_key, routed, key_id, wrapped_key, status, created_at, updated_at, next_attempt_at, consent_ref, claimed_by, subject_hashes, trace_id)
                         VALUES {} ON CONFLICT DO NOTHING RETURNING id",
                        rows.join(", ")
                    )
                },
                values,
            );
        }
        first..script.len()
    }

    /// Marks the messages `ids` queued (those still recorded), each statement returning
    /// the ids it marked; their places in the script.
    pub(super) fn mark_queued(&self, script: &mut Script<'a>, ids: &'a [String]) -> Range<usize> {
        self.changing(
            script,
            "UPDATE messages SET status = {status}, updated_at = {at}, queued_at = {at}, next_attempt_at = NULL
             WHERE status IN ({statuses}) AND id IN ({ids}) RETURNING id",
            &[
                ("{status}", Some(Status::Queued.as_str())),
                ("{at}", Some(self.at)),
            ],
            &[Status::Recorded],
            ids,
        )
    }

    /// Moves the messages of `m` (`ids`) to its status where they may move there from
    /// where they are, or writes it into their history once where it is an answer (the
    /// unique index on answers keeps a repeated one out); their places in the script.
    pub(super) fn advance(
        &self,
        script: &mut Script<'a>,
        m: &'a Move,
        ids: &'a [String],
    ) -> Range<usize> {
        let binds = [
            ("{status}", Some(m.status.as_str())),
            ("{reason}", m.reason.as_deref()),
            ("{at}", Some(self.at)),
        ];
        if m.status.is_answer() {
            return self.changing(
                script,
                "INSERT INTO status_history (message_id, status, at, reason)
                 SELECT id, {status}, {at}, {reason} FROM messages
                 WHERE status IN ({statuses}) AND id IN ({ids})
                 ON CONFLICT DO NOTHING RETURNING message_id",
                &binds,
                Status::ANSWERED_IN,
                ids,
            );
        }
        self.changing(
            script,
            "UPDATE messages SET status = {status}, status_reason = {reason}, updated_at = {at}, next_attempt_at = NULL
             WHERE status IN ({statuses}) AND id IN ({ids}) RETURNING id",
            &binds,
            m.status.follows(),
            ids,
        )
    }

    /// `sql` with each placeholder of `binds` bound to its value, `{statuses}` to
    /// `statuses` and `{ids}` to up to [`IDS`] of `ids` at a time (a statement each); their
    /// places in the script. No statement if `statuses` is empty: nothing may move.
    fn changing(
        &self,
        script: &mut Script<'a>,
        sql: &'static str,
        binds: &[(&'static str, Option<&'a str>)],
        statuses: &'static [Status],
        ids: &'a [String],
    ) -> Range<usize> {
        let first = script.len();
        if statuses.is_empty() {
            return first..first;
        }
        for chunk in ids.chunks(IDS) {
            let values = binds
                .iter()
                .map(|(_, v)| Value::Text(*v))
                .chain(statuses.iter().map(|s| Value::Text(Some(s.as_str()))))
                .chain(chunk.iter().map(|id| Value::Text(Some(id))))
                .collect();
            script.push(
                |first| {
                    let sql = binds
                        .iter()
                        .zip(first..)
                        .fold(sql.to_string(), |sql, ((name, _), p)| {
                            sql.replace(name, &format!("${p}"))
                        });
                    let first = first + binds.len();
                    sql.replace("{statuses}", &params(first, statuses.len()))
                        .replace("{ids}", &params(first + statuses.len(), chunk.len()))
                },
                values,
            );
        }
        first..script.len()
    }
}

/// The audit entries of the records that recorded a new message (where `new` says so, in
/// the batch's order), numbered on from `after` at the time `at`, not chained yet.
pub(super) fn recorded_entries(
    records: &[(Box<NewMessage>, OffsetDateTime)],
    texts: &Texts,
    new: &[bool],
    at: &str,
    after: i64,
) -> Vec<AuditEntry> {
    records
        .iter()
        .zip(&texts.records)
        .zip(new)
        .filter_map(|(record, new)| new.then_some(record))
        .zip(after + 1..)
        .map(|(((msg, _), [id, ..]), seq)| AuditEntry {
            seq,
            at: at.to_owned(),
            actor: match &msg.supplier {
                Some(supplier) => format!("{} supplier:{supplier}", msg.sender),
                None => msg.sender.0.clone(),
            },
            action: "recorded".into(),
            message_id: id.clone(),
            kind: msg.kind.as_str().to_owned(),
            legal_basis: msg.legal_basis.clone(),
            recipient: msg.recipient.0.clone(),
            subject_hash: None,
            chain: None,
        })
        .collect()
}

/// Appends the chained audit `entries`, a statement per `rows`.
pub(super) fn append<'a>(script: &mut Script<'a>, entries: &'a [AuditEntry], rows: usize) {
    const COLUMNS: usize = 9;
    for chunk in entries.chunks(rows) {
        let values = chunk
            .iter()
            .flat_map(|e| {
                [
                    Value::Int(e.seq),
                    Value::Text(Some(&e.at)),
                    Value::Text(Some(&e.actor)),
                    Value::Text(Some(&e.action)),
                    Value::Text(Some(&e.message_id)),
                    Value::Text(Some(&e.kind)),
                    Value::Text(Some(&e.legal_basis)),
                    Value::Text(Some(&e.recipient)),
                    Value::Text(e.chain.as_deref()),
                ]
            })
            .collect();
        script.push(
            |first| {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|row| format!("({})", params(first + COLUMNS * row, COLUMNS)))
                    .collect();
                format!(
                    "INSERT INTO audit (seq, at, actor, action, message_id, kind, legal_basis, recipient, chain)
                     VALUES {}",
                    rows.join(", ")
                )
            },
            values,
        );
    }
}

/// Writes the chain value of each of `links` (`seqs` their `seq`s) whose entry has none,
/// a statement per [`LINKS`] (the audit entries a transaction wrote: [`crate::record::audit::chained`]).
pub fn chain<'a>(script: &mut Script<'a>, links: &'a [ChainLink], seqs: &'a [String]) {
    for (chunk, seqs) in links.chunks(LINKS).zip(seqs.chunks(LINKS)) {
        let values = chunk
            .iter()
            .zip(seqs)
            .flat_map(|(link, seq)| [Value::Text(Some(seq)), Value::Text(Some(&link.chain))])
            .collect();
        script.push(
            |first| {
                let links: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
                    .collect();
                format!(
                    "UPDATE audit SET chain = links.column2 FROM (VALUES {}) AS links
                     WHERE audit.seq = CAST(links.column1 AS BIGINT) AND audit.chain IS NULL",
                    links.join(", ")
                )
            },
            values,
        );
    }
}

/// Finds the messages held under any of `ids`, a statement per `rows` ids: for a repeated
/// record, its gateway id and, for a message recorded before ids were derived, the id its
/// sender chose (which that message kept as its own); the caller matches the rows to the
/// records by sender and client id.
pub(super) fn existing<'a>(script: &mut Script<'a>, ids: &[&'a str], rows: usize) {
    for chunk in ids.chunks(rows) {
        let values = chunk.iter().map(|id| Value::Text(Some(id))).collect();
        script.push(
            |first| {
                format!(
                    "SELECT sender, client_id, body_hash, status FROM messages WHERE id IN ({})",
                    params(first, chunk.len())
                )
            },
            values,
        );
    }
}

/// For each of `ids`, whether its first occurrence came back in `rows` (a repeated one did
/// not change anything).
pub(super) fn changed(ids: &[String], rows: Vec<Rows>) -> Vec<bool> {
    let mut changed: HashSet<String> = rows.into_iter().flatten().flatten().collect();
    ids.iter().map(|id| changed.remove(id)).collect()
}
