//! Consent records: what a person (or their guardians) agreed may be shared, with whom,
//! for what, and until when.
//!
//! The gateway never stores who the subject is: only a keyed hash of their national ID
//! (or name and birth date), which a message citing the consent must match.

use crate::catalog::Catalog;
use crate::parse::FieldError;
use aws_lc_rs::hmac;
use contract::directory::{AgencyId, AgencyType};
use contract::message::Kind;
use serde::{Deserialize, Serialize};
use time::Date;

/// Who granted a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantor {
    /// The person the messages are about.
    Subject,
    /// The holders of parental responsibility.
    Guardians,
}

/// How the consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentForm {
    Written,
    /// Oral, with a note in the case journal.
    OralJournal,
}

/// How a consent request names its subject; only its keyed hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SubjectRef {
    /// Swedish personnummer or samordningsnummer (10 or 12 digits, with or without `-`/`+`).
    Personnummer(String),
    /// Norwegian fødselsnummer or D-number (11 digits).
    Fodselsnummer(String),
    /// Danish CPR number (10 digits, `DDMMYY-SSSS`).
    Cpr(String),
    /// Name and birth date, where no national ID is shared.
    #[serde(rename_all = "camelCase")]
    NameAndBirthDate { name: String, birth_date: String },
}

impl SubjectRef {
    /// A stable form: national IDs as digits (personnummer with the century, a ten-digit
    /// one placed in the hundred years before `today`), names lower-cased with single
    /// spaces.
    pub fn canonical(&self, today: Date) -> Option<String> {
        match self {
            Self::Personnummer(p) => {
                let birth = crate::birth::personnummer_birth(p, today)?;
                let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                let full = if digits.len() == 12 {
                    digits
                } else {
                    format!("{}{}", birth.year() / 100, digits)
                };
                Some(format!("se:{full}"))
            }
            Self::Fodselsnummer(f) => {
                crate::birth::fnr_birth(f)?;
                Some(format!("no:{f}"))
            }
            Self::Cpr(c) => {
                crate::birth::cpr_birth(c)?;
                Some(format!("dk:{}", c.replace('-', "")))
            }
            Self::NameAndBirthDate { name, birth_date } => {
                crate::birth::parse_date(birth_date)?;
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                (!name.is_empty()).then(|| format!("name:{}|{birth_date}", name.to_lowercase()))
            }
        }
    }
}

/// The key that makes subject hashes useless without the gateway's database.
#[derive(Clone)]
pub struct SubjectKey(hmac::Key);

impl SubjectKey {
    /// A key from its secret bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The keyed hash of a subject's canonical form.
    pub fn hash(&self, canonical: &str) -> String {
        hex::encode(hmac::sign(&self.0, canonical.as_bytes()).as_ref())
    }
}

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

/// A consent as a sending system posts it (`schemas/consent.schema.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentRequest {
    pub consent_id: String,
    pub subject: SubjectRef,
    pub granted_by: Vec<Grantor>,
    pub categories: Vec<String>,
    pub recipient_types: Vec<String>,
    pub purpose: Kind,
    #[serde(default)]
    pub groups: bool,
    pub valid_from: String,
    pub valid_to: String,
    pub form: ConsentForm,
}

/// Who records a consent, and when (by the gateway's clock).
pub struct Recorder<'a> {
    pub organisation: &'a AgencyId,
    pub person: &'a str,
    pub at: time::OffsetDateTime,
}

impl ConsentRequest {
    /// The consent to store, or every field that does not make sense (value-free).
    pub fn into_consent(
        self,
        by: Recorder<'_>,
        key: &SubjectKey,
        catalog: &Catalog,
    ) -> Result<Consent, Vec<FieldError>> {
        let mut errors = Vec::new();
        let subject_hash = match self.subject.canonical(by.at.date()) {
            Some(c) => key.hash(&c),
            None => {
                errors.push(FieldError::new(
                    "/subject",
                    "subject",
                    "not a valid national ID or birth date",
                ));
                String::new()
            }
        };
        let known = catalog.category_names(self.purpose);
        let guardians_gave = self.granted_by.contains(&Grantor::Guardians);
        for (i, c) in self.categories.iter().enumerate() {
            if !known.contains(&c.as_str()) {
                errors.push(FieldError::new(
                    format!("/categories/{i}"),
                    "category",
                    format!("not a data category of {}", self.purpose),
                ));
            } else if !guardians_gave && catalog.about_guardians(self.purpose, c) {
                errors.push(FieldError::new(
                    format!("/categories/{i}"),
                    "category",
                    "data about the guardians: only their own consent covers it",
                ));
            }
        }
        let mut recipient_types = Vec::new();
        for (i, t) in self.recipient_types.iter().enumerate() {
            match t.parse() {
                Ok(t) => recipient_types.push(t),
                Err(_) => errors.push(FieldError::new(
                    format!("/recipientTypes/{i}"),
                    "agency_type",
                    "not an agency type",
                )),
            }
        }
        let valid_from = crate::birth::parse_date(&self.valid_from);
        let valid_to = crate::birth::parse_date(&self.valid_to);
        match (valid_from, valid_to) {
            (Some(from), Some(to)) if from <= to => {}
            (Some(_), Some(_)) => errors.push(FieldError::new(
                "/validTo",
                "validity",
                "ends before it starts",
            )),
            (from, to) => {
                for (date, pointer) in [(from, "/validFrom"), (to, "/validTo")] {
                    if date.is_none() {
                        errors.push(FieldError::new(pointer, "date", "not a calendar date"));
                    }
                }
            }
        }
        let (Some(valid_from), Some(valid_to), true) = (valid_from, valid_to, errors.is_empty())
        else {
            return Err(errors);
        };
        Ok(Consent {
            consent_id: self.consent_id,
            organisation: by.organisation.clone(),
            recorded_by: by.person.into(),
            subject_hash,
            granted_by: self.granted_by,
            categories: self.categories,
            recipient_types,
            purpose: self.purpose,
            groups: self.groups,
            valid_from,
            valid_to,
            form: self.form,
            recorded_at: contract::plumbing::clock::timestamp(by.at),
            withdrawn_at: None,
        })
    }
}

/// A recorded consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub consent_id: String,
    /// The organisation that recorded it; only its messages may cite it.
    pub organisation: AgencyId,
    /// The person who recorded it (the token's subject).
    pub recorded_by: String,
    #[serde(skip)]
    pub subject_hash: String,
    pub granted_by: Vec<Grantor>,
    /// Data categories of the catalog (`[categories.<kind>]`).
    pub categories: Vec<String>,
    pub recipient_types: Vec<AgencyType>,
    /// The purpose: the kind of message it lets the sender send.
    pub purpose: Kind,
    /// Whether a group recipient (SIG, SSP) is covered.
    pub groups: bool,
    #[serde(with = "iso_date")]
    pub valid_from: Date,
    #[serde(with = "iso_date")]
    pub valid_to: Date,
    pub form: ConsentForm,
    pub recorded_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<String>,
}

impl Consent {
    /// Whether the consent holds on `day` (not withdrawn, within its validity).
    pub fn valid_on(&self, day: Date) -> bool {
        self.valid_from <= day && day <= self.valid_to
    }
}

/// `YYYY-MM-DD` (de)serialisation of dates.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        crate::birth::parse_date(&text)
            .ok_or_else(|| serde::de::Error::custom("not a date (YYYY-MM-DD)"))
    }

    /// `YYYY-MM-DD`.
    pub fn format(date: Date) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }
}
