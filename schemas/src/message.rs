//! The message on the wire: what the gateway puts on the broker for an adapter (a
//! [`Parcel`]: the routed message as canonical JSON, or, for a recipient with a key of its
//! own, a [`SealedMessage`]) and the values it is made of.

use crate::directory::{AgencyId, AgencyType};
use serde::{Deserialize, Serialize};
use std::fmt;

crate::named! {
    /// The message kinds the gateway carries; each has a schema `schemas/kinds/<kind>.schema.json`.
    pub enum Kind {
        /// Bekymringsmelding from a public reporter to barnevern (Norway).
        #[strum(serialize = "no.bekymringsmelding")]
        NoBekymringsmelding,
        /// Referral to the municipality's police contact (Norway).
        #[strum(serialize = "no.politikontakt")]
        NoPolitikontakt,
        /// Urgent referral from barnevern or the barnevernvakt to the police (Norway).
        #[strum(serialize = "no.barnevern-politi")]
        NoBarnevernPoliti,
        /// Referral of a person at serious risk of violence in a close relationship to a
        /// multi-agency risk conference (MARAC-style; Norway).
        #[strum(serialize = "no.risikokonferanse")]
        NoRisikokonferanse,
        /// Request to the SSPF coordinator or the local SIG (Sweden).
        #[strum(serialize = "se.sspf-sig")]
        SeSspfSig,
        /// Orosanmälan: a report of a child at risk to the social services (Sweden).
        #[strum(serialize = "se.orosanmalan")]
        SeOrosanmalan,
        /// Underretning: a report of a child at risk to the municipality (Denmark).
        #[strum(serialize = "dk.underretning")]
        DkUnderretning,
        /// A case shared in the SSP cooperation under retsplejeloven § 115 (Denmark).
        #[strum(serialize = "dk.ssp")]
        DkSsp,
        /// A case shared in the PSP cooperation (police, social services, psychiatry) under
        /// retsplejeloven § 115 (Denmark).
        #[strum(serialize = "dk.psp")]
        DkPsp,
        /// A case shared in the KSP cooperation (prison and probation service, municipality,
        /// police) about a person released from custody, under retsplejeloven § 115 (Denmark).
        #[strum(serialize = "dk.ksp")]
        DkKsp,
        /// A referral to the local Infohus (municipality and police) about a risk of
        /// radicalisation (Denmark).
        #[strum(serialize = "dk.infohus")]
        DkInfohus,
    }
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Self::NoBekymringsmelding,
        Self::NoPolitikontakt,
        Self::NoBarnevernPoliti,
        Self::NoRisikokonferanse,
        Self::SeSspfSig,
        Self::SeOrosanmalan,
        Self::DkUnderretning,
        Self::DkSsp,
        Self::DkPsp,
        Self::DkKsp,
        Self::DkInfohus,
    ];

    /// The country whose law the kind serves (its name's prefix).
    pub fn country(self) -> crate::directory::Country {
        use crate::directory::Country;
        match self {
            Self::NoBekymringsmelding
            | Self::NoPolitikontakt
            | Self::NoBarnevernPoliti
            | Self::NoRisikokonferanse => Country::NO,
            Self::SeSspfSig | Self::SeOrosanmalan => Country::SE,
            Self::DkUnderretning | Self::DkSsp | Self::DkPsp | Self::DkKsp | Self::DkInfohus => {
                Country::DK
            }
        }
    }
}

/// A message id (a UUID): the one a sender chose (its idempotency key, with the sender), or
/// the gateway's (the id of the message downstream). Stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct MessageId(pub uuid::Uuid);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for MessageId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

// Stored as text, in SQLite and PostgreSQL alike.
impl<DB: sqlx::Database> sqlx::Type<DB> for MessageId
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for MessageId
where
    String: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut DB::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        self.to_string().encode(buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for MessageId
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(<&str as sqlx::Decode<DB>>::decode(value)?.parse()?)
    }
}

/// How soon the recipient must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Urgent,
}

/// The legal basis a message is sent under.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalBasisRef {
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What the envelope says of the person the message is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Subject {
    /// Age in whole years.
    Age(u8),
    /// Birth date, `YYYY-MM-DD`.
    BirthDate(String),
    /// Not yet born.
    Unborn(bool),
}

/// The sending agency, from the directory (never from the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutedSender {
    pub agency: AgencyId,
    #[serde(rename = "type")]
    pub agency_type: AgencyType,
    pub orgnr: String,
}

/// The AMQP header with the time the gateway published a message for its adapter (Unix
/// milliseconds): where the adapters measure its way to the recipient from.
pub const HEADER_ACCEPTED_AT_MS: &str = "x-accepted-at-ms";

/// The AMQP (and HTTP) header carrying the W3C trace context of a message: its trace id is
/// the one the sender's request carried, else the gateway's message id, so every hop of a
/// message shares it.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// A W3C `traceparent` (version 00, sampled) of the trace `trace_id` (32 hex digits) with a
/// fresh span id: the next hop of that trace.
pub fn traceparent(trace_id: &str) -> String {
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace_id}-{span}-01")
}

/// The trace id of a well-formed `traceparent` (W3C Trace Context § 3.2: lower-case hex, a
/// version other than `ff`, neither id all zeros; a version 00 has exactly four parts).
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let parts: Vec<&str> = traceparent.split('-').collect();
    let [version, trace, span, flags, ..] = parts[..] else {
        return None;
    };
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let zeros = |s: &str| s.bytes().all(|b| b == b'0');
    let well_formed = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.len() == 4)
        && hex(trace, 32)
        && !zeros(trace)
        && hex(span, 16)
        && !zeros(span)
        && hex(flags, 2);
    well_formed.then_some(trace)
}

/// A message on its way to an adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutedMessage {
    /// The gateway's id of the message (unique across senders).
    pub message_id: MessageId,
    /// The id the sender chose, for the recipient to quote back to the sender.
    pub sender_message_id: MessageId,
    pub kind: Kind,
    pub sender: RoutedSender,
    pub recipient: AgencyId,
    pub legal_basis: LegalBasisRef,
    pub urgency: Urgency,
    pub subject: Subject,
    pub payload: serde_json::Map<String, serde_json::Value>,
    /// When the gateway recorded it (RFC 3339, UTC).
    pub recorded_at: String,
}

/// A message already rendered for its recipient and sealed to the recipient's key (a JWE):
/// the adapter sees where it goes, never what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedMessage {
    /// The gateway's id of the message.
    pub message_id: MessageId,
    pub kind: Kind,
    pub recipient: AgencyId,
    pub urgency: Urgency,
    /// The sealed document's type (its renderer's).
    pub document_type: String,
    /// The document as a JWE in compact serialisation.
    pub sealed: String,
}

/// A message for a recipient without a key of its own, sealed on its way (a JWE of the
/// [`RoutedMessage`], to the adapters' delivery key): the broker's queues hold ciphertext,
/// and the adapter opens it for the last hop only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitMessage {
    /// The gateway's id of the message.
    pub message_id: MessageId,
    pub kind: Kind,
    pub recipient: AgencyId,
    pub urgency: Urgency,
    /// The routed message as a JWE in compact serialisation.
    pub transit: String,
}

/// What the gateway hands an adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Parcel {
    /// Rendered by the adapter (only once opened: it travels as [`Parcel::Transit`]).
    Routed(Box<RoutedMessage>),
    /// Rendered and sealed by the gateway.
    Sealed(SealedMessage),
    /// Sealed on its way, rendered by the adapter once opened.
    Transit(TransitMessage),
}

impl Parcel {
    /// The gateway's id of the message.
    pub fn message_id(&self) -> MessageId {
        match self {
            Self::Routed(m) => m.message_id,
            Self::Sealed(m) => m.message_id,
            Self::Transit(m) => m.message_id,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Self::Routed(m) => m.kind,
            Self::Sealed(m) => m.kind,
            Self::Transit(m) => m.kind,
        }
    }

    pub fn recipient(&self) -> &AgencyId {
        match self {
            Self::Routed(m) => &m.recipient,
            Self::Sealed(m) => &m.recipient,
            Self::Transit(m) => &m.recipient,
        }
    }

    pub fn urgency(&self) -> Urgency {
        match self {
            Self::Routed(m) => m.urgency,
            Self::Sealed(m) => m.urgency,
            Self::Transit(m) => m.urgency,
        }
    }

    /// The gateway's id of the message a parcel's bytes hold, whichever kind it is.
    pub fn id_of(body: &[u8]) -> Option<MessageId> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Id {
            message_id: MessageId,
        }
        serde_json::from_slice::<Id>(body)
            .ok()
            .map(|id| id.message_id)
    }

    /// `routed` sealed on its way to `key` (the adapters' delivery key).
    pub fn transit(routed: &RoutedMessage, key: &crate::seal::PublicJwk) -> Self {
        let body = serde_json::to_vec(routed).expect("a routed message serialises");
        Self::Transit(TransitMessage {
            message_id: routed.message_id,
            kind: routed.kind,
            recipient: routed.recipient.clone(),
            urgency: routed.urgency,
            transit: crate::seal::seal(&body, key, "application/json"),
        })
    }

    /// The parcel opened for its last hop: a transit parcel's routed message (with the
    /// adapters' delivery key `key`), checked against what its envelope says; any other
    /// parcel as it is.
    pub fn opened(self, key: Option<&crate::seal::PrivateJwk>) -> Result<Self, OpenError> {
        let Self::Transit(transit) = self else {
            return Ok(self);
        };
        let key = key.ok_or(OpenError::NoKey)?;
        let body = crate::seal::unseal(&transit.transit, key).map_err(OpenError::Unseal)?;
        let routed: RoutedMessage =
            serde_json::from_slice(&body).map_err(|_| OpenError::NotRouted)?;
        let agrees = routed.message_id == transit.message_id
            && routed.kind == transit.kind
            && routed.recipient == transit.recipient;
        agrees
            .then(|| Self::Routed(Box::new(routed)))
            .ok_or(OpenError::Disagrees)
    }
}

/// Why a transit parcel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("a transit parcel, and no delivery key to open it (runtime.delivery_key)")]
    NoKey,
    #[error("the transit parcel does not open with the delivery key: {0}")]
    Unseal(crate::seal::SealError),
    #[error("the opened transit parcel is not a routed message")]
    NotRouted,
    #[error("the opened transit parcel is not the message its envelope names")]
    Disagrees,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_id_is_read_only_from_a_well_formed_traceparent() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let span = "00f067aa0ba902b7";
        assert_eq!(trace_id(&format!("00-{trace}-{span}-01")), Some(trace));
        // A later version may add parts after the flags.
        assert_eq!(trace_id(&format!("01-{trace}-{span}-01-more")), Some(trace));
        for bad in [
            format!("00-{trace}-{span}-01-more"),
            format!("ff-{trace}-{span}-01"),
            format!("00-{}-{span}-01", "0".repeat(32)),
            format!("00-{trace}-{}-01", "0".repeat(16)),
            format!("00-{}-{span}-01", trace.to_uppercase()),
            format!("00-{trace}-{span}"),
            format!("00-{}-{span}-01", &trace[1..]),
            String::new(),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
        let made = traceparent(trace);
        assert_eq!(trace_id(&made), Some(trace));
    }
}
