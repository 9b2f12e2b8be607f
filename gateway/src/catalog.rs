//! The legal-basis catalog (`schemas/legal-bases.toml`): loaded and checked at start-up.

use crate::directory::AgencyType;
use crate::parse::Kind;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Whether a basis may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisStatus {
    /// In force and checked against the statute text.
    InForce,
    /// In force, but the reference was not checked against the statute text.
    Unverified,
    /// Proposed, not law.
    Proposed,
    /// Switched off (e.g. no regulation in force).
    Disabled,
}

impl BasisStatus {
    /// Whether messages may be sent under a basis with this status.
    pub fn usable(self) -> bool {
        matches!(self, Self::InForce | Self::Unverified)
    }
}

/// The agency types a basis names as senders or recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Parties {
    /// `"*"`: any agency type.
    Any(&'static str),
    /// Only these.
    Only(Vec<AgencyType>),
}

impl Parties {
    /// Whether `agency_type` is among them.
    pub fn admits(&self, agency_type: AgencyType) -> bool {
        match self {
            Self::Any(_) => true,
            Self::Only(types) => types.contains(&agency_type),
        }
    }
}

/// One row of the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Basis {
    pub tag: String,
    pub title_original: String,
    pub title_en: String,
    pub statute: String,
    pub source: String,
    pub status: BasisStatus,
    pub kinds: Vec<Kind>,
    pub senders: Parties,
    pub recipients: Parties,
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasisRow {
    tag: String,
    title_original: String,
    title_en: String,
    statute: String,
    source: String,
    status: BasisStatus,
    kinds: Vec<Kind>,
    senders: Vec<String>,
    recipients: Vec<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    basis: Vec<BasisRow>,
}

/// The catalog, by tag.
#[derive(Debug, Clone)]
pub struct Catalog {
    bases: HashMap<String, Basis>,
}

/// A catalog that is malformed or contradicts itself.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read legal-basis catalog {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("legal-basis catalog {path} is invalid: {source}")]
    Invalid {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("legal-basis catalog: tag {tag} appears twice")]
    DuplicateTag { tag: String },
    #[error("legal-basis catalog: tag {tag} is not <country>.<act>.<section>")]
    BadTag { tag: String },
    #[error("legal-basis catalog: {tag} names unknown agency type {name:?} in {list}")]
    UnknownAgencyType {
        tag: String,
        name: String,
        list: &'static str,
    },
    #[error("legal-basis catalog: {tag} mixes \"*\" with agency types in {list}")]
    MixedWildcard { tag: String, list: &'static str },
}

/// Why a named basis cannot carry a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasisRefusal {
    /// No row has this tag.
    Unknown,
    /// The basis is not in force.
    NotInForce(BasisStatus),
    /// The basis does not serve this message kind.
    WrongKind,
    /// The sender's agency type may not send under it.
    SenderType,
    /// The recipient's agency type may not receive under it.
    RecipientType,
}

impl Catalog {
    /// Loads and checks `legal-bases.toml`.
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.into(),
            source,
        })?;
        let file: CatalogFile = toml::from_str(&text).map_err(|source| CatalogError::Invalid {
            path: path.into(),
            source: Box::new(source),
        })?;
        let mut bases = HashMap::new();
        for row in file.basis {
            let basis = Basis::from_row(row)?;
            if bases.contains_key(&basis.tag) {
                return Err(CatalogError::DuplicateTag { tag: basis.tag });
            }
            bases.insert(basis.tag.clone(), basis);
        }
        Ok(Self { bases })
    }

    /// The basis with this tag.
    pub fn get(&self, tag: &str) -> Option<&Basis> {
        self.bases.get(tag)
    }

    /// Checks that `tag` may carry a message of `kind` from `sender` to `recipient`.
    pub fn admit(
        &self,
        tag: &str,
        kind: Kind,
        sender: AgencyType,
        recipient: AgencyType,
    ) -> Result<&Basis, BasisRefusal> {
        let basis = self.get(tag).ok_or(BasisRefusal::Unknown)?;
        if !basis.status.usable() {
            return Err(BasisRefusal::NotInForce(basis.status));
        }
        if !basis.kinds.contains(&kind) {
            return Err(BasisRefusal::WrongKind);
        }
        if !basis.senders.admits(sender) {
            return Err(BasisRefusal::SenderType);
        }
        if !basis.recipients.admits(recipient) {
            return Err(BasisRefusal::RecipientType);
        }
        Ok(basis)
    }
}

impl Basis {
    fn from_row(row: BasisRow) -> Result<Self, CatalogError> {
        let well_formed = {
            let parts: Vec<&str> = row.tag.split('.').collect();
            parts.len() == 3
                && ["no", "se", "dk"].contains(&parts[0])
                && parts.iter().all(|p| !p.is_empty())
        };
        if !well_formed {
            return Err(CatalogError::BadTag { tag: row.tag });
        }
        let senders = parties(&row.tag, &row.senders, "senders")?;
        let recipients = parties(&row.tag, &row.recipients, "recipients")?;
        Ok(Self {
            tag: row.tag,
            title_original: row.title_original,
            title_en: row.title_en,
            statute: row.statute,
            source: row.source,
            status: row.status,
            kinds: row.kinds,
            senders,
            recipients,
            note: row.note,
        })
    }
}

fn parties(tag: &str, names: &[String], list: &'static str) -> Result<Parties, CatalogError> {
    if names.iter().any(|n| n == "*") {
        return if names.len() == 1 {
            Ok(Parties::Any("*"))
        } else {
            Err(CatalogError::MixedWildcard {
                tag: tag.into(),
                list,
            })
        };
    }
    names
        .iter()
        .map(|name| {
            serde_json::from_value(serde_json::Value::String(name.clone())).map_err(|_| {
                CatalogError::UnknownAgencyType {
                    tag: tag.into(),
                    name: name.clone(),
                    list,
                }
            })
        })
        .collect::<Result<_, _>>()
        .map(Parties::Only)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/legal-bases.toml"))
            .expect("the shipped catalog loads")
    }

    #[test]
    fn shipped_catalog_admits_a_school_report_to_barnevern() {
        let catalog = catalog();
        let basis = catalog
            .admit(
                "no.bvl2021.13-2",
                Kind::NoBekymringsmelding,
                AgencyType::School,
                AgencyType::Barnevern,
            )
            .unwrap();
        assert_eq!(basis.status, BasisStatus::InForce);
    }

    #[test]
    fn refusals_name_their_reason() {
        let c = catalog();
        let k = Kind::NoPolitikontakt;
        let (s, r) = (AgencyType::School, AgencyType::Police);
        assert_eq!(
            c.admit("no.nope.1", k, s, r).unwrap_err(),
            BasisRefusal::Unknown
        );
        assert_eq!(
            c.admit("no.fvl1967.13g", k, s, r).unwrap_err(),
            BasisRefusal::NotInForce(BasisStatus::Disabled)
        );
        assert_eq!(
            c.admit("no.bvl2021.13-2", k, s, r).unwrap_err(),
            BasisRefusal::WrongKind
        );
        assert_eq!(
            c.admit("no.fvl1967.13b-1-6", k, AgencyType::Police, r)
                .unwrap_err(),
            BasisRefusal::SenderType
        );
        assert_eq!(
            c.admit("no.fvl1967.13b-1-6", k, s, AgencyType::Barnevern)
                .unwrap_err(),
            BasisRefusal::RecipientType
        );
    }

    #[test]
    fn a_catalog_naming_an_unknown_agency_type_is_refused() {
        let dir = std::env::temp_dir().join(format!("gw-catalog-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            r#"[[basis]]
tag = "no.x.1"
title_original = "t"
title_en = "t"
statute = "s"
source = "s"
status = "in_force"
kinds = []
senders = ["teacher"]
recipients = ["*"]
"#,
        )
        .unwrap();
        let err = Catalog::load(&path).unwrap_err();
        assert!(
            matches!(err, CatalogError::UnknownAgencyType { ref name, .. } if name == "teacher"),
            "{err}"
        );
    }
}
