//! Field profiles: which fields of a message kind a legal basis lets a message carry.
//!
//! Fields are named by JSON pointer patterns into the payload; `*` stands for any array
//! index (`/offentligBarn/*/fnr`). A pattern allows the field it names and everything
//! below it.

use contract::message::Kind;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// A JSON pointer into a payload, `*` for any array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPattern {
    text: String,
    segments: Vec<String>,
}

impl FieldPattern {
    /// Parses `/a/*/b`; `None` unless it starts with `/` and has no empty segment.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix('/')?;
        let segments: Vec<String> = rest.split('/').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        Some(Self {
            text: text.into(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The pattern's segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether this pattern names `path` or a field above it.
    pub fn covers(&self, path: &[String]) -> bool {
        self.segments.len() <= path.len()
            && self
                .segments
                .iter()
                .zip(path)
                .all(|(p, s)| p == "*" && s.parse::<usize>().is_ok() || p == s)
    }

    /// The concrete pointers this (required) pattern asks for in `payload` that are absent.
    pub fn missing_in(&self, payload: &serde_json::Map<String, Value>) -> Vec<String> {
        let mut missing = Vec::new();
        let (head, tail) = self
            .segments
            .split_first()
            .expect("a pattern has a segment");
        match payload.get(head) {
            Some(value) => walk_required(value, tail, &mut format!("/{head}"), &mut missing),
            None => missing.push(self.text.clone()),
        }
        missing
    }
}

fn walk_required(value: &Value, rest: &[String], at: &mut String, missing: &mut Vec<String>) {
    let Some((head, tail)) = rest.split_first() else {
        return;
    };
    let len = at.len();
    match (head.as_str(), value) {
        ("*", Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                at.push_str(&format!("/{i}"));
                walk_required(item, tail, at, missing);
                at.truncate(len);
            }
        }
        (key, Value::Object(map)) if map.contains_key(key) => {
            at.push('/');
            at.push_str(key);
            walk_required(&map[key], tail, at, missing);
            at.truncate(len);
        }
        _ => missing.push(format!("{at}/{}", rest.join("/"))),
    }
}

impl fmt::Display for FieldPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for FieldPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// The fields of one kind that a basis allows, and those it requires.
#[derive(Debug, Clone, Serialize)]
pub struct FieldProfile {
    pub name: String,
    pub kind: Kind,
    pub allowed: Vec<FieldPattern>,
    pub required: Vec<FieldPattern>,
    /// Anonymised sharing: every text field is scanned for identifiers.
    pub anonymised: bool,
    /// Fields that must name a municipality (the referring unit of an anonymised message),
    /// not a school or a service.
    pub municipality_fields: Vec<FieldPattern>,
}

impl FieldProfile {
    /// Whether the profile allows the field at `path`.
    pub fn allows(&self, path: &[String]) -> bool {
        self.allowed.iter().any(|p| p.covers(path))
    }
}

/// A leaf of a payload: its path segments and its value.
pub struct Leaf<'a> {
    pub path: Vec<String>,
    pub value: &'a Value,
}

impl Leaf<'_> {
    /// The leaf's JSON pointer, relative to the payload.
    pub fn pointer(&self) -> String {
        self.path.iter().fold(String::new(), |mut s, seg| {
            s.push('/');
            s.push_str(seg);
            s
        })
    }
}

/// Every leaf (scalar, empty object or empty array) of an object, depth first.
pub fn leaves(object: &serde_json::Map<String, Value>) -> Vec<Leaf<'_>> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    for (key, child) in object {
        path.push(key.clone());
        collect(child, &mut path, &mut out);
        path.pop();
    }
    out
}

fn collect<'a>(value: &'a Value, path: &mut Vec<String>, out: &mut Vec<Leaf<'a>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                collect(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                collect(child, path, out);
                path.pop();
            }
        }
        _ => out.push(Leaf {
            path: path.clone(),
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> FieldPattern {
        FieldPattern::parse(s).unwrap()
    }

    fn path(s: &str) -> Vec<String> {
        s.trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn patterns_cover_their_subtree_and_any_index() {
        assert!(p("/person").covers(&path("/person/navn")));
        assert!(p("/barn/*/fnr").covers(&path("/barn/3/fnr")));
        assert!(!p("/barn/*/fnr").covers(&path("/barn/x/fnr")));
        assert!(!p("/person/navn").covers(&path("/person")));
        assert!(FieldPattern::parse("person").is_none());
        assert!(FieldPattern::parse("/a//b").is_none());
    }

    #[test]
    fn required_patterns_name_each_missing_pointer() {
        let payload = json!({"barn": [{"fnr": "x"}, {}], "a": {}});
        let payload = payload.as_object().unwrap();
        assert!(p("/barn/*/fnr").missing_in(payload) == ["/barn/1/fnr"]);
        assert_eq!(p("/a/b").missing_in(payload), ["/a/b"]);
        assert_eq!(p("/c/d").missing_in(payload), ["/c/d"]);
    }

    #[test]
    fn leaves_walk_objects_and_arrays() {
        let payload = json!({"a": {"b": 1, "c": [true, {}]}});
        let pointers: Vec<String> = leaves(payload.as_object().unwrap())
            .iter()
            .map(Leaf::pointer)
            .collect();
        assert_eq!(pointers, ["/a/b", "/a/c/0", "/a/c/1"]);
    }
}
