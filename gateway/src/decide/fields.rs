//! The field profile check: only the fields a basis allows, every field it requires, and
//! in anonymised messages no identifier in any text.

use super::{Reason, Rule};
use crate::catalog::{FieldProfile, leaves};
use crate::parse::Payload;
use crate::scan::{Identifier, Lexicon};
use serde_json::Value;

/// Adds a reason for each field `payload` carries that `profile` does not allow (the
/// topmost such field), each it requires that is missing, and each text with an identifier
/// (for a field that must name a municipality: each that does not).
pub fn check(profile: &FieldProfile, payload: &Payload, lexicon: &Lexicon, out: &mut Vec<Reason>) {
    let mut refused: Vec<String> = Vec::new();
    for leaf in leaves(payload.fields()) {
        if !profile.allows(&leaf.path) {
            let pointer = format!("/payload{}", topmost_refused(profile, &leaf.path));
            if !refused.contains(&pointer) {
                refused.push(pointer);
            }
        } else if profile.anonymised
            && let Value::String(text) = leaf.value
        {
            let municipality = profile
                .municipality_fields
                .iter()
                .any(|p| p.covers(&leaf.path));
            let found = match municipality {
                true if lexicon.is_municipality(text) => Vec::new(),
                true => vec![Identifier::ReferringUnit],
                false => lexicon.identifiers(text),
            };
            if !found.is_empty() {
                out.push(Reason {
                    found,
                    ..Reason::new(
                        Rule::IdentifierInText,
                        format!("/payload{}", leaf.pointer()),
                    )
                });
            }
        }
    }
    out.extend(
        refused
            .into_iter()
            .map(|p| Reason::new(Rule::FieldNotAllowed, p)),
    );
    for required in &profile.required {
        for missing in required.missing_in(payload.fields()) {
            out.push(Reason::new(
                Rule::FieldRequired,
                format!("/payload{missing}"),
            ));
        }
    }
}

/// The shortest prefix of `path` that no allowed pattern reaches into.
fn topmost_refused(profile: &FieldProfile, path: &[String]) -> String {
    let depth = (1..=path.len())
        .find(|&n| {
            let prefix = &path[..n];
            !profile.allowed.iter().any(|p| {
                p.covers(prefix) || (p.segments().len() > n && lies_below(p.segments(), prefix))
            })
        })
        .unwrap_or(path.len());
    path[..depth].iter().fold(String::new(), |mut s, seg| {
        s.push('/');
        s.push_str(seg);
        s
    })
}

/// Whether a deeper pattern lies below `prefix`.
fn lies_below(pattern: &[String], prefix: &[String]) -> bool {
    pattern
        .iter()
        .zip(prefix)
        .all(|(p, s)| p == s || p == "*" && s.parse::<usize>().is_ok())
}
