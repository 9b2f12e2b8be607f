//! Renderers: a routed message in its recipient's format, one per message kind. The
//! gateway and the adapters share them, so that either can render (the gateway, before it
//! seals a payload for its recipient). Adding a kind adds one file here and one line in
//! [`RENDERERS`].

mod ks_bekymringsmelding;

pub use ks_bekymringsmelding::KS_TYPE;
mod referral;

use crate::directory::AgencyType;
use crate::message::{Kind, Parcel, RoutedMessage};

/// A message in its recipient's format.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The document's type (the AMQP `type` of a receiving queue's message).
    pub type_name: &'static str,
    pub body: serde_json::Value,
}

/// How one kind is rendered, and who may receive it.
#[derive(Debug)]
pub struct Renderer {
    pub kind: Kind,
    /// The agency types that may receive the kind: a transport refuses to hand it to
    /// another (defence in depth behind the gateway's own check).
    pub recipients: &'static [AgencyType],
    pub render: fn(&RoutedMessage) -> Rendered,
}

/// Every kind's renderer.
pub const RENDERERS: &[Renderer] = &[
    ks_bekymringsmelding::RENDERER,
    referral::POLITIKONTAKT,
    referral::BARNEVERN_POLITI,
    referral::RISIKOKONFERANSE,
    referral::SSPF_SIG,
    referral::OROSANMALAN,
    referral::UNDERRETNING,
    referral::SSP,
    referral::PSP,
    referral::KSP,
    referral::INFOHUS,
];

/// The renderer of `kind`.
pub fn renderer(kind: Kind) -> &'static Renderer {
    RENDERERS
        .iter()
        .find(|r| r.kind == kind)
        .expect("every kind has a renderer")
}

/// Why a message cannot be rendered for its recipient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kind {kind} is not for an agency of type {recipient:?}")]
pub struct WrongRecipient {
    pub kind: Kind,
    pub recipient: AgencyType,
}

/// `msg` in the format of its kind, for a recipient of type `recipient`.
pub fn render(msg: &RoutedMessage, recipient: AgencyType) -> Result<Rendered, WrongRecipient> {
    let renderer = renderer(msg.kind);
    match renderer.recipients.contains(&recipient) {
        true => Ok((renderer.render)(msg)),
        false => Err(WrongRecipient {
            kind: msg.kind,
            recipient,
        }),
    }
}

/// The media type of a sealed document (RFC 7516 § 9: `application/jose`).
pub const JOSE: &str = "application/jose";

/// A document as it is handed to the recipient's system.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document's type (the AMQP `type` of a receiving queue's message).
    pub type_name: String,
    /// `application/json`, or [`JOSE`] for a sealed one.
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Why a parcel gives its recipient no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoDocument {
    #[error(transparent)]
    WrongRecipient(#[from] WrongRecipient),
    #[error("a transit parcel is opened before its last hop, not handed on")]
    Unopened,
}

/// `parcel` as its recipient (of type `recipient`) receives it: rendered here, or as the
/// gateway sealed it. Either way a kind that is not for the recipient's type is refused.
pub fn document(parcel: &Parcel, recipient: AgencyType) -> Result<Document, NoDocument> {
    match parcel {
        Parcel::Transit(_) => Err(NoDocument::Unopened),
        Parcel::Routed(msg) => Ok(render(msg, recipient).map(|rendered| Document {
            type_name: rendered.type_name.into(),
            content_type: "application/json",
            body: serde_json::to_vec(&rendered.body).expect("a document serialises"),
        })?),
        Parcel::Sealed(sealed) => match renderer(sealed.kind).recipients.contains(&recipient) {
            true => Ok(Document {
                type_name: sealed.document_type.clone(),
                content_type: JOSE,
                body: sealed.sealed.clone().into_bytes(),
            }),
            false => Err(WrongRecipient {
                kind: sealed.kind,
                recipient,
            }
            .into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_renderer() {
        for kind in Kind::ALL {
            assert_eq!(
                RENDERERS.iter().filter(|r| r.kind == kind).count(),
                1,
                "{kind}"
            );
        }
    }
}
