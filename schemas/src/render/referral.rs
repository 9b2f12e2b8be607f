//! Referrals as the routed message is, ids, sender, legal basis and payload: to an inbox
//! (`schemas/inbox.openapi.yaml`, `Referral`), or into a receiving queue for kinds that
//! have no national format of their own (orosanmälan, underretning).

use super::{Rendered, Renderer};
use crate::directory::AgencyType;
use crate::message::{Kind, RoutedMessage};

pub(super) const POLITIKONTAKT: Renderer = referral(Kind::NoPolitikontakt, &[AgencyType::Police]);

pub(super) const RISIKOKONFERANSE: Renderer =
    referral(Kind::NoRisikokonferanse, &[AgencyType::Risikokonferanse]);

pub(super) const SSPF_SIG: Renderer = referral(
    Kind::SeSspfSig,
    &[AgencyType::SspfSamordnare, AgencyType::Sig],
);

pub(super) const BARNEVERN_POLITI: Renderer =
    referral(Kind::NoBarnevernPoliti, &[AgencyType::Police]);

pub(super) const OROSANMALAN: Renderer = referral(Kind::SeOrosanmalan, &[AgencyType::Socialtjanst]);

pub(super) const UNDERRETNING: Renderer = referral(Kind::DkUnderretning, &[AgencyType::Kommune]);

pub(super) const SSP: Renderer = referral(Kind::DkSsp, &[AgencyType::Ssp]);

pub(super) const PSP: Renderer = referral(Kind::DkPsp, &[AgencyType::Psp]);

pub(super) const KSP: Renderer = referral(Kind::DkKsp, &[AgencyType::Ksp]);

pub(super) const INFOHUS: Renderer = referral(Kind::DkInfohus, &[AgencyType::Infohus]);

/// The renderer of `kind` to `recipients`: the routed message as it is.
const fn referral(kind: Kind, recipients: &'static [AgencyType]) -> Renderer {
    Renderer {
        kind,
        recipients,
        render: as_referral,
    }
}

/// The routed message as it is, typed by its kind's name.
fn as_referral(msg: &RoutedMessage) -> Rendered {
    Rendered {
        type_name: msg.kind.as_str(),
        body: serde_json::to_value(msg).expect("a routed message serialises"),
    }
}
