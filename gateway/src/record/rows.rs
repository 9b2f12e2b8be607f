//! Rows as every backend reads them: the statements and the mapping of their rows.

use super::{
    Affected, AuditEntry, Disclosure, DueCheck, Outgoing, StatusEntry, StatusView, StoreError,
    timestamp,
};
use crate::consent::Consent;
use crate::keys::{Locked, LockedKey};
use contract::message::MessageId;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// The columns of a message to publish (add `FROM` or `RETURNING` around them).
pub const OUTGOING: &str =
    "id, sender, kind, legal_basis, routing_key, routed, key_id, wrapped_key, attempts";

/// Claims the publish of one unconfirmed message whose claim has run out: `$1` the lease's
/// end, `$2` the instance, `$3` the message, `$4` now. The message to publish, if it won.
pub const CLAIM: &str = "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
     WHERE id = $3 AND status = 'recorded' AND next_attempt_at IS NOT NULL
       AND next_attempt_at <= $4
     RETURNING id, sender, kind, legal_basis, routing_key, routed, key_id, wrapped_key, attempts";

/// The statuses after which nothing more happens to a message.
pub const FINAL: &str = "'failed', 'expired', 'withdrawn'";

/// Messages with their history, one row per history entry (add the filter and the order).
pub const VIEWS: &str = "SELECT m.id, m.client_id, m.kind, m.recipient, m.legal_basis, m.status,
        m.erased_at, h.status AS h_status, h.at, h.reason
     FROM messages m JOIN status_history h ON h.message_id = m.id";

/// The views of rows of [`VIEWS`], ordered by message.
pub fn views<R: Row>(rows: Vec<R>) -> Result<Vec<StatusView>, StoreError>
where
    for<'r> &'r str: Decode<'r, R::Database>,
    for<'r> String: Decode<'r, R::Database>,
    String: Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database>,
    i64: Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let mut views: Vec<StatusView> = Vec::new();
    for row in rows {
        let id: MessageId = row.try_get("id")?;
        if views.last().is_none_or(|v| v.gateway_id != id) {
            views.push(StatusView {
                message_id: row.try_get("client_id")?,
                gateway_id: id,
                kind: row.try_get("kind")?,
                recipient: row.get("recipient"),
                legal_basis: row.get("legal_basis"),
                status: row.try_get("status")?,
                history: Vec::new(),
                payload_erased_at: row.try_get("erased_at")?,
            });
        }
        views.last_mut().expect("pushed").history.push(StatusEntry {
            status: row.try_get("h_status")?,
            at: row.get("at"),
            reason: row.get("reason"),
        });
    }
    Ok(views)
}

/// The message to publish of a row with the columns of [`OUTGOING`].
pub fn outgoing<R: Row>(row: &R) -> Result<Outgoing, StoreError>
where
    for<'r> &'r str: Decode<'r, R::Database>,
    for<'r> String: Decode<'r, R::Database>,
    String: Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database>,
    i64: Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let id: MessageId = row.try_get("id")?;
    // Sealed at start-up if an earlier version stored it in clear; none is erased while
    // it waits for the broker.
    let key_id: Option<String> = row.try_get("key_id")?;
    let key_id =
        key_id.ok_or_else(|| StoreError::Corrupt(format!("message {id} has no data key")))?;
    Ok(Outgoing {
        id,
        sender: row.try_get("sender")?,
        kind: row.try_get("kind")?,
        legal_basis: row.try_get("legal_basis")?,
        routing_key: row.try_get("routing_key")?,
        routed: Locked {
            key: LockedKey {
                key_id,
                wrapped: row.try_get("wrapped_key")?,
            },
            ciphertext: row.try_get("routed")?,
        },
        attempts: row.try_get("attempts")?,
    })
}

/// The audit entry of a row with the columns of [`AUDIT_ENTRIES`].
pub fn audit_entry<R: Row>(r: &R) -> Result<AuditEntry, StoreError>
where
    for<'r> &'r str: Decode<'r, R::Database>,
    for<'r> String: Decode<'r, R::Database>,
    String: Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database>,
    i64: Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        message_id: r.try_get("message_id")?,
        kind: r.try_get("kind")?,
        legal_basis: r.try_get("legal_basis")?,
        recipient: r.try_get("recipient")?,
        subject_hash: r.try_get("subject_hash")?,
        chain: r.try_get("chain")?,
    })
}

/// Up to `$2` audit entries after `$1`, in `seq` order.
pub const AUDIT_ENTRIES: &str =
    "SELECT seq, at, actor, action, message_id, kind, legal_basis, recipient, subject_hash, chain
     FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2";

/// The disclosure of a row with the columns of [`DISCLOSED`].
pub fn disclosure<R: Row>(r: &R) -> Result<Disclosure, StoreError>
where
    for<'r> &'r str: Decode<'r, R::Database>,
    for<'r> String: Decode<'r, R::Database>,
    String: Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database>,
    i64: Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    Ok(Disclosure {
        message_id: r.try_get("id")?,
        sender: r.try_get("sender")?,
        recipient: r.try_get("recipient")?,
        kind: r.try_get("kind")?,
        legal_basis: r.try_get("legal_basis")?,
        recorded_at: r.try_get("created_at")?,
        status: r.try_get("status")?,
        status_at: r.try_get("updated_at")?,
    })
}

/// The columns of a disclosure (add `FROM messages` and the filter).
pub const DISCLOSED: &str =
    "SELECT id, sender, recipient, kind, legal_basis, created_at, status, updated_at";

/// A statement with text values for its `$n` parameters.
pub struct Statement {
    pub sql: String,
    pub values: Vec<Option<String>>,
}

/// The view of the message `sender` sent under its id `client_id`.
pub fn status(client_id: &MessageId, sender: &str) -> Statement {
    Statement {
        sql: format!("{VIEWS} WHERE m.client_id = $1 AND m.sender = $2 ORDER BY h.seq"),
        values: vec![Some(client_id.to_string()), Some(sender.to_owned())],
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
            let (kind, after, cutoff) = (
                param(c.kind.as_str()),
                param(c.after.as_str()),
                param(&timestamp(c.cutoff)),
            );
            let met_by: Vec<String> = c.met_by.iter().map(|s| param(s.as_str())).collect();
            let unmet = if met_by.is_empty() {
                "TRUE".to_owned()
            } else {
                format!(
                    "NOT EXISTS (SELECT 1 FROM status_history d
                        WHERE d.message_id = m.id AND d.status IN ({}))",
                    met_by.join(", ")
                )
            };
            format!(
                "(m.kind = {kind} AND EXISTS (SELECT 1 FROM status_history a
                    WHERE a.message_id = m.id AND a.status = {after} AND a.at < {cutoff})
                 AND {unmet})"
            )
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

/// A message sent under a withdrawn consent, of a row with the columns of [`UNDER_CONSENT`].
pub fn affected<R: Row>(r: &R) -> Result<(Affected, super::Status), StoreError>
where
    for<'r> &'r str: Decode<'r, R::Database>,
    for<'r> String: Decode<'r, R::Database>,
    String: Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database>,
    i64: Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let affected = Affected {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        routing_key: r.try_get("routing_key")?,
    };
    Ok((affected, r.try_get("status")?))
}

/// The messages `$1` sent under its consent `$2`, oldest first.
pub const UNDER_CONSENT: &str = "SELECT id, client_id, routing_key, status FROM messages
     WHERE sender = $1 AND consent_ref = $2 ORDER BY created_at";

/// The consent of a row with the columns of [`CONSENT`].
pub fn consent<R: Row>(r: &R) -> Result<Consent, StoreError>
where
    for<'r> &'r str: Decode<'r, R::Database>,
    for<'r> String: Decode<'r, R::Database>,
    String: Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database>,
    i64: Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let record: String = r.try_get("record")?;
    let mut consent: Consent = serde_json::from_str(&record)
        .map_err(|e| StoreError::Corrupt(format!("consent record: {e}")))?;
    consent.subject_hash = r.try_get("subject_hash")?;
    consent.withdrawn_at = r.try_get("withdrawn_at")?;
    Ok(consent)
}

/// The consent `$1` recorded under `$2`.
pub const CONSENT: &str = "SELECT subject_hash, record, withdrawn_at FROM consents
     WHERE organisation = $1 AND id = $2";

/// The reasons of the refusals of message `$1` from `$2`, oldest first.
pub const REFUSALS: &str =
    "SELECT reasons FROM refusals WHERE message_id = $1 AND sender = $2 ORDER BY seq";

/// The reasons of refusals as stored.
pub fn reasons(stored: &[String]) -> Result<Vec<serde_json::Value>, StoreError> {
    stored
        .iter()
        .map(|r| serde_json::from_str(r).map_err(|e| StoreError::Corrupt(format!("refusal: {e}"))))
        .collect()
}
