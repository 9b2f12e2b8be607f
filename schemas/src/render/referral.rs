//! Referrals to an inbox (`schemas/inbox.openapi.yaml`, `Referral`): the routed message as
//! it is, ids, sender, legal basis and payload.

use super::{Rendered, Renderer};
use crate::directory::AgencyType;
use crate::message::{Kind, RoutedMessage};

pub(super) const POLITIKONTAKT: Renderer = Renderer {
    kind: Kind::NoPolitikontakt,
    recipients: &[AgencyType::Police],
    render: |msg| as_referral(msg, "no.politikontakt"),
};

pub(super) const SSPF_SIG: Renderer = Renderer {
    kind: Kind::SeSspfSig,
    recipients: &[AgencyType::SspfSamordnare, AgencyType::Sig],
    render: |msg| as_referral(msg, "se.sspf-sig"),
};

fn as_referral(msg: &RoutedMessage, type_name: &'static str) -> Rendered {
    Rendered {
        type_name,
        body: serde_json::to_value(msg).expect("a routed message serialises"),
    }
}
