//! The OpenAPI 3.1 document of the gateway's own API, `GET /openapi.json`: made at start-up
//! from [`Operation`] (the routes the router serves), [`PROBLEMS`] (every error
//! answer) and the contract folder's JSON Schemas and valid examples, so that it cannot
//! drift from the code. The repository keeps a copy (`schemas/openapi.json`, written by
//! `gateway openapi`), which a test holds equal to what is served.
//!
//! The JSON Schemas are taken in as they are, under `components/schemas`: a schema's
//! `$defs` become components of their own (`<schema>.<def>`), and its references follow.

use super::operations::Operation;
use super::problem::{PROBLEMS, Spec};
use contract::message::Kind;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use strum::IntoEnumIterator;

/// Why the document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The document for the contracts in `schemas` (the `schemas` setting).
pub fn document(schemas: &Path) -> Result<Value, OpenApiError> {
    let mut components = Map::new();
    take_schema(
        &mut components,
        "Envelope",
        read(&schemas.join("envelope.schema.json"))?,
    );
    take_schema(
        &mut components,
        "ConsentRequest",
        read(&schemas.join("consent.schema.json"))?,
    );
    for kind in Kind::ALL {
        let path = schemas.join("kinds").join(format!("{kind}.schema.json"));
        take_schema(&mut components, &payload_name(kind), read(&path)?);
    }
    components.insert("Message".into(), message_schema());
    for (name, schema) in answer_schemas() {
        components.insert(name.into(), schema);
    }
    let mut examples = Map::new();
    let messages = take_examples(&mut examples, &schemas.join("examples").join("valid"), "")?;
    let consents = take_examples(
        &mut examples,
        &schemas.join("examples").join("consents"),
        "consent.",
    )?;
    let mut paths = Map::new();
    for operation in Operation::iter() {
        let (method, path) = operation.route();
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method.as_str().to_lowercase()] = describe(operation, &messages, &consents);
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Referral gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Lawful, minimal referrals about a child between public agencies.",
            "description": "A sending system posts a message naming the legal basis it is sent under; the gateway checks the basis against the sender, the recipient, the subject's age, the consent and the fields the basis allows, records it, and routes it to the recipient's system. Every error is `application/problem+json` with a stable `type` (`/problems/<slug>`).",
            "license": { "name": "EUPL-1.2", "identifier": "EUPL-1.2" }
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token of an accepted issuer: the gateway's own profile (its `org` claim names the sending agency), or a Maskinporten token (Norway: `consumer` names the organisation number, its scopes what it may do; where the number covers several agencies, `X-Acting-Agency` names the one acting)."
                },
                "organisationCertificate": {
                    "type": "mutualTLS",
                    "description": "Where the gateway is configured for it: an organisation certificate of a configured CA, its subject's organizationIdentifier (`NTRSE-…`, `NTRDK-…`) naming the organisation. It may send and read; a token, when sent, wins."
                }
            },
            "parameters": parameters(),
            "headers": headers(),
            "responses": problem_responses(),
            "examples": examples,
        }
    }))
}

fn read(path: &Path) -> Result<Value, OpenApiError> {
    let text = std::fs::read(path).map_err(|source| OpenApiError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| OpenApiError::Json {
        path: path.to_owned(),
        source,
    })
}

/// The component name of a kind's payload schema.
fn payload_name(kind: Kind) -> String {
    format!("Payload.{kind}")
}

/// Adds a JSON Schema as the component `name`, its `$defs` as `<name>.<def>`.
fn take_schema(components: &mut Map<String, Value>, name: &str, mut schema: Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.remove("$schema");
    object.remove("$id");
    let defs = object.remove("$defs");
    retarget(&mut schema, name);
    components.insert(name.into(), schema);
    for (def, mut schema) in defs
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_default()
    {
        retarget(&mut schema, name);
        components.insert(format!("{name}.{def}"), schema);
    }
}

/// Points a schema's references to its own `$defs` at their components.
fn retarget(schema: &mut Value, name: &str) {
    match schema {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                match (key.as_str(), value.as_str()) {
                    ("$ref", Some(target)) => {
                        if let Some(def) = target.strip_prefix("#/$defs/") {
                            *value = json!(format!("#/components/schemas/{name}.{def}"));
                        }
                    }
                    _ => retarget(value, name),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| retarget(v, name)),
        _ => {}
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The body of `POST /v1/messages`: the envelope, with the payload of its kind.
fn message_schema() -> Value {
    let kinds: Vec<Value> = Kind::ALL
        .iter()
        .map(|kind| {
            json!({
                "required": ["kind"],
                "properties": {
                    "kind": { "const": kind.as_str() },
                    "payload": schema_ref(&payload_name(*kind))
                }
            })
        })
        .collect();
    json!({
        "description": "An envelope whose payload follows the schema of its kind.",
        "allOf": [schema_ref("Envelope")],
        "oneOf": kinds
    })
}

/// The answers' schemas. Answers may grow fields; clients ignore the ones they do not know.
fn answer_schemas() -> Vec<(&'static str, Value)> {
    let string = json!({ "type": "string" });
    let uuid = json!({ "type": "string", "format": "uuid" });
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    vec![
        (
            "FieldError",
            json!({
                "type": "object",
                "description": "One problem with one field: where, which rule, a text that never quotes the value.",
                "required": ["pointer", "code", "detail"],
                "properties": {
                    "pointer": { "type": "string", "description": "JSON pointer into the request body." },
                    "code": string, "detail": string,
                    "statute": { "type": "string", "description": "The statute of the rule, for refusals under a legal basis." },
                    "found": { "type": "array", "items": { "type": "string" }, "description": "Kinds of identifier a text holds (never the identifiers)." },
                    "replacedBy": { "type": "array", "items": { "type": "string" }, "description": "For a tag no longer used: the tags that replace it." }
                }
            }),
        ),
        (
            "Problem",
            json!({
                "type": "object",
                "description": "An error answer (RFC 9457). `GET /problems` lists every type and its meaning.",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": { "type": "string", "enum": PROBLEMS.iter().map(|p| p.kind.uri()).collect::<Vec<_>>() },
                    "title": string, "status": { "type": "integer" }, "detail": string,
                    "errors": { "type": "array", "items": schema_ref("FieldError") }
                }
            }),
        ),
        (
            "Accepted",
            json!({
                "type": "object",
                "required": ["messageId", "gatewayId", "status", "statusUrl"],
                "properties": {
                    "messageId": uuid, "gatewayId": uuid, "status": string, "statusUrl": string,
                    "warnings": { "type": "array", "items": schema_ref("FieldError") }
                }
            }),
        ),
        (
            "Validation",
            json!({
                "type": "object",
                "description": "What `POST /v1/messages` would do with the message; nothing is recorded or sent.",
                "required": ["messageId", "outcome", "refusals", "warnings"],
                "properties": {
                    "messageId": uuid,
                    "outcome": { "type": "string", "enum": ["allowed", "refused"] },
                    "legalBasis": { "type": ["object", "null"] },
                    "route": { "type": ["object", "null"] },
                    "refusals": { "type": "array", "items": schema_ref("FieldError") },
                    "warnings": { "type": "array", "items": schema_ref("FieldError") }
                }
            }),
        ),
        (
            "StatusEntry",
            json!({
                "type": "object",
                "required": ["status", "at"],
                "properties": { "status": string, "at": string, "reason": string }
            }),
        ),
        (
            "MessageStatus",
            json!({
                "type": "object",
                "description": "A message as its sender sees it: status, history and the deadlines it missed.",
                "required": ["messageId", "gatewayId", "kind", "recipient", "legalBasis", "status", "history"],
                "properties": {
                    "messageId": uuid, "gatewayId": uuid, "kind": string, "recipient": string,
                    "legalBasis": string, "status": string,
                    "history": { "type": "array", "items": schema_ref("StatusEntry") },
                    "payloadErasedAt": string,
                    "overdue": { "type": "array", "items": { "type": "object" } }
                }
            }),
        ),
        (
            "MessageList",
            json!({
                "type": "object",
                "required": ["messages"],
                "properties": { "messages": { "type": "array", "items": schema_ref("MessageStatus") } }
            }),
        ),
        (
            "Consent",
            json!({
                "type": "object",
                "description": "A recorded consent, never its subject.",
                "required": ["consentId", "organisation", "purpose", "validFrom", "validTo"],
                "properties": {
                    "consentId": string, "organisation": string, "recordedBy": string,
                    "grantedBy": { "type": "array", "items": { "type": "object" } },
                    "categories": strings, "recipientTypes": strings, "purpose": string,
                    "groups": { "type": "boolean" }, "validFrom": string, "validTo": string,
                    "form": string, "withdrawnAt": { "type": ["string", "null"] }
                }
            }),
        ),
        (
            "Withdrawal",
            json!({
                "type": "object",
                "required": ["consentId", "withdrawnAt", "stopped", "notified"],
                "properties": {
                    "consentId": string, "withdrawnAt": string,
                    "stopped": { "type": "array", "items": uuid, "description": "Messages stopped before delivery." },
                    "notified": { "type": "array", "items": uuid, "description": "Delivered messages whose recipients are told." }
                }
            }),
        ),
        (
            "DisclosureRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["subject"],
                "properties": { "subject": { "type": "object", "description": "The person, named as a consent names its subject." } }
            }),
        ),
        (
            "DisclosureReport",
            json!({
                "type": "object",
                "required": ["requestId", "disclosures"],
                "properties": {
                    "requestId": uuid,
                    "disclosures": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "messageId": uuid, "sender": string, "recipient": string, "kind": string,
                            "legalBasis": string, "recordedAt": string, "status": string, "statusAt": string
                        }
                    } }
                }
            }),
        ),
        (
            "LegalBasis",
            json!({
                "type": "object",
                "description": "One basis of the catalog: its statute, who may send under it to whom, and the fields it allows per kind.",
                "required": ["tag"],
                "properties": {
                    "tag": string, "statute": string, "fields": { "type": "object" },
                    "in_force_from": { "type": "string", "format": "date", "description": "The first day messages may be sent under it." },
                    "in_force_until": { "type": "string", "format": "date", "description": "The day it stops applying (repealed or replaced), if known." }
                }
            }),
        ),
        (
            "Catalog",
            json!({
                "type": "object",
                "required": ["bases"],
                "properties": {
                    "bases": { "type": "array", "items": schema_ref("LegalBasis") },
                    "aliases": { "type": "object" }, "kinds": { "type": "object" }, "categories": { "type": "object" }
                }
            }),
        ),
        (
            "ProblemDescription",
            json!({
                "type": "object",
                "required": ["type", "status", "title", "description"],
                "properties": { "type": string, "status": { "type": "integer" }, "title": string, "description": string }
            }),
        ),
        (
            "Health",
            json!({ "type": "object", "required": ["status"], "properties": { "status": string } }),
        ),
        (
            "OperatorOverview",
            json!({
                "type": "object",
                "required": ["at", "health", "lastHour", "recent", "overdue", "deadLetters"],
                "properties": {
                    "at": string,
                    "health": { "type": "array", "items": { "type": "object", "required": ["part", "ready"], "properties": { "part": string, "ready": { "type": "boolean" } } } },
                    "queues": { "type": ["array", "null"], "description": "Absent (null) when the broker's management API is not configured or does not answer.", "items": { "type": "object", "required": ["name", "messages", "consumers", "consumed"], "properties": { "name": string, "messages": { "type": "integer" }, "consumers": { "type": "integer" }, "consumed": { "type": "boolean", "description": "Whether something should consume it (a dead-letter queue waits for an operator)." } } } },
                    "lastHour": { "type": "object", "required": ["accepted", "delivered", "failed"], "properties": {
                        "accepted": { "type": "integer" }, "delivered": { "type": "integer" }, "failed": { "type": "integer" },
                        "deliveryP50Ms": { "type": ["integer", "null"] }, "deliveryP99Ms": { "type": ["integer", "null"] }, "deliveryMaxMs": { "type": ["integer", "null"] }
                    } },
                    "recent": { "type": "array", "items": { "type": "object", "required": ["gatewayId", "type", "recipient", "status", "recordedAt"], "properties": {
                        "gatewayId": uuid, "type": string, "recipient": string, "status": string, "recordedAt": string, "reason": { "type": ["string", "null"] }
                    } } },
                    "overdue": { "type": "array", "items": { "type": "object", "required": ["agency", "deadline", "count"], "properties": { "agency": string, "deadline": string, "count": { "type": "integer" } } } },
                    "deadLetters": { "type": "array", "items": { "type": "object", "required": ["transport", "reason", "count"], "properties": { "transport": string, "reason": string, "count": { "type": "integer" } } } }
                }
            }),
        ),
        (
            "DeadLetters",
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["transport"],
                    "properties": {
                        "transport": string, "messageId": { "type": ["string", "null"], "description": "The gateway's id of the message." },
                        "type": { "type": ["string", "null"] }, "legalBasis": { "type": ["string", "null"] }, "sender": { "type": ["string", "null"] },
                        "reason": { "type": ["string", "null"], "description": "Why the broker dead-lettered it: `rejected` (the adapter gave up) or `delivery_limit`." },
                        "attempts": {}, "deadSince": {}
                    }
                }
            }),
        ),
        (
            "SettleRequest",
            json!({
                "type": "object",
                "required": ["reason"],
                "additionalProperties": false,
                "properties": { "reason": { "enum": ["recipient_fixed", "transient_fault", "sent_in_error", "duplicate", "recipient_gone"], "description": "Why; kept in the audit trail with the action." } }
            }),
        ),
        (
            "Settled",
            json!({
                "type": "object",
                "required": ["messageId", "transport", "settled", "reason"],
                "properties": { "messageId": uuid, "transport": string, "settled": { "enum": ["replayed", "discarded"] }, "reason": string }
            }),
        ),
    ]
}

fn parameters() -> Value {
    let path = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    json!({
        "MessageId": path("id", "The message id the sender chose (`messageId`)."),
        "ConsentId": path("id", "The consent id the sender chose (`consentId`)."),
        "GatewayId": path("id", "The gateway's id of a message (what operators and recipients see)."),
        "Transport": path("transport", "The transport whose dead letters hold it: `queue`, `inbox` or `fiks_io`."),
        "Asset": path("asset", "`console.js` or `console.css`."),
        "Tag": path("tag", "A legal-basis tag of the catalog."),
        "Slug": path("slug", "A problem type's slug."),
        "ActingAgency": {
            "name": "X-Acting-Agency", "in": "header", "required": false,
            "description": "The agency acting, by its directory id, where the token's organisation number covers several agencies. Refused (403 acting-agency) if the agency is not under that number.",
            "schema": { "type": "string" }
        },
        "AcceptLanguage": {
            "name": "Accept-Language", "in": "header", "required": false,
            "description": "The language of refusal and warning texts: nb, nn, sv, da or en (the default).",
            "schema": { "type": "string" }
        },
        "Overdue": {
            "name": "overdue", "in": "query", "required": false,
            "description": "Only messages past a statutory or configured deadline.",
            "schema": { "type": "boolean" }
        }
    })
}

fn headers() -> Value {
    json!({
        "Retry-After": { "description": "Seconds to wait before repeating the request.", "schema": { "type": "integer" } },
        "Allow": { "description": "The methods the path takes.", "schema": { "type": "string" } },
        "Content-Language": { "description": "The language of the answer's texts.", "schema": { "type": "string" } },
        "Location": { "description": "Where the created resource is read.", "schema": { "type": "string" } },
        "WWW-Authenticate": { "description": "`Bearer`.", "schema": { "type": "string" } }
    })
}

/// A response per error status: the problem types it stands for, and their headers.
fn problem_responses() -> Value {
    let mut responses = Map::new();
    for &Spec {
        slug,
        status,
        title,
        ..
    } in &PROBLEMS
    {
        let entry = responses
            .entry(status.as_u16().to_string())
            .or_insert_with(|| {
                let header = match status.as_u16() {
                    503 => Some("Retry-After"),
                    405 => Some("Allow"),
                    401 => Some("WWW-Authenticate"),
                    422 => Some("Content-Language"),
                    _ => None,
                };
                let headers: Map<String, Value> = header
                    .map(|name| (name.into(), json!({ "$ref": format!("#/components/headers/{name}") })))
                    .into_iter()
                    .collect();
                json!({
                    "description": format!("{} {}.", status.as_u16(), status.canonical_reason().unwrap_or("")),
                    "headers": headers,
                    "content": { "application/problem+json": { "schema": schema_ref("Problem") } }
                })
            });
        let described = format!(
            "{} Problem type `/problems/{slug}`: {title}.",
            entry["description"].as_str().unwrap_or_default()
        );
        entry["description"] = json!(described);
    }
    Value::Object(responses)
}

/// Adds the examples of `folder` (`<name>.json`, in name order) as components named
/// `<prefix><name>`; answers their names. No folder: no examples.
fn take_examples(
    components: &mut Map<String, Value>,
    folder: &Path,
    prefix: &str,
) -> Result<Vec<String>, OpenApiError> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut names = Vec::new();
    for path in paths {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let name = format!("{prefix}{stem}");
        components.insert(name.clone(), json!({ "value": read(&path)? }));
        names.push(name);
    }
    Ok(names)
}

/// A JSON request body of schema `schema`, with the named examples.
fn json_body(schema: &str, examples: &[String]) -> Value {
    let examples: Map<String, Value> = examples
        .iter()
        .map(|name| {
            (
                name.clone(),
                json!({ "$ref": format!("#/components/examples/{name}") }),
            )
        })
        .collect();
    let mut content = json!({ "schema": schema_ref(schema) });
    if !examples.is_empty() {
        content["examples"] = Value::Object(examples);
    }
    json!({ "required": true, "content": { "application/json": content } })
}

/// What the document says of one operation.
fn describe(operation: Operation, messages: &[String], consents: &[String]) -> Value {
    use Operation as O;
    let ok = |status: &str, description: &str, schema: &str| json!({ status: { "description": description, "content": { "application/json": { "schema": schema_ref(schema) } } } });
    let (id, summary, body, answer) = match operation {
        O::SendMessage => (
            "sendMessage",
            "Send a message: checked, recorded and confirmed by the broker before 202; idempotent by `messageId`.",
            Some(json_body("Message", messages)),
            {
                let mut a = ok(
                    "202",
                    "Recorded and confirmed by the broker; on its way.",
                    "Accepted",
                );
                a["202"]["headers"] =
                    json!({ "Location": { "$ref": "#/components/headers/Location" } });
                a
            },
        ),
        O::ListMessages => (
            "listMessages",
            "The sender's open messages, or only the overdue ones.",
            None,
            ok("200", "The messages.", "MessageList"),
        ),
        O::ValidateMessage => (
            "validateMessage",
            "Every check of sending, nothing recorded or sent: what would happen.",
            Some(json_body("Message", messages)),
            {
                let mut a = ok("200", "What sending would do.", "Validation");
                a["200"]["headers"] = json!({ "Content-Language": { "$ref": "#/components/headers/Content-Language" } });
                a
            },
        ),
        O::MessageStatus => (
            "messageStatus",
            "A message's status and history, for its sender.",
            None,
            ok("200", "The message.", "MessageStatus"),
        ),
        O::RecordConsent => (
            "recordConsent",
            "Record a consent; idempotent by `consentId`.",
            Some(json_body("ConsentRequest", consents)),
            {
                let mut a = ok(
                    "201",
                    "Recorded (or recorded before with the same body).",
                    "Consent",
                );
                a["201"]["headers"] =
                    json!({ "Location": { "$ref": "#/components/headers/Location" } });
                a
            },
        ),
        O::ShowConsent => (
            "showConsent",
            "A consent the caller's agency recorded.",
            None,
            ok("200", "The consent.", "Consent"),
        ),
        O::WithdrawConsent => (
            "withdrawConsent",
            "Withdraw a consent: messages under it not yet delivered are stopped, recipients of delivered ones told.",
            None,
            ok("200", "Withdrawn.", "Withdrawal"),
        ),
        O::DisclosureReport => (
            "disclosureReport",
            "For a data protection officer: the disclosures about one person by or to the organisation's agencies (GDPR art. 15). Audited.",
            Some(json_body("DisclosureRequest", &[])),
            ok("200", "The disclosures.", "DisclosureReport"),
        ),
        O::ListLegalBases => (
            "listLegalBases",
            "The legal-basis catalog, with field profiles per kind.",
            None,
            ok("200", "The catalog.", "Catalog"),
        ),
        O::ShowLegalBasis => (
            "showLegalBasis",
            "One legal basis.",
            None,
            ok("200", "The basis.", "LegalBasis"),
        ),
        O::Metrics => (
            "metrics",
            "Prometheus exposition.",
            None,
            json!({ "200": { "description": "Metrics.", "content": { "text/plain": { "schema": { "type": "string" } } } } }),
        ),
        O::Live => (
            "live",
            "The process answers.",
            None,
            ok("200", "Alive.", "Health"),
        ),
        O::Ready => (
            "ready",
            "The database and the broker both answer.",
            None,
            ok("200", "Ready.", "Health"),
        ),
        O::ListProblems => (
            "listProblems",
            "Every problem type and its meaning.",
            None,
            json!({ "200": { "description": "The problem types.", "content": { "application/json": { "schema": { "type": "array", "items": schema_ref("ProblemDescription") } } } } }),
        ),
        O::ShowProblem => (
            "showProblem",
            "One problem type.",
            None,
            ok("200", "The problem type.", "ProblemDescription"),
        ),
        O::OperatorOverview => (
            "operatorOverview",
            "For an operator (`auth.operator_scope`): health of the gateway, store, broker and adapters; queue depths and consumers; the last hour's messages and delivery times; overdue messages by agency and deadline; dead letters by transport and reason.",
            None,
            ok("200", "The overview.", "OperatorOverview"),
        ),
        O::ListDeadLetters => (
            "listDeadLetters",
            "For an operator: every dead letter's metadata (ids, kind, tag, sender, reason, attempts), never its payload.",
            None,
            ok("200", "The dead letters.", "DeadLetters"),
        ),
        O::ReplayDeadLetter => (
            "replayDeadLetter",
            "For an operator: put a dead letter back into its adapter's work queue with a fresh retry budget. Audited, with the reason, before it is done.",
            Some(json_body("SettleRequest", &[])),
            ok("200", "Replayed.", "Settled"),
        ),
        O::DiscardDeadLetter => (
            "discardDeadLetter",
            "For an operator: remove a dead letter for good; a failed message is marked expired. Audited, with the reason, in the same transaction.",
            Some(json_body("SettleRequest", &[])),
            ok("200", "Discarded.", "Settled"),
        ),
        O::Console => (
            "console",
            "The operator console: a page over the operator's API (sign in with an operator token).",
            None,
            json!({ "200": { "description": "The page.", "content": { "text/html": { "schema": { "type": "string" } } } } }),
        ),
        O::ConsoleAsset => (
            "consoleAsset",
            "A file of the console page (`console.js`, `console.css`).",
            None,
            json!({ "200": { "description": "The file.", "content": { "text/javascript": { "schema": { "type": "string" } }, "text/css": { "schema": { "type": "string" } } } } }),
        ),
        O::Document => (
            "openapi",
            "This document.",
            None,
            json!({ "200": { "description": "OpenAPI 3.1.", "content": { "application/json": { "schema": { "type": "object" } } } } }),
        ),
    };
    let (_, path) = operation.route();
    let mut parameters: Vec<Value> = Vec::new();
    let param = |name: &str| json!({ "$ref": format!("#/components/parameters/{name}") });
    if path.contains("{id}") {
        parameters.push(param(if path.starts_with("/v1/consents") {
            "ConsentId"
        } else if path.starts_with("/v1/operator") {
            "GatewayId"
        } else {
            "MessageId"
        }));
    }
    if path.contains("{tag}") {
        parameters.push(param("Tag"));
    }
    if path.contains("{slug}") {
        parameters.push(param("Slug"));
    }
    if path.contains("{transport}") {
        parameters.push(param("Transport"));
    }
    if path.contains("{asset}") {
        parameters.push(param("Asset"));
    }
    let authenticated =
        operation.is_api() && !matches!(operation, O::ListLegalBases | O::ShowLegalBasis);
    if authenticated {
        parameters.push(param("ActingAgency"));
    }
    if matches!(operation, O::SendMessage | O::ValidateMessage) {
        parameters.push(param("AcceptLanguage"));
    }
    if operation == O::ListMessages {
        parameters.push(param("Overdue"));
    }
    let mut responses = answer;
    for status in errors(operation, body.is_some(), authenticated) {
        responses[status.to_string()] =
            json!({ "$ref": format!("#/components/responses/{status}") });
    }
    let mut described = json!({
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = body {
        described["requestBody"] = body;
    }
    if authenticated {
        described["security"] = json!([{ "bearer": [] }, { "organisationCertificate": [] }]);
    }
    described
}

/// The error statuses an operation may answer with.
fn errors(operation: Operation, has_body: bool, authenticated: bool) -> Vec<u16> {
    use Operation as O;
    let mut statuses = vec![405, 431, 500];
    if operation.is_api() {
        statuses.push(503);
    }
    if authenticated {
        statuses.extend([401, 403]);
    }
    if has_body {
        statuses.extend([400, 408, 413, 415, 422]);
    }
    if matches!(operation, O::SendMessage | O::RecordConsent) {
        statuses.push(409);
    }
    if matches!(
        operation,
        O::MessageStatus
            | O::ShowConsent
            | O::WithdrawConsent
            | O::ShowLegalBasis
            | O::ShowProblem
            | O::ReplayDeadLetter
            | O::DiscardDeadLetter
            | O::ConsoleAsset
    ) {
        statuses.push(404);
    }
    if matches!(operation, O::ListMessages) {
        statuses.push(400);
    }
    if matches!(operation, O::Ready | O::Metrics) {
        statuses.push(503);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}
