//! Random mutations of the valid examples through the engine: it never panics, and it never
//! allows a message that breaks a catalog rule an independent check can see (kind and
//! recipient type, one country, basis in force and serving kind, sender and recipient,
//! age limit and the unborn, attestation, fields, identifiers in anonymised text).

use contract::directory::{Agency, Directory};
use contract::message::Kind;
use gateway::catalog::{Basis, Catalog, leaves};
use gateway::consent::SubjectKey;
use gateway::decide::subject::{Birth, births_in};
use gateway::decide::{Facts, decide};
use gateway::parse::{Contracts, Envelope};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct World {
    catalog: Catalog,
    contracts: Contracts,
    directory: Directory,
    key: SubjectKey,
    /// Each valid example, with the agency that may send it.
    examples: Vec<(Value, &'static str)>,
    tags: Vec<String>,
    agencies: Vec<&'static str>,
    statements: Vec<String>,
}

const AGENCIES: [&str; 12] = [
    "no-oslo-hasle-skole",
    "no-bergen-nordnes-skole",
    "no-oslo-helsestasjon",
    "no-oslo-barnevern",
    "no-oslo-barnevernvakt",
    "no-bergen-barnevern",
    "no-oslo-politikontakt",
    "se-malmo-skola",
    "se-malmo-sspf",
    "se-malmo-sig",
    "no-nowhere",
    "se-nowhere",
];

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let catalog = Catalog::load(&root().join("schemas/legal-bases.toml")).unwrap();
    let example = |name: &str| -> Value {
        let path = root().join(format!("schemas/examples/valid/{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let mut tags: Vec<String> = catalog.bases().iter().map(|b| b.tag.clone()).collect();
    tags.extend(catalog.aliases().iter().map(|a| a.tag.clone()));
    tags.push("no.x.1".into());
    let mut statements: Vec<String> = catalog
        .bases()
        .iter()
        .flat_map(|b| {
            let a = &b.attestation;
            a.all
                .iter()
                .chain(&a.any)
                .chain(&a.group)
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    statements.sort();
    statements.dedup();
    World {
        contracts: Contracts::load(&root().join("schemas")).unwrap(),
        directory: Directory::load(&root().join("ops/config/directory.dev.toml")).unwrap(),
        key: SubjectKey::new(b"properties"),
        examples: vec![
            (example("no.bekymringsmelding"), "no-oslo-hasle-skole"),
            (
                example("no.politikontakt.anonymised"),
                "no-oslo-hasle-skole",
            ),
            (example("no.politikontakt.consent"), "no-oslo-hasle-skole"),
            (example("se.sspf-sig.sspf"), "se-malmo-skola"),
            (example("se.sspf-sig.sig"), "se-malmo-skola"),
        ],
        tags,
        agencies: AGENCIES.to_vec(),
        statements,
        catalog,
    }
});

/// One change an attacker might make.
#[derive(Debug, Clone)]
enum Mutation {
    Tag(usize),
    Recipient(usize),
    Sender(usize),
    Attest(usize, bool),
    ClearAttestation,
    Age(u8),
    BirthDate(i32, u8, u8),
    Unborn,
    FlagUnborn(bool),
    Fnr(u64),
    PersonBirth(i32, u8, u8),
    Personnummer(i32, u8, u8),
    RemoveField(usize),
    AddField(usize),
    Text(usize),
    Urgent,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..64usize).prop_map(Mutation::Tag),
        (0..AGENCIES.len()).prop_map(Mutation::Recipient),
        (0..AGENCIES.len()).prop_map(Mutation::Sender),
        (0..64usize, any::<bool>()).prop_map(|(i, on)| Mutation::Attest(i, on)),
        Just(Mutation::ClearAttestation),
        (0..131u8).prop_map(Mutation::Age),
        (1900..2040i32, 1..13u8, 1..32u8).prop_map(|(y, m, d)| Mutation::BirthDate(y, m, d)),
        Just(Mutation::Unborn),
        any::<bool>().prop_map(Mutation::FlagUnborn),
        (0..100_000_000_000u64).prop_map(Mutation::Fnr),
        (1900..2040i32, 1..13u8, 1..32u8).prop_map(|(y, m, d)| Mutation::PersonBirth(y, m, d)),
        (1900..2040i32, 1..13u8, 1..32u8).prop_map(|(y, m, d)| Mutation::Personnummer(y, m, d)),
        (0..16usize).prop_map(Mutation::RemoveField),
        (0..FIELDS.len()).prop_map(Mutation::AddField),
        (0..TEXTS.len()).prop_map(Mutation::Text),
        Just(Mutation::Urgent),
    ]
}

/// Fields a message of one kind or another may carry.
const FIELDS: [(&str, &str); 6] = [
    ("foreslattTiltak", "Samtale med eleven."),
    ("person", "{}"),
    ("skola", "Rosengårdsskolan"),
    ("individuellPlan", "Plan."),
    ("planeradeInsatser", "Insatser."),
    ("behovForTolk", "true"),
];

/// Texts planted in the free text: some identifying, some not.
const TEXTS: [&str; 8] = [
    "Eleven, fnr 15061050000, trenger hjelp.",
    "Ring 912 34 567 etter skoletid.",
    "Skriv til ola (at) example [dot] no.",
    "Det skjedde 3. mars i 9B.",
    "Vi har snakket med Ingrid på Tøyen.",
    "Flere elever forteller om uro i friminuttene.",
    "Eleven har vært borte i tre uker.",
    "Uro på ungdomstrinnet siden høsten.",
];

fn apply(message: &mut Value, sender: &mut &'static str, m: &Mutation) {
    let w = &*WORLD;
    let p = &mut message["payload"];
    let date = |y: i32, mo: u8, d: u8| format!("{y:04}-{mo:02}-{d:02}");
    match m {
        Mutation::Tag(i) => message["legalBasis"]["tag"] = json!(w.tags[i % w.tags.len()]),
        Mutation::Recipient(i) => message["recipient"] = json!(w.agencies[*i]),
        Mutation::Sender(i) => *sender = w.agencies[*i],
        Mutation::Attest(i, on) => {
            let id = &w.statements[i % w.statements.len()];
            let attestation = &mut message["legalBasis"]["attestation"];
            if *on {
                attestation[id] = json!(true);
            } else if let Some(map) = attestation.as_object_mut() {
                map.remove(id);
            }
        }
        Mutation::ClearAttestation => message["legalBasis"]["attestation"] = json!({}),
        Mutation::Age(a) => message["subject"] = json!({ "age": a }),
        Mutation::BirthDate(y, mo, d) => {
            message["subject"] = json!({ "birthDate": date(*y, *mo, *d) })
        }
        Mutation::Unborn => message["subject"] = json!({ "unborn": true }),
        Mutation::FlagUnborn(keep_fnr) => {
            if let Some(child) = p.get_mut("offentligBarn").and_then(|c| c.get_mut(0)) {
                child["ufoedt"] = json!(true);
                if !keep_fnr {
                    child.as_object_mut().unwrap().remove("fnr");
                }
            }
        }
        Mutation::Fnr(n) => {
            if let Some(child) = p.get_mut("offentligBarn").and_then(|c| c.get_mut(0)) {
                child["fnr"] = json!(format!("{n:011}"));
            }
        }
        Mutation::PersonBirth(y, mo, d) => {
            if p.get("person").is_some_and(Value::is_object) {
                p["person"]["fodselsdato"] = json!(date(*y, *mo, *d));
            }
        }
        Mutation::Personnummer(y, mo, d) => {
            if p.get("personnummer").is_some() {
                p["personnummer"] = json!(format!("{y:04}{mo:02}{d:02}-0000"));
            }
        }
        Mutation::RemoveField(i) => {
            if let Some(map) = p.as_object_mut() {
                let keys: Vec<String> = map.keys().cloned().collect();
                if !keys.is_empty() {
                    map.remove(&keys[i % keys.len()]);
                }
            }
        }
        Mutation::AddField(i) => {
            let (name, value) = FIELDS[*i];
            p[name] = match name {
                "person" => json!({ "navn": "Ola Testbarn", "fodselsdato": "2010-06-15" }),
                "behovForTolk" => json!(true),
                _ => json!(value),
            };
        }
        Mutation::Text(i) => {
            for field in ["beskrivelse", "oro"] {
                if p.get(field).is_some() {
                    p[field] = json!(TEXTS[*i]);
                }
            }
        }
        Mutation::Urgent => message["urgency"] = json!("urgent"),
    }
}

/// Why an allowed message breaks a rule of `basis`, if it does (checked independently of
/// the engine, straight from the catalog).
fn broken_rule(
    envelope: &Envelope,
    sender: &Agency,
    recipient: &Agency,
    basis: &Basis,
) -> Option<String> {
    let w = &*WORLD;
    let today = time::OffsetDateTime::now_utc().date();
    let kind = w.catalog.kind(envelope.kind);
    if !kind.recipients.contains(&recipient.agency_type) {
        return Some("kind to a recipient type it does not name".into());
    }
    if [sender.country, recipient.country, basis.country]
        .iter()
        .any(|c| *c != kind.country)
    {
        return Some("crosses a border".into());
    }
    if !basis.status.usable() || !basis.kinds.contains(&envelope.kind) {
        return Some("basis not usable for the kind".into());
    }
    if basis.barred.contains(&sender.agency_type) || !basis.senders.admits(sender.agency_type) {
        return Some("sender type".into());
    }
    if !basis.recipients.admits(recipient.agency_type) {
        return Some("recipient type".into());
    }
    for (_, birth) in births_in(envelope.kind, &envelope.payload, today) {
        match birth {
            Err(_) => return Some("a birth that cannot be read or contradicts a flag".into()),
            Ok(Birth::Unborn) if !basis.unborn => return Some("unborn".into()),
            Ok(b) => {
                if let (Some(age), Some(max)) = (b.age_on(today), basis.max_age)
                    && age >= u32::from(max)
                {
                    return Some("over the age limit".into());
                }
            }
        }
    }
    let attested: Vec<&String> = envelope
        .legal_basis
        .attestation
        .iter()
        .flat_map(|m| m.keys())
        .collect();
    let wanted = basis.attestation_of(sender.agency_type);
    if wanted.all.iter().any(|s| !attested.contains(&s))
        || (!wanted.any.is_empty() && !wanted.any.iter().any(|s| attested.contains(&s)))
    {
        return Some("attestation incomplete".into());
    }
    let profile = &basis.fields[&envelope.kind];
    for leaf in leaves(envelope.payload.fields()) {
        if !profile.allows(&leaf.path) {
            return Some(format!("field {} not allowed", leaf.pointer()));
        }
        if profile.anonymised
            && !profile
                .municipality_fields
                .iter()
                .any(|p| p.covers(&leaf.path))
            && let Value::String(text) = leaf.value
            && !w.catalog.lexicon().identifiers(text).is_empty()
        {
            return Some("identifier in anonymised text".into());
        }
    }
    if profile
        .required
        .iter()
        .any(|r| !r.missing_in(envelope.payload.fields()).is_empty())
    {
        return Some("a required field missing".into());
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_never_panics_nor_allows_what_the_catalog_forbids(
        example in 0..5usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let w = &*WORLD;
        let (mut message, mut sender) = w.examples[example].clone();
        for m in &mutations {
            apply(&mut message, &mut sender, m);
        }
        let Ok(envelope) = w.contracts.parse(message.to_string().as_bytes()) else {
            return Ok(());
        };
        let Some(sender) = w.directory.get(sender) else {
            return Ok(());
        };
        let facts = Facts {
            sender,
            envelope: &envelope,
            consent: None,
            subject_key: &w.key,
            today: time::OffsetDateTime::now_utc().date(),
        };
        let decision = decide(facts, &w.directory, &w.catalog);
        if let Some(route) = decision.route() {
            let broken = broken_rule(&envelope, sender, route.recipient, route.basis);
            prop_assert!(broken.is_none(), "allowed although {:?}: {}", broken, message);
            prop_assert!(envelope.kind != Kind::SeSspfSig || route.basis.consent.is_empty(),
                "a consent-based message without a consent was allowed");
        }
    }
}
