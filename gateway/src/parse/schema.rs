//! The compiled JSON Schemas and the value-free errors they produce.

use super::ParseError;
use super::envelope::{Envelope, Kind, LegalBasisRef, MessageId, Payload, Subject, Urgency};
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

impl FieldError {
    /// A field error at `pointer` breaking `code`.
    pub fn new(pointer: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
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
            .and_then(|k| serde_json::from_value::<Kind>(k.clone()).ok())
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
            .map(|name| {
                FieldError::new(
                    format!("{at}/{}", escape(name)),
                    "unknown_field",
                    format!("unknown field `{name}`: the contract does not allow it"),
                )
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![FieldError::new(
                format!("{at}/{}", escape(name)),
                "required",
                format!("field `{name}` is required"),
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

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
