//! The compiled JSON Schemas and the value-free errors they produce.

use super::ParseError;
use super::envelope::{Envelope, Payload};
use contract::message::{Kind, LegalBasisRef, MessageId, Subject, Urgency};
use jsonschema::{Validator, error::ValidationErrorKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One problem with one field: where (a JSON pointer), which rule, and a value-free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub code: String,
    pub detail: String,
    /// The statute the rule comes from, for refusals under a legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statute: Option<String>,
    /// What kinds of identifier a text holds (never the identifiers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<String>,
    /// For a legal-basis tag no longer used: the tags that replace it.
    #[serde(rename = "replacedBy", skip_serializing_if = "Vec::is_empty")]
    pub replaced_by: Vec<String>,
}

/// Whether a property name may be named in an answer: a letter, then letters, digits, `_`
/// and `-`, at most 64 characters, and no run of more than three digits (a national ID or
/// a date is made of letters and digits too). Anything else may be personal data put where
/// a name goes.
pub fn is_plain_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        && !bytes.windows(4).any(|w| w.iter().all(u8::is_ascii_digit))
}

/// `pointer` up to its first segment that is neither a plain name nor an array index: an
/// answer never carries more of the request than that.
pub fn plain_pointer(pointer: &str) -> String {
    let index = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    pointer
        .split('/')
        .skip(1)
        .take_while(|segment| is_plain_name(segment) || index(segment))
        .fold(String::new(), |mut out, segment| {
            out.push('/');
            out.push_str(segment);
            out
        })
}

impl FieldError {
    /// A field error at `pointer` (cut to its plain part) breaking `code`.
    pub fn new(pointer: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: plain_pointer(&pointer.into()),
            code: code.into(),
            detail: detail.into(),
            statute: None,
            found: Vec::new(),
            replaced_by: Vec::new(),
        }
    }
}

/// The envelope schema and one schema per kind, compiled once at start-up.
pub struct Contracts {
    envelope: Validator,
    consent: Validator,
    kinds: HashMap<Kind, Validator>,
}

/// A schema that cannot be read or compiled.
#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    #[error("cannot read schema {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("schema {path} is not JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("schema {path} does not compile: {reason}")]
    Compile { path: PathBuf, reason: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEnvelope {
    message_id: MessageId,
    kind: Kind,
    recipient: String,
    legal_basis: LegalBasisRef,
    urgency: Urgency,
    subject: Subject,
    payload: serde_json::Map<String, serde_json::Value>,
}

impl Contracts {
    /// Compiles `envelope.schema.json` and `kinds/<kind>.schema.json` for every kind.
    pub fn load(dir: &Path) -> Result<Self, ContractsError> {
        let envelope = compile(&dir.join("envelope.schema.json"))?;
        let consent = compile(&dir.join("consent.schema.json"))?;
        let kinds = Kind::ALL
            .into_iter()
            .map(|kind| {
                let path = dir.join("kinds").join(format!("{kind}.schema.json"));
                compile(&path).map(|v| (kind, v))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            envelope,
            consent,
            kinds,
        })
    }

    /// Parses a request body into an envelope whose payload fits its kind.
    pub fn parse(&self, body: &[u8]) -> Result<Envelope, ParseError> {
        let value = json(body)?;
        let mut errors = field_errors(&self.envelope, &value, "");
        if let Some(kind) = value
            .get("kind")
            .and_then(|k| k.as_str()?.parse::<Kind>().ok())
            && let Some(payload) = value.get("payload").filter(|p| p.is_object())
        {
            errors.extend(field_errors(&self.kinds[&kind], payload, "/payload"));
        }
        if !errors.is_empty() {
            return Err(ParseError::Invalid(errors));
        }
        let raw: RawEnvelope = serde_json::from_value(value).map_err(|_| {
            ParseError::Invalid(vec![FieldError::new(
                "",
                "type",
                "the message does not fit the envelope",
            )])
        })?;
        Ok(Envelope {
            message_id: raw.message_id,
            kind: raw.kind,
            recipient: raw.recipient,
            legal_basis: raw.legal_basis,
            urgency: raw.urgency,
            subject: raw.subject,
            payload: Payload::new(raw.payload),
        })
    }

    /// Parses a consent record (`consent.schema.json`).
    pub fn parse_consent<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
    ) -> Result<T, ParseError> {
        let value = json(body)?;
        let errors = field_errors(&self.consent, &value, "");
        if !errors.is_empty() {
            return Err(ParseError::Invalid(errors));
        }
        serde_json::from_value(value).map_err(|_| {
            ParseError::Invalid(vec![FieldError::new(
                "",
                "type",
                "the record does not fit its contract",
            )])
        })
    }

    /// Field errors of `instance` against the schema of `kind` (used by the schema tests).
    pub fn check_payload(&self, kind: Kind, instance: &serde_json::Value) -> Vec<FieldError> {
        field_errors(&self.kinds[&kind], instance, "")
    }
}

fn json(body: &[u8]) -> Result<serde_json::Value, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::Malformed {
        line: e.line(),
        column: e.column(),
    })
}

fn compile(path: &Path) -> Result<Validator, ContractsError> {
    let text = std::fs::read(path).map_err(|source| ContractsError::Read {
        path: path.into(),
        source,
    })?;
    let schema: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| ContractsError::Json {
            path: path.into(),
            source,
        })?;
    jsonschema::draft202012::new(&schema).map_err(|e| ContractsError::Compile {
        path: path.into(),
        reason: e.to_string(),
    })
}

fn field_errors(
    validator: &Validator,
    instance: &serde_json::Value,
    prefix: &str,
) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = validator
        .iter_errors(instance)
        .flat_map(|e| {
            let at = format!("{prefix}{}", e.instance_path());
            describe(e.kind(), &at)
        })
        .collect();
    errors.dedup();
    errors
}

/// Value-free texts for a schema violation: unknown and missing fields are named one by one.
fn describe(kind: &ValidationErrorKind, at: &str) -> Vec<FieldError> {
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|name| match is_plain_name(name) {
                true => FieldError::new(
                    format!("{at}/{name}"),
                    "unknown_field",
                    "unknown field: the contract does not allow it",
                ),
                false => FieldError::new(
                    at,
                    "unknown_field",
                    "an unknown property was found under this object; the contract does not allow it",
                ),
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![FieldError::new(
                format!("{at}/{name}"),
                "required",
                "this field is required",
            )]
        }
        other => {
            let keyword = other.keyword();
            vec![FieldError::new(
                at,
                keyword,
                format!("value breaks the `{keyword}` rule of the contract"),
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_plain_name, plain_pointer};

    #[test]
    fn only_plain_names_are_named() {
        for name in ["fnr", "offentligBarn", "behov_for-tolk", "adresse2"] {
            assert!(is_plain_name(name), "{name}");
        }
        for name in [
            "",
            "01059012345",
            "kari1905",
            "Kari Nordmann",
            "kari@x.no",
            "æøå",
            "_x",
        ] {
            assert!(!is_plain_name(name), "{name}");
        }
        assert!(!is_plain_name(&"a".repeat(65)));
    }

    #[test]
    fn pointers_stop_before_the_first_segment_that_is_not_plain() {
        assert_eq!(
            plain_pointer("/payload/offentligBarn/0/fnr"),
            "/payload/offentligBarn/0/fnr"
        );
        assert_eq!(
            plain_pointer("/payload/offentligBarn/0/01059012345"),
            "/payload/offentligBarn/0"
        );
        assert_eq!(plain_pointer("/Kari Nordmann/x"), "");
        assert_eq!(plain_pointer("/a/1234/b"), "/a");
    }
}
