//! The decision engine against every row of the shipped catalog: a message that satisfies
//! the row is allowed, and each single violation is refused with its own reason. Pure: no
//! broker, no database; the day is fixed.

use gateway::catalog::{Basis, Catalog, Parties};
use gateway::consent::{Consent, ConsentForm, Grantor, SubjectKey};
use gateway::decide::subject::parse_date;
use gateway::decide::{Facts, Rule, decide};
use gateway::directory::{AgencyType, Directory};
use gateway::parse::{Contracts, Kind};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use time::Date;

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// Every agency type, each as a single agency (`<type>`) and as a group (`<type>-group`).
const TYPES: [&str; 24] = [
    "school",
    "kindergarten",
    "school_health",
    "health",
    "barnevern",
    "barnevernvakt",
    "police",
    "slt",
    "nav",
    "konfliktraad",
    "municipal",
    "skola",
    "elevhalsa",
    "elevhalsa_medicinsk",
    "socialtjanst",
    "polis",
    "fritid",
    "trygghet",
    "sspf_samordnare",
    "sig",
    "skole",
    "kommune",
    "politi",
    "ssp",
];

struct World {
    catalog: Catalog,
    contracts: Contracts,
    directory: Directory,
    key: SubjectKey,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let mut toml = String::new();
    for (i, t) in TYPES.iter().enumerate() {
        for (suffix, group) in [("", false), ("-group", true)] {
            let id = format!("{}{suffix}", t.replace('_', "-"));
            let delivery = if t.starts_with("barnevern") {
                format!(r#"{{ adapter = "barnevern", receiving_queue = "{id}.inbox" }}"#)
            } else {
                r#"{ adapter = "politikontakt", inbox_url = "http://127.0.0.1:9/inbox" }"#.into()
            };
            toml.push_str(&format!(
                "[[agency]]\nid = \"{id}\"\nname = \"{t}\"\ncountry = \"NO\"\ntype = \"{t}\"\norgnr = \"{:09}\"\nmunicipality = \"0301\"\ngroup = {group}\ndelivery = {delivery}\n\n",
                900_000_000 + i * 2 + usize::from(group)
            ));
        }
    }
    let path = std::env::temp_dir().join(format!("directory-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, toml).unwrap();
    World {
        catalog: Catalog::load(&schemas().join("legal-bases.toml")).unwrap(),
        contracts: Contracts::load(&schemas()).unwrap(),
        directory: Directory::load(&path).unwrap(),
        key: SubjectKey::new(b"test key"),
    }
});

fn today() -> Date {
    parse_date("2026-11-22").unwrap()
}

fn type_name(t: AgencyType) -> String {
    serde_json::to_value(t)
        .unwrap()
        .as_str()
        .unwrap()
        .replace('_', "-")
}

fn agency_type(name: &str) -> AgencyType {
    serde_json::from_value(json!(name)).unwrap()
}

/// A message under `basis`, and the consent it cites.
#[derive(Clone)]
struct Case {
    sender: AgencyType,
    envelope: Value,
    consent: Option<Consent>,
}

impl Case {
    fn decide(&self) -> Result<Vec<Rule>, String> {
        let w = &*WORLD;
        let envelope = w
            .contracts
            .parse(self.envelope.to_string().as_bytes())
            .map_err(|e| format!("{e:?}"))?;
        let sender = w.directory.get(&type_name(self.sender)).unwrap();
        let facts = Facts {
            sender,
            envelope: &envelope,
            consent: self.consent.as_ref(),
            subject_key: &w.key,
            today: today(),
        };
        let decision = decide(facts, &w.directory, &w.catalog);
        Ok(decision.refusals.iter().map(|r| r.rule).collect())
    }

    fn recipient_type(&self) -> AgencyType {
        let id = self.envelope["recipient"].as_str().unwrap();
        WORLD.directory.get(id).unwrap().agency_type
    }

    fn set_birth(&mut self, born: &str) {
        let kind = self.envelope["kind"].as_str().unwrap().to_owned();
        let p = &mut self.envelope["payload"];
        match kind.as_str() {
            "no.bekymringsmelding" => p["offentligBarn"][0]["fnr"] = json!(fnr(born)),
            "se.sspf-sig" => p["personnummer"] = json!(format!("{}-0000", born.replace('-', ""))),
            _ if p.get("person").is_some() => p["person"]["fodselsdato"] = json!(born),
            _ => {}
        }
        self.envelope["subject"] = json!({ "birthDate": born });
    }
}

/// A synthetic fødselsnummer (individual number 500: born 2000–2039; no valid checksum).
fn fnr(born: &str) -> String {
    let (y, m, d) = (&born[2..4], &born[5..7], &born[8..10]);
    format!("{d}{m}{y}50000")
}

const BORN: &str = "2010-06-15"; // 16 on the test day

fn first(parties: &Parties, fallback: AgencyType) -> AgencyType {
    match parties {
        Parties::Only(types) => types[0],
        Parties::Any(_) => fallback,
    }
}

/// The message that satisfies `basis` (for bases no kind uses: a referral to the police
/// contact, refused for its kind only).
fn satisfying(basis: &Basis) -> Case {
    let kind = basis
        .kinds
        .first()
        .copied()
        .unwrap_or(Kind::NoPolitikontakt);
    let recipient = basis
        .consent
        .iter()
        .find_map(|r| r.recipients.as_ref().map(|t| t[0]))
        .unwrap_or_else(|| {
            first(
                &basis.recipients,
                match kind {
                    Kind::NoBekymringsmelding => AgencyType::Barnevern,
                    _ => AgencyType::Police,
                },
            )
        });
    let sender = first(&basis.senders, AgencyType::School);
    let sender_agency = WORLD.directory.get(&type_name(sender)).unwrap();
    let person_allowed = basis
        .fields
        .get(&kind)
        .is_none_or(|p| p.allows(&["person".into()]));
    let payload = match kind {
        Kind::NoBekymringsmelding => {
            let mut p = example("no.bekymringsmelding")["payload"].clone();
            p["offentligMelder"]["virksomhet"]["orgnr"] = json!(sender_agency.orgnr);
            p
        }
        Kind::SeSspfSig => {
            let sig = recipient == AgencyType::Sig;
            let mut p = json!({
                "forum": if sig { "sig" } else { "sspf" },
                "namn": "Test Testsson",
                "personnummer": "20100615-0000",
                "oro": "Oro för skolgången.",
            });
            p[if sig {
                "individuellPlan"
            } else {
                "planeradeInsatser"
            }] = json!("Samtal.");
            p
        }
        Kind::NoPolitikontakt => {
            let mut p = json!({
                "henvisendeEnhet": "Skolen",
                "bekymringskategori": "annet",
                "beskrivelse": "Bekymring for en elev på ungdomstrinnet.",
            });
            if person_allowed {
                p["person"] = json!({"navn": "Ola Testbarn", "fodselsdato": BORN});
            }
            p
        }
    };
    let mut attestation = serde_json::Map::new();
    for id in basis
        .attestation
        .all
        .iter()
        .chain(basis.attestation.any.first())
    {
        attestation.insert(id.clone(), json!(true));
    }
    let mut legal_basis = json!({ "tag": basis.tag, "attestation": attestation });
    let consent = basis.consent_rule(recipient).map(|_| {
        legal_basis["consentRef"] = json!("c-1");
        consent(kind, recipient)
    });
    let mut case = Case {
        sender,
        envelope: json!({
            "messageId": uuid::Uuid::new_v4(),
            "kind": kind,
            "recipient": type_name(recipient),
            "legalBasis": legal_basis,
            "urgency": "normal",
            "subject": { "age": 16 },
            "payload": payload,
        }),
        consent,
    };
    if kind != Kind::NoPolitikontakt || person_allowed {
        case.set_birth(BORN);
    }
    if let Some(c) = case.consent.as_mut() {
        c.subject_hash = subject_hash(&case.envelope);
    }
    case
}

fn subject_hash(envelope: &Value) -> String {
    let envelope = WORLD
        .contracts
        .parse(envelope.to_string().as_bytes())
        .unwrap();
    gateway::decide::subject::identity(envelope.kind, &envelope.payload)
        .and_then(|s| s.canonical())
        .map(|c| WORLD.key.hash(&c))
        .unwrap_or_default()
}

fn consent(kind: Kind, recipient: AgencyType) -> Consent {
    Consent {
        consent_id: "c-1".into(),
        organisation: "test".into(),
        recorded_by: "test".into(),
        subject_hash: String::new(),
        granted_by: vec![Grantor::Subject, Grantor::Guardians],
        categories: WORLD
            .catalog
            .category_names(kind)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        recipient_types: vec![recipient],
        purpose: kind,
        groups: false,
        valid_from: parse_date("2026-01-01").unwrap(),
        valid_to: parse_date("2027-01-01").unwrap(),
        form: ConsentForm::Written,
        recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        withdrawn_at: None,
    }
}

fn example(name: &str) -> Value {
    let path = schemas().join(format!("examples/valid/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The reasons a satisfying message of `basis` is refused with anyway: none, or only its
/// kind for bases no kind of the gateway uses yet.
fn baseline(basis: &Basis) -> Vec<Rule> {
    if basis.kinds.is_empty() {
        vec![Rule::BasisWrongKind]
    } else {
        vec![]
    }
}

/// Applies `violate` to the satisfying message of `basis` and checks that `rule` is among
/// the reasons it is refused with (or that the contract refuses it, where `schema_ok`).
fn expect_refused(basis: &Basis, what: &str, rule: Rule, violate: impl FnOnce(&mut Case)) {
    let mut case = satisfying(basis);
    violate(&mut case);
    match case.decide() {
        Ok(rules) => assert!(
            rules.contains(&rule),
            "{}: {what}: expected {rule:?}, got {rules:?}",
            basis.tag
        ),
        Err(parse) => panic!("{}: {what}: message does not parse: {parse}", basis.tag),
    }
}

fn other_type(ok: impl Fn(AgencyType) -> bool) -> Option<AgencyType> {
    TYPES.iter().map(|t| agency_type(t)).find(|t| !ok(*t))
}

#[test]
fn every_row_allows_a_satisfying_message_and_refuses_each_violation() {
    let w = &*WORLD;
    let bases = w.catalog.bases();
    assert!(
        bases.len() >= 20,
        "the catalog holds the bases of domain.md § 4"
    );
    for basis in bases {
        if !basis.status.usable() {
            let rules = satisfying(basis).decide().unwrap();
            assert_eq!(rules, [Rule::BasisNotInForce], "{}", basis.tag);
            continue;
        }
        let base = baseline(basis);
        assert_eq!(
            satisfying(basis).decide().unwrap(),
            base,
            "{}: satisfying message",
            basis.tag
        );

        if let Some(t) = other_type(|t| basis.senders.admits(t) || basis.barred.contains(&t)) {
            expect_refused(basis, "wrong sender type", Rule::SenderType, |c| {
                c.sender = t
            });
        }
        for barred in &basis.barred {
            expect_refused(basis, "barred sender", Rule::SenderBarred, |c| {
                c.sender = *barred
            });
        }
        if let Some(t) = other_type(|t| basis.recipients.admits(t)) {
            expect_refused(basis, "wrong recipient type", Rule::RecipientType, |c| {
                c.envelope["recipient"] = json!(type_name(t))
            });
        }
        if basis.group == gateway::catalog::GroupRule::Never {
            expect_refused(basis, "group recipient", Rule::GroupRecipient, |c| {
                let id = format!("{}-group", type_name(c.recipient_type()));
                c.envelope["recipient"] = json!(id);
            });
        }
        if let Some(max) = basis.max_age {
            let born = format!("{}-06-15", 2026 - i32::from(max) - 1);
            expect_refused(basis, "age over the limit", Rule::SubjectTooOld, |c| {
                if c.envelope["kind"] == "no.politikontakt"
                    && c.envelope["payload"].get("person").is_none()
                {
                    c.envelope["subject"] = json!({ "age": max });
                } else {
                    c.set_birth(&born);
                }
            });
        }
        if basis.kinds.first() == Some(&Kind::NoBekymringsmelding) && !basis.unborn {
            expect_refused(basis, "unborn child", Rule::SubjectUnborn, |c| {
                let child = &mut c.envelope["payload"]["offentligBarn"][0];
                child["ufoedt"] = json!(true);
                child.as_object_mut().unwrap().remove("fnr");
                c.envelope["subject"] = json!({ "unborn": true });
            });
        }
        if !basis.attestation.all.is_empty() || !basis.attestation.any.is_empty() {
            expect_refused(
                basis,
                "attestation missing",
                Rule::AttestationMissing,
                |c| {
                    c.envelope["legalBasis"]["attestation"] = json!({});
                },
            );
            expect_refused(
                basis,
                "unknown attestation",
                Rule::AttestationUnknown,
                |c| {
                    c.envelope["legalBasis"]["attestation"]["made_up"] = json!(true);
                },
            );
        }
        if let Some(profile) = basis.kinds.first().and_then(|k| basis.fields.get(k)) {
            check_fields(basis, profile);
        }
        if satisfying(basis).consent.is_some() {
            check_consent(basis);
        }
    }
}

fn check_fields(basis: &Basis, profile: &gateway::catalog::FieldProfile) {
    let kind = profile.kind;
    if kind == Kind::NoPolitikontakt && !profile.allows(&["foreslattTiltak".into()]) {
        expect_refused(basis, "one extra field", Rule::FieldNotAllowed, |c| {
            c.envelope["payload"]["foreslattTiltak"] = json!("Samtale.");
        });
    }
    if kind == Kind::NoPolitikontakt && !profile.allows(&["person".into()]) {
        expect_refused(
            basis,
            "a person in an anonymised message",
            Rule::FieldNotAllowed,
            |c| {
                c.envelope["payload"]["person"] = json!({"navn": "Ola", "fodselsdato": BORN});
            },
        );
    }
    if profile
        .required
        .iter()
        .any(|r| r.as_str() == "/person/navn")
    {
        expect_refused(
            basis,
            "one missing required field",
            Rule::FieldRequired,
            |c| {
                c.envelope["payload"]
                    .as_object_mut()
                    .unwrap()
                    .remove("person");
                c.envelope["subject"] = json!({ "age": 16 });
            },
        );
    }
    if profile.anonymised {
        for text in [
            "fnr 15061050000",
            "pnr 20100615-1234",
            "CPR 150610-1234",
            "ring 912 34 567",
            "ola@example.invalid",
        ] {
            expect_refused(
                basis,
                "identifier in free text",
                Rule::IdentifierInText,
                |c| {
                    c.envelope["payload"]["beskrivelse"] =
                        json!(format!("Eleven, {text}, trenger hjelp."));
                },
            );
        }
    }
    // Fields outside the schema never reach the engine: the contract refuses them.
    let mut case = satisfying(basis);
    case.envelope["payload"]["ekstra"] = json!("x");
    assert!(case.decide().is_err(), "{}: unknown field", basis.tag);
}

fn check_consent(basis: &Basis) {
    type Violation = (&'static str, Rule, fn(&mut Case));
    let cases: [Violation; 9] = [
        ("no consent cited", Rule::ConsentMissing, |c| {
            c.envelope["legalBasis"]
                .as_object_mut()
                .unwrap()
                .remove("consentRef");
        }),
        ("unknown consent", Rule::ConsentUnknown, |c| {
            c.consent = None
        }),
        ("withdrawn consent", Rule::ConsentWithdrawn, |c| {
            c.consent.as_mut().unwrap().withdrawn_at = Some("2026-11-01T00:00:00Z".into())
        }),
        ("expired consent", Rule::ConsentNotValid, |c| {
            c.consent.as_mut().unwrap().valid_to = parse_date("2026-11-21").unwrap()
        }),
        ("consent for another person", Rule::ConsentSubject, |c| {
            c.consent.as_mut().unwrap().subject_hash = "other".into()
        }),
        (
            "consent for another recipient type",
            Rule::ConsentRecipient,
            |c| c.consent.as_mut().unwrap().recipient_types = vec![AgencyType::Nav],
        ),
        ("consent for another purpose", Rule::ConsentPurpose, |c| {
            c.consent.as_mut().unwrap().purpose = Kind::NoBekymringsmelding
        }),
        (
            "consent not covering a category",
            Rule::ConsentCategory,
            |c| {
                c.consent
                    .as_mut()
                    .unwrap()
                    .categories
                    .retain(|k| k != "concern")
            },
        ),
        (
            "consent of the person only",
            Rule::GuardianConsentMissing,
            |c| c.consent.as_mut().unwrap().granted_by = vec![Grantor::Subject],
        ),
    ];
    for (what, rule, violate) in cases {
        expect_refused(basis, what, rule, violate);
    }
}

fn case_for(tag: &str) -> Case {
    satisfying(WORLD.catalog.get(tag).unwrap())
}

#[test]
fn osl_10_18a_only_from_social_services_to_police_and_under_21() {
    let basis = WORLD.catalog.get("se.osl.10-18a").unwrap();
    assert_eq!(basis.senders, Parties::Only(vec![AgencyType::Socialtjanst]));
    assert_eq!(basis.recipients, Parties::Only(vec![AgencyType::Polis]));
    assert_eq!(basis.max_age, Some(21));
    let mut case = case_for("se.osl.10-18a");
    case.sender = AgencyType::Skola;
    assert!(case.decide().unwrap().contains(&Rule::SenderType));
}

#[test]
fn osl_10_27_is_refused_for_social_services_and_medical_pupil_health_and_warns_pupil_health() {
    for barred in [AgencyType::Socialtjanst, AgencyType::ElevhalsaMedicinsk] {
        let mut case = case_for("se.osl.10-27");
        case.sender = barred;
        assert!(
            case.decide().unwrap().contains(&Rule::SenderBarred),
            "{barred:?}"
        );
    }
    let mut case = case_for("se.osl.10-27");
    case.sender = AgencyType::Elevhalsa;
    let w = &*WORLD;
    let envelope = w
        .contracts
        .parse(case.envelope.to_string().as_bytes())
        .unwrap();
    let facts = Facts {
        sender: w.directory.get("elevhalsa").unwrap(),
        envelope: &envelope,
        consent: None,
        subject_key: &w.key,
        today: today(),
    };
    let decision = decide(facts, &w.directory, &w.catalog);
    assert_eq!(
        decision.warnings.iter().map(|r| r.rule).collect::<Vec<_>>(),
        [Rule::SenderWarned]
    );
}

#[test]
fn a_bekymringsmelding_goes_only_to_the_barnevern_of_the_childs_municipality_under_18() {
    let mut case = case_for("no.bvl2021.13-2");
    case.envelope["payload"]["kommunenummer"] = json!("4601");
    assert_eq!(case.decide().unwrap(), [Rule::RecipientMunicipality]);
    let mut case = case_for("no.bvl2021.13-2");
    case.set_birth("2008-11-22"); // 18 on the test day
    assert_eq!(case.decide().unwrap(), [Rule::SubjectTooOld]);
    let mut case = case_for("no.bvl2021.13-2");
    case.set_birth("2008-11-23"); // 17 until tomorrow
    assert_eq!(case.decide().unwrap(), []);
}

#[test]
fn fvl_13g_is_refused_as_not_in_force() {
    assert_eq!(
        case_for("no.fvl1967.13g").decide().unwrap(),
        [Rule::BasisNotInForce]
    );
}

#[test]
fn an_age_claim_that_disagrees_with_the_national_id_is_refused() {
    let mut case = case_for("no.bvl2021.13-2");
    case.envelope["subject"] = json!({ "age": 12 });
    assert_eq!(case.decide().unwrap(), [Rule::SubjectMismatch]);
    case.envelope["subject"] = json!({ "age": 16 });
    assert_eq!(case.decide().unwrap(), []);
}

#[test]
fn sig_takes_the_guardians_alone_under_15_and_both_from_15() {
    let mut case = case_for("se.osl.10-1");
    assert_eq!(case.recipient_type(), AgencyType::Sig);
    case.consent.as_mut().unwrap().granted_by = vec![Grantor::Guardians];
    assert_eq!(
        case.decide().unwrap(),
        [Rule::SubjectConsentMissing],
        "16 years old"
    );
    case.set_birth("2012-06-15");
    let hash = subject_hash(&case.envelope);
    case.consent.as_mut().unwrap().subject_hash = hash;
    assert_eq!(case.decide().unwrap(), [], "14 years old");
}

#[test]
fn norwegian_consent_needs_the_guardians_for_a_minor() {
    let mut case = case_for("no.fvl1967.13a-1");
    case.consent.as_mut().unwrap().granted_by = vec![Grantor::Subject];
    assert_eq!(case.decide().unwrap(), [Rule::GuardianConsentMissing]);
}

#[test]
fn a_group_recipient_needs_a_consent_that_covers_groups() {
    let mut case = case_for("se.osl.10-1");
    case.envelope["recipient"] = json!("sig-group");
    assert_eq!(case.decide().unwrap(), [Rule::ConsentRecipient]);
    case.consent.as_mut().unwrap().groups = true;
    assert_eq!(case.decide().unwrap(), []);
}

#[test]
fn every_reason_is_reported_not_just_the_first() {
    let mut case = case_for("no.fvl1967.13a-2");
    case.sender = AgencyType::Polis;
    case.envelope["payload"]["beskrivelse"] = json!("Ring 912 34 567.");
    case.envelope["payload"]["foreslattTiltak"] = json!("Samtale.");
    case.envelope["legalBasis"]["attestation"] = json!({});
    let rules = case.decide().unwrap();
    for rule in [
        Rule::AttestationMissing,
        Rule::IdentifierInText,
        Rule::FieldNotAllowed,
    ] {
        assert!(rules.contains(&rule), "{rule:?} in {rules:?}");
    }
}
