//! The bekymringsmelding as KS Fiks `no.ks.fiks.bekymringsmelding.offentlig.v2` JSON: the
//! payload (which follows it field for field) with the fields the delivering system sets.

use super::{Rendered, Renderer};
use crate::directory::AgencyType;
use crate::message::{Kind, RoutedMessage};

/// The KS Fiks message type of a public reporter's bekymringsmelding.
pub const KS_TYPE: &str = "no.ks.fiks.bekymringsmelding.offentlig.v2";

pub(super) const RENDERER: Renderer = Renderer {
    kind: Kind::NoBekymringsmelding,
    recipients: &[AgencyType::Barnevern, AgencyType::Barnevernvakt],
    render,
};

fn render(msg: &RoutedMessage) -> Rendered {
    let mut document = msg.payload.clone();
    document.insert(
        "sendingstidspunkt".into(),
        serde_json::Value::String(msg.recorded_at.clone()),
    );
    document.insert(
        "leveringskanal".into(),
        serde_json::Value::String("Fagsystem".into()),
    );
    Rendered {
        type_name: KS_TYPE,
        body: serde_json::Value::Object(document),
    }
}
