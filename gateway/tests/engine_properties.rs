//! Random mutations of the valid examples through the engine: it never panics, and it never
//! allows a message that breaks a catalog rule an independent check can see (kind and
//! recipient type, one country, basis in force and serving kind, sender and recipient,
//! age limit and the unborn, attestation, fields, identifiers in anonymised text, and the
//! consent per data subject: a consent covers the data of whoever gave it).

use contract::directory::AgencyType;
use contract::directory::{Agency, Directory};
use contract::message::Kind;
use gateway::catalog::{ADULT_AGE, Basis, Catalog, ConsentFrom, Maturity, leaves};
use gateway::consent::{Consent, ConsentForm, Grantor, SubjectKey};
use gateway::decide::subject::{Birth, births_in, claimed_age, identity};
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
    statements.push(Maturity::ASSESSED.into());
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
            (example("no.barnevern-politi"), "no-oslo-barnevern"),
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
    /// The subject born this many days before today, in the payload and the claim alike.
    Born(i64),
    /// The sender attests an individual assessment of the minor's maturity.
    AssessedMature,
}

/// One change to the consent a message cites.
#[derive(Debug, Clone)]
enum ConsentChange {
    Absent,
    GrantedBy(Vec<Grantor>),
    DropCategory(usize),
    OtherPerson,
    Expired,
    Withdrawn,
    OtherPurpose,
    OnlyRecipient(AgencyType),
    NoGroups,
}

/// Who gave a consent: nobody, either or both.
fn grantors() -> impl Strategy<Value = Vec<Grantor>> {
    proptest::sample::subsequence(vec![Grantor::Subject, Grantor::Guardians], 0..=2)
}

fn consent_change() -> impl Strategy<Value = ConsentChange> {
    prop_oneof![
        Just(ConsentChange::Absent),
        grantors().prop_map(ConsentChange::GrantedBy),
        (0..16usize).prop_map(ConsentChange::DropCategory),
        Just(ConsentChange::OtherPerson),
        Just(ConsentChange::Expired),
        Just(ConsentChange::Withdrawn),
        Just(ConsentChange::OtherPurpose),
        proptest::sample::select(vec![AgencyType::Police, AgencyType::Sig, AgencyType::Nav])
            .prop_map(ConsentChange::OnlyRecipient),
        Just(ConsentChange::NoGroups),
    ]
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
        (0..25 * 366i64).prop_map(Mutation::Born),
        (0..25 * 366i64).prop_map(Mutation::Born),
        (0..25 * 366i64).prop_map(Mutation::Born),
        (0..FIELDS.len()).prop_map(Mutation::AddField),
        (0..FIELDS.len()).prop_map(Mutation::AddField),
        Just(Mutation::AssessedMature),
    ]
}

/// Fields a message of one kind or another may carry.
const FIELDS: [(&str, &str); 8] = [
    ("foreslattTiltak", "Samtale med eleven."),
    ("person", "{}"),
    ("skola", "Rosengårdsskolan"),
    ("individuellPlan", "Plan."),
    ("planeradeInsatser", "Insatser."),
    ("behovForTolk", "true"),
    ("hemforhallanden", "Familjen är trångbodd."),
    ("vardnadshavare", "[]"),
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

/// A consent that covers `message` as it is: the person it names, every data
/// category of its kind, its recipient, groups, given by the person and the guardians.
fn full_consent(message: &Value) -> Option<Consent> {
    let w = &*WORLD;
    let envelope = w.contracts.parse(message.to_string().as_bytes()).ok()?;
    let today = time::OffsetDateTime::now_utc().date();
    let person = identity(envelope.kind, &envelope.payload)?.canonical(today)?;
    let recipient = w.directory.get(&envelope.recipient)?;
    Some(Consent {
        consent_id: "c-1".into(),
        organisation: contract::directory::AgencyId("any".into()),
        recorded_by: "tester".into(),
        subject_hash: w.key.hash(&person),
        granted_by: vec![Grantor::Subject, Grantor::Guardians],
        categories: w
            .catalog
            .category_names(envelope.kind)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        recipient_types: vec![recipient.agency_type],
        purpose: envelope.kind,
        groups: true,
        valid_from: today - time::Duration::days(30),
        valid_to: today + time::Duration::days(30),
        form: ConsentForm::Written,
        recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        withdrawn_at: None,
    })
}

fn change(consent: &mut Option<Consent>, c: &ConsentChange) {
    let today = time::OffsetDateTime::now_utc().date();
    let Some(k) = consent.as_mut() else { return };
    match c {
        ConsentChange::Absent => *consent = None,
        ConsentChange::GrantedBy(by) => k.granted_by = by.clone(),
        ConsentChange::DropCategory(i) => {
            if !k.categories.is_empty() {
                let i = i % k.categories.len();
                k.categories.remove(i);
            }
        }
        ConsentChange::OtherPerson => k.subject_hash = "someone else".into(),
        ConsentChange::Expired => k.valid_to = today - time::Duration::days(1),
        ConsentChange::Withdrawn => k.withdrawn_at = Some("2026-01-02T00:00:00Z".into()),
        ConsentChange::OtherPurpose => k.purpose = Kind::NoBekymringsmelding,
        ConsentChange::OnlyRecipient(t) => k.recipient_types = vec![*t],
        ConsentChange::NoGroups => k.groups = false,
    }
}

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
                "vardnadshavare" => json!([{ "namn": "Anna Testsson", "telefon": "040 12 34 56" }]),
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
        Mutation::AssessedMature => {
            message["legalBasis"]["attestation"][Maturity::ASSESSED] = json!(true)
        }
        Mutation::Born(days) => {
            let born = time::OffsetDateTime::now_utc().date() - time::Duration::days(*days);
            let (y, mo, d) = (born.year(), u8::from(born.month()), born.day());
            if p.get("person").is_some_and(Value::is_object) {
                p["person"]["fodselsdato"] = json!(date(y, mo, d));
            }
            if p.get("personnummer").is_some() {
                p["personnummer"] = json!(format!("{y:04}{mo:02}{d:02}-0000"));
            }
            message["subject"] = json!({ "birthDate": date(y, mo, d) });
        }
    }
}

/// Why an allowed message breaks a rule of `basis`, if it does (checked independently of
/// the engine, straight from the catalog).
fn broken_rule(
    envelope: &Envelope,
    sender: &Agency,
    recipient: &Agency,
    basis: &Basis,
    consent: Option<&Consent>,
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
    consent_broken(envelope, recipient, basis, consent)
}

/// Why the consent a message cites does not cover it, if the basis asks for one: read
/// straight from the catalog, one data subject at a time.
fn consent_broken(
    envelope: &Envelope,
    recipient: &Agency,
    basis: &Basis,
    consent: Option<&Consent>,
) -> Option<String> {
    let w = &*WORLD;
    let today = time::OffsetDateTime::now_utc().date();
    let rule = basis.consent_rule(recipient.agency_type)?;
    let Some(consent) = consent.filter(|_| envelope.legal_basis.consent_ref.is_some()) else {
        return Some("no consent".into());
    };
    if consent.withdrawn_at.is_some() || today < consent.valid_from || today > consent.valid_to {
        return Some("consent not in force".into());
    }
    let person = identity(envelope.kind, &envelope.payload).and_then(|p| p.canonical(today));
    if person.map(|p| w.key.hash(&p)).as_ref() != Some(&consent.subject_hash) {
        return Some("consent of another person".into());
    }
    if consent.purpose != envelope.kind
        || !consent.recipient_types.contains(&recipient.agency_type)
        || (recipient.group && !consent.groups)
    {
        return Some("consent for another purpose or recipient".into());
    }
    let gave = |g: Grantor| consent.granted_by.contains(&g);
    for leaf in leaves(envelope.payload.fields()) {
        let Some(category) = w.catalog.category(envelope.kind, &leaf.path) else {
            return Some(format!("{} has no data category", leaf.pointer()));
        };
        if !consent.categories.iter().any(|c| c == category) {
            return Some(format!("consent does not cover {category}"));
        }
        let about_guardians = w
            .catalog
            .guardians_data(envelope.kind)
            .iter()
            .any(|c| c == category);
        if about_guardians && !gave(Grantor::Guardians) {
            return Some("the guardians' data without their consent".into());
        }
    }
    // The subject's own data: whose consent covers it, by their age on the day.
    let births = births_in(envelope.kind, &envelope.payload, today);
    let age = match births.first() {
        Some((_, Ok(birth))) => birth.age_on(today),
        _ => claimed_age(&envelope.subject, today).flatten(),
    };
    let assessed = envelope
        .legal_basis
        .attestation
        .as_ref()
        .is_some_and(|a| a.contains_key(Maturity::ASSESSED));
    let covered = match age {
        None => gave(Grantor::Guardians),
        Some(a) if a >= ADULT_AGE => gave(Grantor::Subject),
        Some(a) => {
            let at_least = |limit: Option<u8>| limit.is_none_or(|l| a >= u32::from(l));
            let infant = !at_least(rule.guardians_only_under);
            let mature = rule.mature.as_ref().is_some_and(|m| {
                a >= u32::from(m.presumed_from)
                    || (assessed && m.assessed_from.is_some_and(|f| a >= u32::from(f)))
            });
            if infant {
                gave(Grantor::Guardians)
            } else if mature && gave(Grantor::Subject) {
                true
            } else {
                match rule.from {
                    ConsentFrom::Guardians => gave(Grantor::Guardians),
                    ConsentFrom::Both => gave(Grantor::Guardians) && gave(Grantor::Subject),
                    ConsentFrom::Subject => {
                        gave(Grantor::Subject)
                            && (at_least(rule.guardians_under) || gave(Grantor::Guardians))
                    }
                }
            }
        }
    };
    (!covered).then(|| "the subject's own data without the consent it needs".into())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_never_panics_nor_allows_what_the_catalog_forbids(
        example in 0..6usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
        granted_by in grantors(),
        consent_changes in proptest::collection::vec(consent_change(), 0..3),
    ) {
        let w = &*WORLD;
        let (mut message, mut sender) = w.examples[example].clone();
        for m in &mutations {
            apply(&mut message, &mut sender, m);
        }
        // The consent the sender recorded for the message as it now is, then changed.
        let mut consent = full_consent(&message);
        change(&mut consent, &ConsentChange::GrantedBy(granted_by));
        for c in &consent_changes {
            change(&mut consent, c);
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
            consent: consent.as_ref(),
            subject_key: &w.key,
            today: time::OffsetDateTime::now_utc().date(),
        };
        let decision = decide(facts, &w.directory, &w.catalog);
        if let Some(route) = decision.route() {
            let broken =
                broken_rule(&envelope, sender, route.recipient, route.basis, consent.as_ref());
            prop_assert!(broken.is_none(), "allowed although {:?}: {} {:?}", broken, message, consent);
        }
    }
}
