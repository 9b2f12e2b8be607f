//! Rows as every backend reads them: the statements and the mapping of their rows.

use super::{
    Affected, AuditEntry, Disclosure, DueCheck, Outgoing, Status, StatusEntry, StatusView,
    StoreError, timestamp,
};
use crate::consent::Consent;
use crate::keys::{Locked, LockedKey};
use contract::directory::AgencyId;
use contract::message::MessageId;
use time::OffsetDateTime;

pub use contract::plumbing::sql::Columns;

/// A row's text column holding an id or a name, parsed.
pub trait Parsed: Columns {
    /// The column `name`, parsed.
    fn parsed<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        let text = self.text(name)?;
        text.parse()
            .map_err(|_| StoreError::Corrupt(format!("{name} {text:?}")))
    }
}

impl<R: Columns + ?Sized> Parsed for R {}

/// The columns of a message to publish (add `FROM` or `RETURNING` around them).
pub const OUTGOING: &str =
    "id, sender, kind, legal_basis, routing_key, routed, key_id, wrapped_key, attempts, trace_id";

/// The statuses after which nothing more happens to a message.
pub const FINAL: &str = "'failed', 'expired', 'withdrawn'";

/// Messages with their history, one row per later history entry (one with none if it has
/// none yet; add the filter and the order: `h.seq` last). A message's first two steps are
/// its row's times: `recorded` its `created_at`, `queued` its `queued_at` (none until then).
pub const VIEWS: &str = "SELECT m.id, m.client_id, m.kind, m.recipient, m.legal_basis, m.status,
        m.erased_at, m.created_at, m.queued_at, h.status AS h_status, h.at, h.reason
     FROM messages m LEFT JOIN status_history h ON h.message_id = m.id";

/// The views of rows of [`VIEWS`], ordered by message.
pub fn views<R: Parsed>(rows: Vec<R>) -> Result<Vec<StatusView>, StoreError> {
    let mut views: Vec<StatusView> = Vec::new();
    let entry = |status, at| StatusEntry {
        status,
        at,
        reason: None,
    };
    for row in rows {
        let id: MessageId = row.parsed("id")?;
        if views.last().is_none_or(|v| v.gateway_id != id) {
            let mut history = vec![entry(Status::Recorded, row.text("created_at")?)];
            history.extend(
                row.maybe_text("queued_at")?
                    .map(|at| entry(Status::Queued, at)),
            );
            views.push(StatusView {
                message_id: row.parsed("client_id")?,
                gateway_id: id,
                kind: row.parsed("kind")?,
                recipient: AgencyId(row.text("recipient")?),
                legal_basis: row.text("legal_basis")?,
                status: row.parsed("status")?,
                history,
                payload_erased_at: row.maybe_text("erased_at")?,
            });
        }
        if row.maybe_text("h_status")?.is_some() {
            views.last_mut().expect("pushed").history.push(StatusEntry {
                status: row.parsed("h_status")?,
                at: row.text("at")?,
                reason: row.maybe_text("reason")?,
            });
        }
    }
    Ok(views)
}

/// The message to publish of a row with the columns of [`OUTGOING`].
pub fn outgoing<R: Parsed>(row: &R) -> Result<Outgoing, StoreError> {
    let id: MessageId = row.parsed("id")?;
    // Sealed at start-up if an earlier version stored it in clear; none is erased while
    // it waits for the broker.
    let key_id = row.maybe_text("key_id")?;
    let key_id =
        key_id.ok_or_else(|| StoreError::Corrupt(format!("message {id} has no data key")))?;
    Ok(Outgoing {
        id,
        sender: AgencyId(row.text("sender")?),
        kind: row.parsed("kind")?,
        legal_basis: row.text("legal_basis")?,
        routing_key: row.text("routing_key")?,
        routed: Locked {
            key: LockedKey {
                key_id,
                wrapped: row.bytes("wrapped_key")?,
            },
            ciphertext: row.bytes("routed")?,
        },
        attempts: row.int("attempts")?,
        trace_id: row.maybe_text("trace_id")?,
    })
}

/// The audit entry of an `audit` row (`seq`, `at`, `actor`, `action`, `message_id`, `kind`,
/// `legal_basis`, `recipient`, `subject_hash`, `chain`).
pub fn audit_entry<R: Parsed>(r: &R) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.int("seq")?,
        at: r.text("at")?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        message_id: r.text("message_id")?,
        kind: r.text("kind")?,
        legal_basis: r.text("legal_basis")?,
        recipient: r.text("recipient")?,
        subject_hash: r.maybe_text("subject_hash")?,
        chain: r.maybe_text("chain")?,
    })
}

/// The disclosure of a `messages` row (`id`, `sender`, `recipient`, `kind`, `legal_basis`,
/// `created_at`, `status`, `updated_at`).
pub fn disclosure<R: Parsed>(r: &R) -> Result<Disclosure, StoreError> {
    Ok(Disclosure {
        message_id: r.parsed("id")?,
        sender: AgencyId(r.text("sender")?),
        recipient: AgencyId(r.text("recipient")?),
        kind: r.parsed("kind")?,
        legal_basis: r.text("legal_basis")?,
        recorded_at: r.text("created_at")?,
        status: r.parsed("status")?,
        status_at: r.text("updated_at")?,
    })
}

/// A statement with text values for its `$n` parameters.
pub struct Statement {
    pub sql: String,
    pub values: Vec<Option<String>>,
}

/// The view of the message `sender` sent under its id `client_id`: found by its gateway id,
/// or, recorded before ids were derived, by the id its sender chose, which it kept.
pub fn status(client_id: &MessageId, sender: &AgencyId) -> Statement {
    Statement {
        sql: format!(
            "{VIEWS} WHERE m.id IN ($1, $3) AND m.client_id = $1 AND m.sender = $2 ORDER BY h.seq"
        ),
        values: vec![
            Some(client_id.to_string()),
            Some(sender.0.clone()),
            Some(super::gateway_id(sender, client_id).to_string()),
        ],
    }
}

/// The views of every message not yet in a final status (of `sender`, if given), oldest
/// first.
pub fn open_messages(sender: Option<&str>) -> Statement {
    Statement {
        sql: format!(
            "{VIEWS} WHERE m.status NOT IN ({FINAL}) AND ($1 IS NULL OR m.sender = $1)
             ORDER BY m.created_at, m.id, h.seq"
        ),
        values: vec![sender.map(str::to_owned)],
    }
}

/// The views of the messages recorded since `since`, newest first, at most
/// [`super::RECENT_MAX`].
pub fn recent(since: OffsetDateTime) -> Statement {
    Statement {
        sql: format!(
            "{VIEWS} WHERE m.id IN (SELECT id FROM messages WHERE created_at >= $1
                 ORDER BY created_at DESC LIMIT {})
             ORDER BY m.created_at DESC, m.id, h.seq",
            super::RECENT_MAX
        ),
        values: vec![Some(timestamp(since))],
    }
}

/// Whether the history of the message `m` holds `status` (before `cutoff`, an SQL
/// expression, if given): its row's times for the first two steps, its history's entries
/// for the rest; `param` binds a value.
fn reached(status: Status, cutoff: Option<&str>, param: &mut impl FnMut(&str) -> String) -> String {
    let before = |at: &str| cutoff.map_or(String::new(), |cutoff| format!(" AND {at} < {cutoff}"));
    match status {
        Status::Recorded => format!("TRUE{}", before("m.created_at")),
        Status::Queued => format!("m.queued_at IS NOT NULL{}", before("m.queued_at")),
        status => format!(
            "EXISTS (SELECT 1 FROM status_history h
                 WHERE h.message_id = m.id AND h.status = {}{})",
            param(status.as_str()),
            before("h.at")
        ),
    }
}

/// The views of every message (of `sender`, if given) that one of `checks` finds, oldest
/// first (`checks` not empty).
pub fn past_due(checks: &[DueCheck], sender: Option<&str>) -> Statement {
    let mut values = vec![sender.map(str::to_owned)];
    let mut param = |value: &str| {
        values.push(Some(value.to_owned()));
        format!("${}", values.len())
    };
    let conditions: Vec<String> = checks
        .iter()
        .map(|c| {
            let (kind, cutoff) = (param(c.kind.as_str()), param(&timestamp(c.cutoff)));
            let after = reached(c.after, Some(&cutoff), &mut param);
            let unmet: String = c
                .met_by
                .iter()
                .map(|s| format!(" AND NOT ({})", reached(*s, None, &mut param)))
                .collect();
            format!("(m.kind = {kind} AND {after}{unmet})")
        })
        .collect();
    let sql = format!(
        "{VIEWS} WHERE m.id IN (SELECT m.id FROM messages m
             WHERE m.status NOT IN ({FINAL}) AND ($1 IS NULL OR m.sender = $1)
               AND ({}))
         ORDER BY m.created_at, m.id, h.seq",
        conditions.join(" OR ")
    );
    Statement { sql, values }
}

/// A message sent under a withdrawn consent, of a `messages` row (`id`, `client_id`,
/// `routing_key`, `recipient`, `status`).
pub fn affected<R: Parsed>(r: &R) -> Result<(Affected, super::Status), StoreError> {
    let affected = Affected {
        id: r.parsed("id")?,
        client_id: r.parsed("client_id")?,
        routing_key: r.text("routing_key")?,
        recipient: r.text("recipient")?,
    };
    Ok((affected, r.parsed("status")?))
}

/// The consent of a `consents` row (`subject_hash`, `record`, `withdrawn_at`).
pub fn consent<R: Parsed>(r: &R) -> Result<Consent, StoreError> {
    let record = r.text("record")?;
    let mut consent: Consent = serde_json::from_str(&record)
        .map_err(|e| StoreError::Corrupt(format!("consent record: {e}")))?;
    consent.subject_hash = r.text("subject_hash")?;
    consent.withdrawn_at = r.maybe_text("withdrawn_at")?;
    Ok(consent)
}
