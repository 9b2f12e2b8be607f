//! Referrals as the routed message is, ids, sender, legal basis and payload: to an inbox
//! (`schemas/inbox.openapi.yaml`, `Referral`), or into a receiving queue for kinds that
//! have no national format of their own (orosanmälan, underretning).

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

pub(super) const BARNEVERN_POLITI: Renderer = Renderer {
    kind: Kind::NoBarnevernPoliti,
    recipients: &[AgencyType::Police],
    render: |msg| as_referral(msg, "no.barnevern-politi"),
};

pub(super) const OROSANMALAN: Renderer = Renderer {
    kind: Kind::SeOrosanmalan,
    recipients: &[AgencyType::Socialtjanst],
    render: |msg| as_referral(msg, "se.orosanmalan"),
};

pub(super) const UNDERRETNING: Renderer = Renderer {
    kind: Kind::DkUnderretning,
    recipients: &[AgencyType::Kommune],
    render: |msg| as_referral(msg, "dk.underretning"),
};

pub(super) const SSP: Renderer = Renderer {
    kind: Kind::DkSsp,
    recipients: &[AgencyType::Ssp],
    render: |msg| as_referral(msg, "dk.ssp"),
};

fn as_referral(msg: &RoutedMessage, type_name: &'static str) -> Rendered {
    Rendered {
        type_name,
        body: serde_json::to_value(msg).expect("a routed message serialises"),
    }
}
