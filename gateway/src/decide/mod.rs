//! Decide: whether a parsed message may be sent where it says, under the basis it names.
//!
//! The kind binds the recipient's agency type whatever the basis: a kind sent to any other
//! type is refused, and that reason leads. Every check runs and every failure is reported
//! (refuse, never strip): the recipient is a receiving agency of the directory and fits the
//! message; sender, recipient and basis belong to one country; the legal basis is in the
//! catalog, in force, and covers the kind, the sender's and the recipient's agency types
//! and the subject's age (a claim never overrides a national ID or birth date); the consent it needs is cited, valid and in scope; the sender
//! attests what the basis asks; the payload carries only the fields the basis allows, all
//! it requires, and (anonymised) no identifier in its text. [`decide`] is pure: the consent
//! is looked up before, and the day is given.

mod fields;
mod reason;
pub mod subject;

pub use reason::{Lang, Rule};

use crate::catalog::{Basis, Catalog, ConsentRule, GroupRule, KindRule, Maturity};
use crate::consent::{Consent, Grantor, SubjectKey};
use crate::parse::Envelope;
use crate::scan::Identifier;
use contract::directory::{Agency, Directory, Transport};
use time::Date;

/// What the decision is made on.
#[derive(Clone, Copy)]
pub struct Facts<'a> {
    /// The authenticated sender.
    pub sender: &'a Agency,
    pub envelope: &'a Envelope,
    /// The consent the envelope cites, if the sender's organisation recorded one by that id.
    pub consent: Option<&'a Consent>,
    pub subject_key: &'a SubjectKey,
    /// The day the decision is made (ages and consent validity are taken on it).
    pub today: Date,
}

impl<'a> Facts<'a> {
    /// The statements the sender attests.
    fn attested(self) -> impl Iterator<Item = &'a String> {
        self.envelope
            .legal_basis
            .attestation
            .iter()
            .flat_map(|m| m.keys())
    }
}

/// One failed check: the rule and the field (a JSON pointer into the envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub rule: Rule,
    pub pointer: String,
    /// For identifiers found in text: what kind.
    pub found: Vec<Identifier>,
    /// For a tag no longer used: the tags that replace it.
    pub replaced_by: Vec<String>,
}

impl Reason {
    fn new(rule: Rule, pointer: impl Into<String>) -> Self {
        Self {
            rule,
            pointer: pointer.into(),
            found: Vec::new(),
            replaced_by: Vec::new(),
        }
    }
}

/// Where an allowed message goes.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    pub basis: &'a Basis,
    pub recipient: &'a Agency,
    pub adapter: Transport,
}

/// The outcome: a route if nothing failed, and every reason and warning.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// The basis named, if the catalog has it (for the statute in explanations).
    pub basis: Option<&'a Basis>,
    pub refusals: Vec<Reason>,
    pub warnings: Vec<Reason>,
    route: Option<Route<'a>>,
}

impl<'a> Decision<'a> {
    /// The route, if the message is allowed.
    pub fn route(&self) -> Option<Route<'a>> {
        self.route.filter(|_| self.refusals.is_empty())
    }
}

const TAG: &str = "/legalBasis/tag";

/// Decides on one message.
pub fn decide<'a>(
    facts: Facts<'_>,
    directory: &'a Directory,
    catalog: &'a Catalog,
) -> Decision<'a> {
    let envelope = facts.envelope;
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    let recipient = directory
        .get(&envelope.recipient)
        .and_then(|r| Some((r, r.delivery.as_ref()?.transport())));
    let kind = catalog.kind(envelope.kind);
    match recipient {
        None => refusals.push(Reason::new(Rule::UnknownRecipient, "/recipient")),
        Some((r, _)) if !kind.recipients.contains(&r.agency_type) => {
            refusals.push(Reason::new(Rule::KindRecipient, "/recipient"))
        }
        Some(_) => {}
    }
    check_kind(facts, kind, recipient.map(|r| r.0), &mut refusals);
    let basis = catalog.get(&envelope.legal_basis.tag);
    let one_country = [
        Some(facts.sender.country),
        recipient.map(|r| r.0.country),
        basis.map(|b| b.country),
    ]
    .into_iter()
    .flatten()
    .all(|c| c == kind.country);
    if !one_country && !basis.is_some_and(|b| b.cross_border) {
        refusals.push(Reason::new(Rule::CrossBorder, TAG));
    }
    match basis {
        None => refusals.push(match catalog.alias(&envelope.legal_basis.tag) {
            Some(alias) => Reason {
                replaced_by: alias.replaced_by.clone(),
                ..Reason::new(Rule::BasisReplaced, TAG)
            },
            None => Reason::new(Rule::BasisUnknown, TAG),
        }),
        Some(b) if !b.in_force_on(facts.today) => {
            refusals.push(Reason::new(Rule::BasisNotInForce, TAG))
        }
        Some(b) => {
            let mut check = Check {
                facts,
                basis: b,
                recipient: recipient.map(|r| r.0),
                catalog,
                refusals: &mut refusals,
                warnings: &mut warnings,
            };
            check.all();
        }
    }
    let route = match (basis, recipient) {
        (Some(basis), Some((recipient, adapter))) => Some(Route {
            basis,
            recipient,
            adapter,
        }),
        _ => None,
    };
    Decision {
        basis,
        refusals,
        warnings,
        route,
    }
}

/// What the kind itself asks, whatever the basis: a sender type that may send it, the
/// sender's own organisation as the reporter's, a recipient that serves the municipality
/// the message is about, and, for a cooperation sharing among its members, a sender that
/// is one of them.
fn check_kind(
    facts: Facts<'_>,
    rule: &KindRule,
    recipient: Option<&Agency>,
    out: &mut Vec<Reason>,
) {
    if let Some(senders) = &rule.senders
        && !senders.contains(&facts.sender.agency_type)
    {
        out.push(Reason::new(Rule::KindSender, "/kind"));
    }
    let payload = &facts.envelope.payload;
    if let Some(field) = &rule.reporter_orgnr_field
        && payload.str_at(field) != Some(facts.sender.orgnr.as_str())
    {
        out.push(Reason::new(
            Rule::SenderOrganisation,
            format!("/payload{field}"),
        ));
    }
    let Some(r) = recipient else { return };
    if let Some(field) = &rule.municipality_field
        && payload.str_at(field) != Some(r.municipality.as_str())
    {
        out.push(Reason::new(
            Rule::RecipientMunicipality,
            format!("/payload{field}"),
        ));
    }
    if rule.members_only && !r.members.contains(&facts.sender.id) {
        out.push(Reason::new(Rule::NotMember, "/recipient"));
    }
}

struct Check<'c, 'a> {
    facts: Facts<'c>,
    basis: &'a Basis,
    recipient: Option<&'a Agency>,
    catalog: &'a Catalog,
    refusals: &'c mut Vec<Reason>,
    warnings: &'c mut Vec<Reason>,
}

impl Check<'_, '_> {
    fn refuse(&mut self, rule: Rule, pointer: impl Into<String>) {
        self.refusals.push(Reason::new(rule, pointer));
    }

    fn all(&mut self) {
        let kind = self.facts.envelope.kind;
        if !self.basis.kinds.contains(&kind) {
            self.refuse(Rule::BasisWrongKind, "/kind");
        }
        self.parties();
        let age = self.subject();
        self.consent(age);
        self.attestation();
        if let Some(profile) = self.basis.fields.get(&kind) {
            let lexicon = self.catalog.lexicon();
            fields::check(
                profile,
                &self.facts.envelope.payload,
                lexicon,
                self.refusals,
            );
        }
    }

    fn parties(&mut self) {
        if self.basis.status == crate::catalog::BasisStatus::Unverified {
            self.warnings.push(Reason::new(Rule::BasisUnverified, TAG));
        }
        let sender = self.facts.sender.agency_type;
        if self.basis.barred.contains(&sender) {
            self.refuse(Rule::SenderBarred, TAG);
        } else if !self.basis.senders.admits(sender) {
            self.refuse(Rule::SenderType, TAG);
        }
        if self.basis.warn.contains(&sender) {
            self.warnings.push(Reason::new(Rule::SenderWarned, TAG));
        }
        let Some(recipient) = self.recipient else {
            return;
        };
        if !self.basis.recipients.admits(recipient.agency_type) {
            self.refuse(Rule::RecipientType, "/recipient");
        }
        if recipient.group && self.basis.group == GroupRule::Never {
            self.refuse(Rule::GroupRecipient, "/recipient");
        }
    }

    /// Checks the subject's age against the basis; returns the age the consent rules use
    /// (`None`: unborn).
    fn subject(&mut self) -> Option<u32> {
        let (envelope, today) = (self.facts.envelope, self.facts.today);
        let stated = subject::births_in(envelope.kind, &envelope.payload, today);
        let mut births = Vec::new();
        for (pointer, birth) in stated {
            match birth {
                Ok(b) => births.push((pointer, b)),
                Err(subject::BirthError::Unreadable) => {
                    self.refuse(Rule::SubjectUnknownBirth, pointer)
                }
                Err(subject::BirthError::Contradicted) => {
                    self.refuse(Rule::SubjectMismatch, pointer)
                }
            }
        }
        if !births.is_empty()
            && !births
                .iter()
                .any(|(_, b)| subject::claim_agrees(&envelope.subject, *b, today))
        {
            self.refuse(Rule::SubjectMismatch, "/subject");
        }
        let ages: Vec<(String, Option<u32>)> = if births.is_empty() {
            let claimed = subject::claimed_age(&envelope.subject, today);
            if claimed.is_none() {
                self.refuse(Rule::SubjectUnknownBirth, "/subject");
            }
            claimed
                .map(|a| ("/subject".to_owned(), a))
                .into_iter()
                .collect()
        } else {
            births
                .into_iter()
                .map(|(p, b)| (p, b.age_on(today)))
                .collect()
        };
        for (pointer, age) in &ages {
            match age {
                None if !self.basis.unborn => self.refuse(Rule::SubjectUnborn, pointer.clone()),
                Some(a) if self.basis.max_age.is_some_and(|max| *a >= u32::from(max)) => {
                    self.refuse(Rule::SubjectTooOld, pointer.clone())
                }
                _ => {}
            }
        }
        ages.first().and_then(|(_, a)| *a)
    }

    fn consent(&mut self, age: Option<u32>) {
        let Some(recipient) = self.recipient else {
            return;
        };
        let Some(rule) = self.basis.consent_rule(recipient.agency_type) else {
            if recipient.group && self.basis.group == GroupRule::WithConsent {
                self.refuse(Rule::GroupRecipient, "/recipient");
            }
            return;
        };
        const REF: &str = "/legalBasis/consentRef";
        let envelope = self.facts.envelope;
        if envelope.legal_basis.consent_ref.is_none() {
            return self.refuse(Rule::ConsentMissing, REF);
        }
        let Some(consent) = self.facts.consent else {
            return self.refuse(Rule::ConsentUnknown, REF);
        };
        if consent.withdrawn_at.is_some() {
            return self.refuse(Rule::ConsentWithdrawn, REF);
        }
        if !consent.valid_on(self.facts.today) {
            self.refuse(Rule::ConsentNotValid, REF);
        }
        let subject = subject::identity(envelope.kind, &envelope.payload)
            .and_then(|s| s.canonical(self.facts.today))
            .map(|c| self.facts.subject_key.hash(&c));
        if subject.as_deref() != Some(consent.subject_hash.as_str()) {
            self.refuse(Rule::ConsentSubject, "/payload");
        }
        if consent.purpose != envelope.kind {
            self.refuse(Rule::ConsentPurpose, "/kind");
        }
        if !consent.recipient_types.contains(&recipient.agency_type)
            || recipient.group && !consent.groups
        {
            self.refuse(Rule::ConsentRecipient, "/recipient");
        }
        let guardians_gave = consent.granted_by.contains(&Grantor::Guardians);
        for leaf in crate::catalog::leaves(envelope.payload.fields()) {
            let category = self.catalog.category(envelope.kind, &leaf.path);
            let refused = if !category.is_some_and(|c| consent.categories.iter().any(|k| k == c)) {
                Some(Rule::ConsentCategory)
            } else if !guardians_gave
                && category.is_some_and(|c| self.catalog.about_guardians(envelope.kind, c))
            {
                Some(Rule::GuardianDataConsent)
            } else {
                None
            };
            if let Some(rule) = refused {
                self.refuse(rule, format!("/payload{}", leaf.pointer()));
            }
        }
        let subject_gave = consent.granted_by.contains(&Grantor::Subject);
        let assessed = self.facts.attested().any(|id| id == Maturity::ASSESSED);
        let (subject_needed, guardians_needed) = rule.needs(age, subject_gave, assessed);
        if guardians_needed && !guardians_gave {
            self.refuse(Rule::GuardianConsentMissing, REF);
        }
        if subject_needed && !subject_gave {
            self.refuse(Rule::SubjectConsentMissing, REF);
        }
    }

    fn attestation(&mut self) {
        const AT: &str = "/legalBasis/attestation";
        let wanted = self.basis.attestation_of(self.facts.sender.agency_type);
        let group = self.recipient.is_some_and(|r| r.group);
        let assesses_maturity = self
            .recipient
            .and_then(|r| self.basis.consent_rule(r.agency_type))
            .is_some_and(ConsentRule::assesses_maturity);
        let given: Vec<&String> = self.facts.attested().collect();
        let group_statements = wanted.group.iter().filter(|_| group);
        for id in wanted.all.iter().chain(group_statements) {
            if !given.contains(&id) {
                self.refuse(Rule::AttestationMissing, format!("{AT}/{id}"));
            }
        }
        if !wanted.any.is_empty() && !wanted.any.iter().any(|id| given.contains(&id)) {
            self.refuse(Rule::AttestationMissing, AT);
        }
        for id in given {
            if !(wanted.knows(id) || assesses_maturity && id == Maturity::ASSESSED) {
                self.refuse(Rule::AttestationUnknown, format!("{AT}/{id}"));
            }
        }
    }
}
