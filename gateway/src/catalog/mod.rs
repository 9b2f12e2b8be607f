//! The legal-basis catalog (`schemas/legal-bases.toml`): policy as data, loaded and checked
//! at start-up. A malformed or contradictory catalog stops the gateway.

mod profile;

pub use profile::{FieldPattern, FieldProfile, Leaf, leaves};

use crate::scan::{Lexicon, LexiconError};
use contract::directory::{AgencyType, Country};
use contract::message::Kind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::Date;

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

    /// Whether `agency_type` is named explicitly (not through `"*"`).
    pub fn names(&self, agency_type: AgencyType) -> bool {
        matches!(self, Self::Only(types) if types.contains(&agency_type))
    }
}

/// Whether a basis lets a group (SIG, SSPF forum, SSP) receive a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRule {
    /// One named recipient agency only.
    #[default]
    Never,
    /// A group may receive.
    Allowed,
    /// A group may receive if the consent cited covers groups.
    WithConsent,
}

/// Whose consent a rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentFrom {
    Subject,
    Guardians,
    Both,
}

/// The age of majority: from it a person's own consent suffices and the guardians' is
/// never asked (NO, SE, DK alike).
pub const ADULT_AGE: u32 = 18;

/// What consent a basis needs, for the recipients it names (all, when `recipients` is absent).
///
/// A consent covers the data of whoever gave it. The rule says whose consent covers the
/// subject's own data; data about the guardians (the kind's `guardians_data` categories)
/// always needs the guardians' consent.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRule {
    #[serde(default)]
    pub recipients: Option<Vec<AgencyType>>,
    /// Whose consent a minor's own data needs, unless the minor is mature.
    pub from: ConsentFrom,
    /// Under this age the guardians must consent too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardians_under: Option<u8>,
    /// Under this age the guardians' consent suffices (the subject's is not asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardians_only_under: Option<u8>,
    /// When a minor's own consent covers their own data alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mature: Option<Maturity>,
}

/// A mature minor decides alone on sharing their own data: presumed from an age, or found
/// by the sender's individual assessment (the attestation [`Maturity::ASSESSED`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Maturity {
    /// From this age the catalog presumes a minor mature in the matter.
    pub presumed_from: u8,
    /// From this age a younger minor may be found mature by an individual assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed_from: Option<u8>,
    /// Where the presumption comes from (statute, preparatory works, guidance).
    pub source: String,
}

impl Maturity {
    /// The statement a sender attests for a minor found mature by individual assessment.
    pub const ASSESSED: &'static str = "minor_mature";

    /// Why the presumption makes no sense under `rule`, if it does not.
    fn contradiction(&self, rule: &ConsentRule) -> Option<&'static str> {
        let floor = rule.guardians_only_under.unwrap_or(0);
        if self.source.trim().is_empty() {
            Some("a maturity presumption needs its source")
        } else if u32::from(self.presumed_from) >= ADULT_AGE {
            Some("a maturity presumption from the age of majority presumes nothing")
        } else if self
            .assessed_from
            .is_some_and(|a| a > self.presumed_from || a < floor)
        {
            Some("an assessed maturity must lie between guardians_only_under and presumed_from")
        } else if self.presumed_from < floor {
            Some("a minor presumed mature where the guardians alone consent")
        } else {
            None
        }
    }

    /// Whether a minor of `age` is mature: presumed, or `assessed` from the floor up.
    fn holds(&self, age: u32, assessed: bool) -> bool {
        age >= u32::from(self.presumed_from)
            || assessed
                && self
                    .assessed_from
                    .is_some_and(|floor| age >= u32::from(floor))
    }
}

impl ConsentRule {
    /// Whether the subject and the guardians must consent to the subject's own data, for a
    /// subject of `age` years (`None`: unborn) whose consent `subject_gave` or not, with the
    /// minor's maturity `assessed` or not: an adult alone; for an unborn child or a young
    /// one the guardians alone; a mature minor who consented alone; otherwise as `from`
    /// says.
    pub fn needs(&self, age: Option<u32>, subject_gave: bool, assessed: bool) -> (bool, bool) {
        let Some(age) = age else {
            return (false, true);
        };
        let under = |limit: Option<u8>| limit.is_some_and(|l| age < u32::from(l));
        if age >= ADULT_AGE {
            (true, false)
        } else if under(self.guardians_only_under) {
            (false, true)
        } else if subject_gave && self.mature.as_ref().is_some_and(|m| m.holds(age, assessed)) {
            (true, false)
        } else {
            match self.from {
                ConsentFrom::Subject => (true, under(self.guardians_under)),
                ConsentFrom::Guardians => (false, true),
                ConsentFrom::Both => (true, true),
            }
        }
    }

    /// Whether a sender may attest an individual assessment of a minor's maturity.
    pub fn assesses_maturity(&self) -> bool {
        self.mature
            .as_ref()
            .is_some_and(|m| m.assessed_from.is_some())
    }
}

/// The statements of human judgement a sender must attest under a basis.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Every one of these.
    #[serde(default)]
    pub all: Vec<String>,
    /// At least one of these (when any are listed).
    #[serde(default)]
    pub any: Vec<String>,
    /// Every one of these too, when the recipient is a group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<String>,
}

impl Attestation {
    /// Whether `id` is a statement of this basis.
    pub fn knows(&self, id: &str) -> bool {
        self.all
            .iter()
            .chain(&self.any)
            .chain(&self.group)
            .any(|s| s == id)
    }
}

/// A basis' age limit as the catalog states it: a number of years, or `"none"`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum AgeLimit {
    Years(u8),
    Word(NoLimit),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum NoLimit {
    None,
}

/// What a message kind is: its country, who may send and receive it, and what in its
/// payload must agree with the sender and the recipient.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    pub country: Country,
    /// The agency types that may receive it, whatever the basis.
    pub recipients: Vec<AgencyType>,
    /// The agency types that may send it, whatever the basis (absent: as the bases say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders: Option<Vec<AgencyType>>,
    /// A payload field (JSON pointer) naming the municipality the message is about: the
    /// recipient must serve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality_field: Option<String>,
    /// A payload field naming the reporter's organisation number: it must be the sender's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter_orgnr_field: Option<String>,
    /// Only for a group recipient whose members include the sender (a cooperation that
    /// shares among its own participants, e.g. SSP under retsplejeloven § 115).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub members_only: bool,
}

/// A tag no longer used, and the tags that replace it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub tag: String,
    pub replaced_by: Vec<String>,
    pub why: String,
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
    /// The first day it applies (`YYYY-MM-DD`, as the row gives it).
    pub in_force_from: String,
    /// The day it no longer applies (repealed or replaced), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_until: Option<String>,
    /// The days it applies, parsed: from, and until (exclusive).
    #[serde(skip)]
    applies: (Date, Option<Date>),
    pub kinds: Vec<Kind>,
    pub senders: Parties,
    pub barred: Vec<AgencyType>,
    pub warn: Vec<AgencyType>,
    pub recipients: Parties,
    pub group: GroupRule,
    /// The country whose law it is (the tag's first part).
    pub country: Country,
    /// Whether sender, recipient and basis may belong to different countries.
    pub cross_border: bool,
    /// The subject must be younger than this (`None`: no limit, see `max_age_why`).
    pub max_age: Option<u8>,
    /// Why the basis has no age limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_why: Option<String>,
    /// Whether the subject may be an unborn child.
    pub unborn: bool,
    pub consent: Vec<ConsentRule>,
    pub attestation: Attestation,
    /// Statements that replace `attestation` for a sender type.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attestation_for: BTreeMap<AgencyType, Attestation>,
    /// The field profile per kind.
    #[serde(skip)]
    pub fields: BTreeMap<Kind, Arc<FieldProfile>>,
    pub note: Option<String>,
}

impl Basis {
    /// Whether messages may be sent under it on `day`: its status allows it and `day` lies
    /// within its dates in force.
    pub fn in_force_on(&self, day: Date) -> bool {
        let (from, until) = self.applies;
        self.status.usable() && from <= day && until.is_none_or(|until| day < until)
    }

    /// The consent rule for a recipient of `recipient` type, if the basis asks for consent.
    pub fn consent_rule(&self, recipient: AgencyType) -> Option<&ConsentRule> {
        self.consent.iter().find(|r| {
            r.recipients
                .as_ref()
                .is_none_or(|types| types.contains(&recipient))
        })
    }

    /// The statements a sender of `sender` type must attest.
    pub fn attestation_of(&self, sender: AgencyType) -> &Attestation {
        self.attestation_for
            .get(&sender)
            .unwrap_or(&self.attestation)
    }
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
    in_force_from: String,
    #[serde(default)]
    in_force_until: Option<String>,
    kinds: Vec<Kind>,
    senders: Vec<String>,
    #[serde(default)]
    barred: Vec<AgencyType>,
    #[serde(default)]
    warn: Vec<AgencyType>,
    recipients: Vec<String>,
    #[serde(default)]
    group: GroupRule,
    max_age: Option<AgeLimit>,
    max_age_why: Option<String>,
    #[serde(default)]
    unborn: bool,
    #[serde(default)]
    cross_border: bool,
    #[serde(default)]
    consent: Vec<ConsentRule>,
    #[serde(default)]
    attestation: Attestation,
    #[serde(default)]
    attestation_for: BTreeMap<AgencyType, Attestation>,
    #[serde(default)]
    fields: BTreeMap<Kind, String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileRow {
    kind: Kind,
    allowed: Vec<String>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    anonymised: bool,
    #[serde(default)]
    municipality_fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    basis: Vec<BasisRow>,
    #[serde(default)]
    kind: BTreeMap<Kind, KindRule>,
    #[serde(default)]
    alias: Vec<Alias>,
    #[serde(default)]
    profile: BTreeMap<String, ProfileRow>,
    #[serde(default)]
    categories: BTreeMap<Kind, BTreeMap<String, String>>,
    #[serde(default)]
    guardians_data: BTreeMap<Kind, Vec<String>>,
}

/// The catalog, by tag.
#[derive(Debug, Clone)]
pub struct Catalog {
    bases: HashMap<String, Basis>,
    lexicon: Lexicon,
    kinds: BTreeMap<Kind, KindRule>,
    aliases: HashMap<String, Alias>,
    profiles: BTreeMap<String, Arc<FieldProfile>>,
    categories: HashMap<Kind, Vec<(FieldPattern, String)>>,
    /// Per kind, the data categories about the guardians rather than the subject.
    guardians_data: BTreeMap<Kind, Vec<String>>,
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
    #[error(
        "legal-basis catalog: field pattern {pattern:?} of profile {profile} is not /a/b or /a/*/b"
    )]
    BadPattern { profile: String, pattern: String },
    #[error("legal-basis catalog: {owner} contradicts itself: {why}")]
    Contradiction { owner: String, why: String },
    #[error("legal-basis catalog: {0}")]
    Lexicon(#[from] LexiconError),
}

fn contradiction(owner: &str, why: impl Into<String>) -> CatalogError {
    CatalogError::Contradiction {
        owner: owner.into(),
        why: why.into(),
    }
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
        let profiles = file
            .profile
            .into_iter()
            .map(|(name, row)| Ok((name.clone(), Arc::new(FieldProfile::from_row(name, row)?))))
            .collect::<Result<BTreeMap<_, _>, CatalogError>>()?;
        let categories = file
            .categories
            .into_iter()
            .map(|(kind, map)| {
                let patterns = map
                    .into_iter()
                    .map(|(pattern, category)| {
                        let owner = format!("categories.{kind}");
                        FieldPattern::parse(&pattern).map(|p| (p, category)).ok_or(
                            CatalogError::BadPattern {
                                profile: owner,
                                pattern,
                            },
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((kind, patterns))
            })
            .collect::<Result<HashMap<_, _>, CatalogError>>()?;
        if let Some(kind) = Kind::ALL.iter().find(|k| !file.kind.contains_key(k)) {
            return Err(contradiction(
                &format!("kind.{kind}"),
                "every message kind needs a [kind] entry naming its country and recipients",
            ));
        }
        for (kind, rule) in &file.kind {
            let senders = rule.senders.iter().flatten();
            if let Some(t) = rule
                .recipients
                .iter()
                .chain(senders)
                .find(|t| t.country() != rule.country)
            {
                return Err(contradiction(
                    &format!("kind.{kind}"),
                    format!("agency type {t:?} is not of country {:?}", rule.country),
                ));
            }
            let pointers = [&rule.municipality_field, &rule.reporter_orgnr_field];
            if let Some(p) = pointers.into_iter().flatten().find(|p| !p.starts_with('/')) {
                return Err(contradiction(
                    &format!("kind.{kind}"),
                    format!("{p} is not a JSON pointer into the payload"),
                ));
            }
        }
        // The anonymisation scan's name lists lie beside the catalog, in `names/`.
        let lexicon = match profiles.values().any(|p| p.anonymised) {
            true => Lexicon::load(&path.with_file_name("names"))?,
            false => Lexicon::default(),
        };
        let mut catalog = Self {
            bases: HashMap::new(),
            lexicon,
            kinds: file.kind,
            aliases: HashMap::new(),
            profiles,
            categories,
            guardians_data: BTreeMap::new(),
        };
        for (kind, names) in file.guardians_data {
            let known = catalog.category_names(kind);
            if let Some(name) = names.iter().find(|n| !known.contains(&n.as_str())) {
                return Err(contradiction(
                    &format!("guardians_data.{kind}"),
                    format!("{name:?} is not a data category of {kind}"),
                ));
            }
            catalog.guardians_data.insert(kind, names);
        }
        for row in file.basis {
            let basis = catalog.basis_from_row(row)?;
            if catalog.bases.contains_key(&basis.tag) {
                return Err(CatalogError::DuplicateTag { tag: basis.tag });
            }
            catalog.bases.insert(basis.tag.clone(), basis);
        }
        for alias in file.alias {
            if catalog.bases.contains_key(&alias.tag) || catalog.aliases.contains_key(&alias.tag) {
                return Err(CatalogError::DuplicateTag { tag: alias.tag });
            }
            if let Some(t) = alias
                .replaced_by
                .iter()
                .find(|t| !catalog.bases.contains_key(*t))
            {
                return Err(contradiction(
                    &alias.tag,
                    format!("is replaced by {t}, which is not in the catalog"),
                ));
            }
            if alias.replaced_by.is_empty() {
                return Err(contradiction(&alias.tag, "an alias names no replacement"));
            }
            catalog.aliases.insert(alias.tag.clone(), alias);
        }
        Ok(catalog)
    }

    /// The basis with this tag.
    pub fn get(&self, tag: &str) -> Option<&Basis> {
        self.bases.get(tag)
    }

    /// The name lists of the anonymisation scan.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// The alias with this tag: a tag no longer used.
    pub fn alias(&self, tag: &str) -> Option<&Alias> {
        self.aliases.get(tag)
    }

    /// Every alias, by tag.
    pub fn aliases(&self) -> Vec<&Alias> {
        let mut all: Vec<&Alias> = self.aliases.values().collect();
        all.sort_by(|a, b| a.tag.cmp(&b.tag));
        all
    }

    /// The country and recipients of a message kind (every kind has one: checked at load).
    pub fn kind(&self, kind: Kind) -> &KindRule {
        &self.kinds[&kind]
    }

    /// Every basis, by tag.
    pub fn bases(&self) -> Vec<&Basis> {
        let mut all: Vec<&Basis> = self.bases.values().collect();
        all.sort_by(|a, b| a.tag.cmp(&b.tag));
        all
    }

    /// The data category of the field at `path` of a `kind` payload (the longest pattern
    /// that covers it).
    pub fn category(&self, kind: Kind, path: &[String]) -> Option<&str> {
        self.categories
            .get(&kind)?
            .iter()
            .filter(|(p, _)| p.covers(path))
            .max_by_key(|(p, _)| p.segments().len())
            .map(|(_, c)| c.as_str())
    }

    /// The data categories of a kind's fields.
    pub fn category_names(&self, kind: Kind) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .categories
            .get(&kind)
            .into_iter()
            .flatten()
            .map(|(_, c)| c.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether `category` of a `kind` payload is data about the guardians, which only
    /// their own consent covers.
    pub fn about_guardians(&self, kind: Kind, category: &str) -> bool {
        self.guardians_data(kind).iter().any(|n| n == category)
    }

    /// The data categories of a `kind` payload about the guardians.
    pub fn guardians_data(&self, kind: Kind) -> &[String] {
        self.guardians_data.get(&kind).map_or(&[], Vec::as_slice)
    }

    fn basis_from_row(&self, row: BasisRow) -> Result<Basis, CatalogError> {
        let parts: Vec<&str> = row.tag.split('.').collect();
        let country = match parts[0] {
            _ if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) => None,
            "no" => Some(Country::NO),
            "se" => Some(Country::SE),
            "dk" => Some(Country::DK),
            _ => None,
        };
        let Some(country) = country else {
            return Err(CatalogError::BadTag { tag: row.tag });
        };
        let tag = row.tag.as_str();
        let max_age = match (row.max_age, &row.max_age_why) {
            (Some(AgeLimit::Years(years)), None) => Some(years),
            (Some(AgeLimit::Word(NoLimit::None)), Some(why)) if !why.trim().is_empty() => None,
            (None, _) => {
                return Err(contradiction(
                    tag,
                    "states no age limit: give max_age, or max_age = \"none\" and max_age_why",
                ));
            }
            (Some(AgeLimit::Years(_)), Some(_)) => {
                return Err(contradiction(
                    tag,
                    "max_age_why is only for max_age = \"none\"",
                ));
            }
            (Some(AgeLimit::Word(_)), _) => {
                return Err(contradiction(tag, "max_age = \"none\" needs max_age_why"));
            }
        };
        if row.source.trim().is_empty() {
            return Err(contradiction(tag, "names no source"));
        }
        let day = |text: &str, key: &str| {
            crate::birth::parse_date(text)
                .ok_or_else(|| contradiction(tag, format!("{key} is not a date (YYYY-MM-DD)")))
        };
        let from = day(&row.in_force_from, "in_force_from")?;
        let until = row
            .in_force_until
            .as_deref()
            .map(|u| day(u, "in_force_until"))
            .transpose()?;
        if until.is_some_and(|until| until <= from) {
            return Err(contradiction(
                tag,
                "in_force_until is not after in_force_from",
            ));
        }
        let senders = parties(tag, &row.senders, "senders")?;
        let recipients = parties(tag, &row.recipients, "recipients")?;
        if let Some(t) = row.barred.iter().find(|t| senders.names(**t)) {
            return Err(contradiction(
                tag,
                format!("{t:?} is both a sender and barred"),
            ));
        }
        if let Some(t) = row.warn.iter().find(|t| !senders.admits(**t)) {
            return Err(contradiction(
                tag,
                format!("warns about {t:?}, which is not a sender"),
            ));
        }
        let parties_of_country =
            |types: &[AgencyType]| types.iter().all(|t| t.country() == country);
        let named = |p: &Parties| match p {
            Parties::Any(_) => Vec::new(),
            Parties::Only(types) => types.clone(),
        };
        let one_country = parties_of_country(&named(&senders))
            && parties_of_country(&named(&recipients))
            && parties_of_country(&row.barred)
            && row.kinds.iter().all(|k| self.kinds[k].country == country);
        if !row.cross_border && !one_country {
            return Err(contradiction(
                tag,
                "names an agency type or kind of another country without cross_border",
            ));
        }
        if let Some(t) = row.attestation_for.keys().find(|t| !senders.admits(**t)) {
            return Err(contradiction(
                tag,
                format!("attestation_for names {t:?}, which is not a sender"),
            ));
        }
        if !row.attestation.group.is_empty() && row.group == GroupRule::Never {
            return Err(contradiction(
                tag,
                "asks for group attestations but never sends to a group",
            ));
        }
        if row.group == GroupRule::WithConsent && row.consent.is_empty() {
            return Err(contradiction(
                tag,
                "group = with_consent but no consent rule",
            ));
        }
        for rule in &row.consent {
            if let Some(t) = rule
                .recipients
                .iter()
                .flatten()
                .find(|t| !recipients.admits(**t))
            {
                return Err(contradiction(
                    tag,
                    format!("consent rule names {t:?}, not a recipient"),
                ));
            }
            if let Some(why) = rule.mature.as_ref().and_then(|m| m.contradiction(rule)) {
                return Err(contradiction(tag, why));
            }
        }
        let mut fields = BTreeMap::new();
        for kind in &row.kinds {
            let name = row.fields.get(kind).ok_or_else(|| {
                contradiction(
                    tag,
                    format!("serves {kind} but names no field profile for it"),
                )
            })?;
            let profile = self.profiles.get(name).ok_or_else(|| {
                contradiction(tag, format!("field profile {name} is not in the catalog"))
            })?;
            if profile.kind != *kind {
                return Err(contradiction(
                    tag,
                    format!("field profile {name} is not for {kind}"),
                ));
            }
            if !row.consent.is_empty() {
                self.check_categorised(profile)?;
            }
            fields.insert(*kind, profile.clone());
        }
        if let Some(kind) = row.fields.keys().find(|k| !row.kinds.contains(k)) {
            return Err(contradiction(
                tag,
                format!("names a field profile for {kind}, which it does not serve"),
            ));
        }
        Ok(Basis {
            tag: row.tag,
            title_original: row.title_original,
            title_en: row.title_en,
            statute: row.statute,
            source: row.source,
            status: row.status,
            in_force_from: row.in_force_from,
            in_force_until: row.in_force_until,
            applies: (from, until),
            kinds: row.kinds,
            senders,
            barred: row.barred,
            warn: row.warn,
            recipients,
            group: row.group,
            country,
            cross_border: row.cross_border,
            max_age,
            max_age_why: row.max_age_why,
            unborn: row.unborn,
            consent: row.consent,
            attestation: row.attestation,
            attestation_for: row.attestation_for,
            fields,
            note: row.note,
        })
    }

    /// A consent covers data categories, so every field a consent-based profile allows
    /// must have one.
    fn check_categorised(&self, profile: &FieldProfile) -> Result<(), CatalogError> {
        match profile
            .allowed
            .iter()
            .find(|p| self.category(profile.kind, p.segments()).is_none())
        {
            Some(p) => Err(contradiction(
                &profile.name,
                format!("field {p} is used under consent but has no data category"),
            )),
            None => Ok(()),
        }
    }
}

impl FieldProfile {
    fn from_row(name: String, row: ProfileRow) -> Result<Self, CatalogError> {
        let patterns = |list: Vec<String>| {
            list.into_iter()
                .map(|pattern| {
                    FieldPattern::parse(&pattern).ok_or_else(|| CatalogError::BadPattern {
                        profile: name.clone(),
                        pattern,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let allowed = patterns(row.allowed)?;
        let required = patterns(row.required)?;
        let municipality_fields = patterns(row.municipality_fields)?;
        if !municipality_fields.is_empty() && !row.anonymised {
            return Err(contradiction(
                &name,
                "municipality_fields are only for anonymised profiles",
            ));
        }
        if let Some(r) = required
            .iter()
            .find(|r| !allowed.iter().any(|a| a.covers(r.segments())))
        {
            return Err(contradiction(
                &name,
                format!("requires {r}, which it does not allow"),
            ));
        }
        Ok(Self {
            name,
            kind: row.kind,
            allowed,
            required,
            anonymised: row.anonymised,
            municipality_fields,
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
            name.parse().map_err(|_| CatalogError::UnknownAgencyType {
                tag: tag.into(),
                name: name.clone(),
                list,
            })
        })
        .collect::<Result<_, _>>()
        .map(Parties::Only)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Catalog, CatalogError> {
        let dir = std::env::temp_dir().join(format!("gw-catalog-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, format!("{text}\n{KINDS}")).unwrap();
        Catalog::load(&path)
    }

    const KINDS: &str = r#"[kind."no.bekymringsmelding"]
country = "NO"
recipients = ["barnevern"]
[kind."no.politikontakt"]
country = "NO"
recipients = ["police"]
[kind."se.sspf-sig"]
country = "SE"
recipients = ["sig"]
[kind."no.barnevern-politi"]
country = "NO"
recipients = ["police"]
[kind."no.risikokonferanse"]
country = "NO"
recipients = ["risikokonferanse"]
[kind."se.orosanmalan"]
country = "SE"
recipients = ["socialtjanst"]
[kind."dk.underretning"]
country = "DK"
recipients = ["kommune"]
[kind."dk.ssp"]
country = "DK"
recipients = ["ssp"]
[kind."dk.psp"]
country = "DK"
recipients = ["psp"]
[kind."dk.ksp"]
country = "DK"
recipients = ["ksp"]
[kind."dk.infohus"]
country = "DK"
recipients = ["infohus"]
"#;

    const ROW: &str = r#"[[basis]]
tag = "no.x.1"
title_original = "t"
title_en = "t"
statute = "s"
source = "s"
status = "in_force"
in_force_from = "2020-01-01"
max_age = 18
"#;

    fn contradiction_of(text: &str) -> String {
        match load(text) {
            Err(CatalogError::Contradiction { why, .. }) => why,
            other => panic!("expected a contradiction, got {other:?}"),
        }
    }

    #[test]
    fn a_row_needs_a_source_and_its_first_day_and_stops_on_its_last() {
        let without_date = ROW.replace("in_force_from = \"2020-01-01\"\n", "");
        assert!(matches!(
            load(&format!(
                "{without_date}kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]"
            )),
            Err(CatalogError::Invalid { .. })
        ));
        let row = |extra: &str| {
            format!("{ROW}{extra}kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]")
        };
        let without_source = row("").replace("source = \"s\"", "source = \" \"");
        assert_eq!(contradiction_of(&without_source), "names no source");
        assert_eq!(
            contradiction_of(&row("in_force_until = \"2019-12-31\"\n")),
            "in_force_until is not after in_force_from"
        );
        assert_eq!(
            contradiction_of(&row("").replace("2020-01-01", "1 Jan 2020")),
            "in_force_from is not a date (YYYY-MM-DD)"
        );
        let catalog = load(&row("in_force_until = \"2027-01-01\"\n")).unwrap();
        let basis = catalog.get("no.x.1").unwrap();
        let day = |d: &str| crate::birth::parse_date(d).unwrap();
        assert!(!basis.in_force_on(day("2019-12-31")));
        assert!(basis.in_force_on(day("2020-01-01")));
        assert!(basis.in_force_on(day("2026-12-31")));
        assert!(
            !basis.in_force_on(day("2027-01-01")),
            "replaced: refused from that day"
        );
    }

    #[test]
    fn the_shipped_catalog_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/legal-bases.toml");
        let catalog = Catalog::load(&path).unwrap();
        assert!(catalog.get("no.bvl2021.13-2").is_some());
    }

    #[test]
    fn unknown_agency_types_are_refused() {
        let err = load(&format!(
            "{ROW}kinds = []\nsenders = [\"teacher\"]\nrecipients = [\"*\"]\n"
        ))
        .unwrap_err();
        assert!(
            matches!(err, CatalogError::UnknownAgencyType { ref name, .. } if name == "teacher"),
            "{err}"
        );
    }

    #[test]
    fn contradictions_stop_the_load() {
        let barred = contradiction_of(&format!(
            "{ROW}kinds = []\nsenders = [\"polis\"]\nbarred = [\"polis\"]\nrecipients = [\"*\"]\n"
        ));
        assert!(barred.contains("both a sender and barred"), "{barred}");
        let no_profile = contradiction_of(&format!(
            "{ROW}kinds = [\"no.politikontakt\"]\nsenders = [\"*\"]\nrecipients = [\"*\"]\n"
        ));
        assert!(no_profile.contains("no field profile"), "{no_profile}");
        let required = contradiction_of(&format!(
            "[profile.p]\nkind = \"no.politikontakt\"\nallowed = [\"/beskrivelse\"]\nrequired = [\"/person\"]\n{ROW}kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]\n"
        ));
        assert!(required.contains("does not allow"), "{required}");
        let uncategorised = contradiction_of(&format!(
            "[profile.p]\nkind = \"no.politikontakt\"\nallowed = [\"/beskrivelse\"]\n{ROW}kinds = [\"no.politikontakt\"]\nsenders = [\"*\"]\nrecipients = [\"*\"]\nconsent = [{{ from = \"subject\" }}]\nfields = {{ \"no.politikontakt\" = \"p\" }}\n"
        ));
        assert!(
            uncategorised.contains("no data category"),
            "{uncategorised}"
        );
        let foreign = contradiction_of(&format!(
            "{ROW}kinds = []\nsenders = [\"skola\"]\nrecipients = [\"*\"]\n"
        ));
        assert!(foreign.contains("another country"), "{foreign}");
    }

    #[test]
    fn every_row_states_its_age_limit_or_why_it_has_none() {
        let row = ROW.replace("max_age = 18\n", "");
        let rest = "kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]\n";
        let silent = contradiction_of(&format!("{row}{rest}"));
        assert!(silent.contains("states no age limit"), "{silent}");
        let unexplained = contradiction_of(&format!("{row}max_age = \"none\"\n{rest}"));
        assert!(unexplained.contains("needs max_age_why"), "{unexplained}");
        let explained = load(&format!(
            "{row}max_age = \"none\"\nmax_age_why = \"adults too\"\n{rest}"
        ))
        .unwrap();
        assert_eq!(explained.get("no.x.1").unwrap().max_age, None);
        assert!(load(&format!("{row}max_age = \"never\"\n{rest}")).is_err());
    }

    #[test]
    fn aliases_name_bases_that_exist() {
        let rest = "kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]\n";
        let dangling = contradiction_of(&format!(
            "{ROW}{rest}[[alias]]\ntag = \"no.x.0\"\nreplaced_by = [\"no.x.2\"]\nwhy = \"w\"\n"
        ));
        assert!(dangling.contains("not in the catalog"), "{dangling}");
        let twice = load(&format!(
            "{ROW}{rest}[[alias]]\ntag = \"no.x.1\"\nreplaced_by = [\"no.x.1\"]\nwhy = \"w\"\n"
        ));
        assert!(matches!(twice, Err(CatalogError::DuplicateTag { .. })));
    }

    #[test]
    fn consent_rules_never_ask_guardians_for_an_adult_nor_an_infant_itself() {
        let rule = |from, only_under, mature| ConsentRule {
            recipients: None,
            from,
            guardians_under: Some(18),
            guardians_only_under: only_under,
            mature,
        };
        let both = rule(ConsentFrom::Both, Some(15), None);
        assert_eq!(both.needs(Some(18), false, false), (true, false), "adult");
        assert_eq!(both.needs(Some(16), true, true), (true, true));
        assert_eq!(both.needs(Some(14), true, false), (false, true));
        assert_eq!(both.needs(None, false, false), (false, true), "unborn");
        let subject = rule(ConsentFrom::Subject, Some(12), None);
        assert_eq!(subject.needs(Some(2), false, true), (false, true), "infant");
        assert_eq!(subject.needs(Some(16), true, true), (true, true));
        assert_eq!(subject.needs(Some(18), true, false), (true, false));
    }

    #[test]
    fn a_minor_consents_alone_when_presumed_or_assessed_mature_and_never_below_the_floor() {
        let guardians = ConsentRule {
            recipients: None,
            from: ConsentFrom::Guardians,
            guardians_under: None,
            guardians_only_under: Some(10),
            mature: Some(Maturity {
                presumed_from: 15,
                assessed_from: Some(12),
                source: "s".into(),
            }),
        };
        assert_eq!(
            guardians.needs(Some(40), true, false),
            (true, false),
            "adult"
        );
        assert_eq!(
            guardians.needs(Some(16), true, false),
            (true, false),
            "presumed"
        );
        assert_eq!(guardians.needs(Some(16), false, false), (false, true));
        assert_eq!(guardians.needs(Some(13), true, false), (false, true));
        assert_eq!(
            guardians.needs(Some(13), true, true),
            (true, false),
            "assessed"
        );
        assert_eq!(
            guardians.needs(Some(11), true, true),
            (false, true),
            "below the floor"
        );
    }

    #[test]
    fn a_maturity_presumption_without_source_or_out_of_order_is_refused() {
        let contradiction = |mature: &str| {
            let text = format!(
                "{ROW}kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]\nconsent = [{{ from = \"guardians\", guardians_only_under = 12, mature = {mature} }}]\n"
            );
            contradiction_of(&text)
        };
        assert!(contradiction("{ presumed_from = 15, source = \" \" }").contains("source"));
        assert!(contradiction("{ presumed_from = 18, source = \"s\" }").contains("majority"));
        assert!(
            contradiction("{ presumed_from = 15, assessed_from = 16, source = \"s\" }")
                .contains("between")
        );
        assert!(
            contradiction("{ presumed_from = 15, assessed_from = 10, source = \"s\" }")
                .contains("between")
        );
        assert!(contradiction("{ presumed_from = 11, source = \"s\" }").contains("alone consent"));
    }

    #[test]
    fn guardians_data_must_name_categories_of_its_kind() {
        let text = format!(
            "[categories.\"se.sspf-sig\"]\n\"/oro\" = \"concern\"\n[guardians_data]\n\"se.sspf-sig\" = [\"family\"]\n{ROW}kinds = []\nsenders = [\"*\"]\nrecipients = [\"*\"]\n"
        );
        match load(&text) {
            Err(CatalogError::Contradiction { owner, why }) => {
                assert_eq!(owner, "guardians_data.se.sspf-sig");
                assert!(why.contains("family"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
}
