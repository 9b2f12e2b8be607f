//! Decide: whether a parsed message may go where it says, under the basis it names.
//!
//! Here the first checks: the recipient is a receiving agency of the directory, the legal
//! basis is in the catalog, in force, and covers the kind, the sender's agency type and the
//! recipient's; a bekymringsmelding goes to the barnevern of the child's municipality and
//! names the sender's own organisation as the reporter's.

use crate::catalog::{Basis, BasisRefusal, Catalog};
use crate::directory::{AdapterKind, Agency, Directory};
use crate::parse::{Envelope, Kind};

/// Where an allowed message goes.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    pub basis: &'a Basis,
    pub recipient: &'a Agency,
    pub adapter: AdapterKind,
}

/// Why a message may not be sent; each names the rule and the field, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The recipient is not in the directory, or takes no messages.
    UnknownRecipient,
    /// The recipient does not fit the message (field pointer).
    RecipientMismatch { pointer: &'static str },
    /// The message names an organisation that is not the sender's (field pointer).
    SenderMismatch { pointer: &'static str },
    /// The legal basis does not carry the message.
    Basis(BasisRefusal),
}

/// Decides on one message from `sender`.
pub fn decide<'a>(
    sender: &Agency,
    envelope: &Envelope,
    directory: &'a Directory,
    catalog: &'a Catalog,
) -> Result<Route<'a>, Refusal> {
    let recipient = directory
        .get(&envelope.recipient)
        .ok_or(Refusal::UnknownRecipient)?;
    let adapter = recipient
        .delivery
        .as_ref()
        .ok_or(Refusal::UnknownRecipient)?
        .adapter();
    let basis = catalog
        .admit(
            &envelope.legal_basis.tag,
            envelope.kind,
            sender.agency_type,
            recipient.agency_type,
        )
        .map_err(Refusal::Basis)?;
    if envelope.kind == Kind::NoBekymringsmelding {
        const MUNICIPALITY: &str = "/kommunenummer";
        const ORGNR: &str = "/offentligMelder/virksomhet/orgnr";
        if envelope.payload.str_at(MUNICIPALITY) != Some(recipient.municipality.as_str()) {
            return Err(Refusal::RecipientMismatch {
                pointer: "/payload/kommunenummer",
            });
        }
        if envelope.payload.str_at(ORGNR) != Some(sender.orgnr.as_str()) {
            return Err(Refusal::SenderMismatch {
                pointer: "/payload/offentligMelder/virksomhet/orgnr",
            });
        }
    }
    Ok(Route {
        basis,
        recipient,
        adapter,
    })
}
