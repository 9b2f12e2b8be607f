//! Explaining a decision to the sender: each reason as a field error with the rule's code,
//! a text in the reader's language and the statute, never a value.

use super::problem::{Problem, ProblemType};
use crate::decide::{Decision, Lang, Reason, Rule};
use crate::parse::FieldError;

/// The reasons of a decision as field errors in `lang`.
pub fn errors(decision: &Decision<'_>, reasons: &[Reason], lang: Lang) -> Vec<FieldError> {
    reasons
        .iter()
        .map(|r| {
            let mut error = FieldError::new(r.pointer.clone(), r.rule.code(), r.rule.text(lang));
            error.statute = decision
                .basis
                .filter(|_| cites_basis(r.rule))
                .map(|b| b.statute.clone());
            error.replaced_by = r.replaced_by.clone();
            error.found = r
                .found
                .iter()
                .map(|f| {
                    serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect();
            error
        })
        .collect()
}

/// The problem answer for a refused message.
pub fn refusal(decision: &Decision<'_>, lang: Lang) -> Problem {
    let first = decision
        .refusals
        .first()
        .map_or(Rule::BasisUnknown, |r| r.rule);
    let n = decision.refusals.len();
    let detail = match lang {
        Lang::En => {
            format!("The message was refused and not sent: {n} reason(s), each in `errors`.")
        }
        Lang::Nb => format!("Meldingen ble avvist og ikke sendt: {n} grunn(er), hver i `errors`."),
        Lang::Sv => {
            format!("Meddelandet avvisades och skickades inte: {n} skäl, vart och ett i `errors`.")
        }
    };
    let mut problem = Problem::new(problem_type(first), detail).with_errors(errors(
        decision,
        &decision.refusals,
        lang,
    ));
    problem.language = Some(lang.tag());
    problem
}

/// Whether a rule's text should cite the basis' statute.
fn cites_basis(rule: Rule) -> bool {
    !matches!(
        rule,
        Rule::UnknownRecipient
            | Rule::RecipientMunicipality
            | Rule::KindRecipient
            | Rule::KindSender
            | Rule::NotMember
            | Rule::SenderOrganisation
            | Rule::BasisUnknown
            | Rule::BasisReplaced
    )
}

/// The problem type a refusal leads with.
pub fn problem_type(rule: Rule) -> ProblemType {
    use Rule as R;
    match rule {
        R::UnknownRecipient => ProblemType::UnknownRecipient,
        R::RecipientMunicipality | R::KindRecipient | R::KindSender | R::NotMember => {
            ProblemType::RecipientMismatch
        }
        R::CrossBorder => ProblemType::CrossBorder,
        R::SenderOrganisation => ProblemType::SenderMismatch,
        R::BasisUnknown | R::BasisReplaced => ProblemType::LegalBasisUnknown,
        R::BasisNotInForce => ProblemType::LegalBasisNotInForce,
        R::BasisWrongKind
        | R::SenderType
        | R::SenderBarred
        | R::SenderWarned
        | R::BasisUnverified
        | R::RecipientType
        | R::GroupRecipient => ProblemType::LegalBasisNotApplicable,
        R::SubjectTooOld | R::SubjectUnborn | R::SubjectMismatch | R::SubjectUnknownBirth => {
            ProblemType::SubjectNotCovered
        }
        R::ConsentMissing
        | R::ConsentUnknown
        | R::ConsentWithdrawn
        | R::ConsentNotValid
        | R::ConsentSubject
        | R::ConsentPurpose
        | R::ConsentRecipient
        | R::ConsentCategory
        | R::GuardianConsentMissing
        | R::GuardianDataConsent
        | R::SubjectConsentMissing => ProblemType::ConsentNotValid,
        R::AttestationMissing | R::AttestationUnknown => ProblemType::AttestationMissing,
        R::FieldNotAllowed | R::FieldRequired => ProblemType::FieldsNotMinimal,
        R::IdentifierInText => ProblemType::IdentifyingText,
    }
}
