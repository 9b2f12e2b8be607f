//! Referrals as the routed message is, ids, sender, legal basis and payload: to an inbox
//! (`schemas/inbox.openapi.yaml`, `Referral`), or into a receiving queue for kinds that
//! have no national format of their own (orosanmälan, underretning).

use super::{Rendered, Renderer};
use crate::directory::AgencyType;
use crate::message::{Kind, RoutedMessage};

pub(super) const POLITIKONTAKT: Renderer = Renderer {
    kind: Kind::NoPolitikontakt,
    recipients: &[AgencyType::Police],
    render: as_referral,
};

pub(super) const RISIKOKONFERANSE: Renderer = Renderer {
    kind: Kind::NoRisikokonferanse,
    recipients: &[AgencyType::Risikokonferanse],
    render: as_referral,
};

pub(super) const SSPF_SIG: Renderer = Renderer {
    kind: Kind::SeSspfSig,
    recipients: &[AgencyType::SspfSamordnare, AgencyType::Sig],
    render: as_referral,
};

pub(super) const BARNEVERN_POLITI: Renderer = Renderer {
    kind: Kind::NoBarnevernPoliti,
    recipients: &[AgencyType::Police],
    render: as_referral,
};

pub(super) const OROSANMALAN: Renderer = Renderer {
    kind: Kind::SeOrosanmalan,
    recipients: &[AgencyType::Socialtjanst],
    render: as_referral,
};

pub(super) const UNDERRETNING: Renderer = Renderer {
    kind: Kind::DkUnderretning,
    recipients: &[AgencyType::Kommune],
    render: as_referral,
};

pub(super) const SSP: Renderer = Renderer {
    kind: Kind::DkSsp,
    recipients: &[AgencyType::Ssp],
    render: as_referral,
};

pub(super) const PSP: Renderer = Renderer {
    kind: Kind::DkPsp,
    recipients: &[AgencyType::Psp],
    render: as_referral,
};

pub(super) const KSP: Renderer = Renderer {
    kind: Kind::DkKsp,
    recipients: &[AgencyType::Ksp],
    render: as_referral,
};

pub(super) const INFOHUS: Renderer = Renderer {
    kind: Kind::DkInfohus,
    recipients: &[AgencyType::Infohus],
    render: as_referral,
};

/// The routed message as it is, typed by its kind's name.
fn as_referral(msg: &RoutedMessage) -> Rendered {
    Rendered {
        type_name: msg.kind.as_str(),
        body: serde_json::to_value(msg).expect("a routed message serialises"),
    }
}
