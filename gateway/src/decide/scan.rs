//! The free-text scan of anonymised messages: national ID numbers (Norwegian, Swedish,
//! Danish), phone numbers, e-mail addresses and exact dates. A hit names its kind, never
//! the text.

use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// What kind of identifier a text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// Norwegian fødselsnummer, Swedish personnummer, Danish CPR number.
    NationalId,
    PhoneNumber,
    EmailAddress,
    /// An exact date (of birth or of an incident).
    ExactDate,
}

struct Patterns {
    national_id: Regex,
    date: Regex,
    phone: Regex,
    email: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("scan patterns compile");
    Patterns {
        // NO: 11 digits (6 + 5, optionally spaced); SE: (YY)YYMMDD-NNNN or +; DK: DDMMYY-NNNN.
        national_id: re(r"\b(?:\d{6}\s?\d{5}|(?:\d{2})?\d{6}[-+]\d{4}|(?:19|20)\d{10})\b"),
        date: re(r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})\b"),
        // Eight or more digits, optionally spaced or dashed, with an optional +country code.
        phone: re(r"(?:\+\d{2,3}[\s-]?)?\b\d(?:[\s-]?\d){7,}\b"),
        email: re(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}"),
    }
});

/// Every kind of identifier found in `text`, in a fixed order.
pub fn identifiers(text: &str) -> Vec<Identifier> {
    let p = &*PATTERNS;
    let mut found = Vec::new();
    if p.national_id.is_match(text) {
        found.push(Identifier::NationalId);
    }
    let is_date_or_id = |m: &str| p.date.is_match(m) || p.national_id.is_match(m);
    if p.phone.find_iter(text).any(|m| !is_date_or_id(m.as_str())) {
        found.push(Identifier::PhoneNumber);
    }
    if p.email.is_match(text) {
        found.push(Identifier::EmailAddress);
    }
    if p.date.is_match(text) {
        found.push(Identifier::ExactDate);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{Identifier::*, identifiers};

    #[test]
    fn finds_each_kind_of_identifier() {
        assert_eq!(identifiers("fnr 09031450000 i teksten"), [NationalId]);
        assert_eq!(identifiers("fnr 090314 50000"), [NationalId]);
        assert_eq!(identifiers("pnr 20120301-1234."), [NationalId]);
        assert_eq!(identifiers("pnr 120301-1234"), [NationalId]);
        assert_eq!(identifiers("CPR 010312-1234"), [NationalId]);
        assert_eq!(identifiers("ring 22 33 44 55"), [PhoneNumber]);
        assert_eq!(identifiers("ring +47 912 34 567"), [PhoneNumber]);
        assert_eq!(identifiers("mail ola@example.invalid"), [EmailAddress]);
        assert_eq!(identifiers("skjedde 2026-03-01"), [ExactDate]);
        assert_eq!(identifiers("skjedde 1.3.2026"), [ExactDate]);
    }

    #[test]
    fn ordinary_text_passes() {
        assert!(
            identifiers("Flere elever på 9. trinn, 3 ganger i 2025, klokken 14.30.").is_empty()
        );
    }
}
