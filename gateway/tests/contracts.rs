//! Every example in `schemas/examples/` against the contracts: valid ones parse, invalid
//! ones fail with the error their `$expect` names (and only values-free texts).

#[path = "../../tests/src/python.rs"]
mod python;

use gateway::parse::{Contracts, ParseError};
use std::path::{Path, PathBuf};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn examples(folder: &str) -> Vec<(String, serde_json::Value)> {
    let mut files: Vec<_> = std::fs::read_dir(schemas().join("examples").join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {folder}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_valid_example_parses() {
    let contracts = Contracts::load(&schemas()).unwrap();
    for (name, example) in examples("valid") {
        let parsed = contracts.parse(example.to_string().as_bytes());
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
        let envelope = parsed.unwrap();
        assert!(
            name.starts_with(envelope.kind.as_str()),
            "{name} is named after its kind {}",
            envelope.kind
        );
    }
}

#[test]
fn every_invalid_example_fails_with_the_error_it_names() {
    let contracts = Contracts::load(&schemas()).unwrap();
    for (name, example) in examples("invalid") {
        let expect = &example["$expect"];
        let (pointer, code) = (
            expect["pointer"].as_str().unwrap(),
            expect["code"].as_str().unwrap(),
        );
        let body = example["message"].to_string();
        match contracts.parse(body.as_bytes()) {
            Err(ParseError::Invalid(errors)) => {
                assert!(
                    errors
                        .iter()
                        .any(|e| e.pointer == pointer && e.code == code),
                    "{name}: expected {code} at {pointer}, got {errors:?}"
                );
                let texts = serde_json::to_string(&errors).unwrap();
                for secret in [
                    "Ola Testbarn",
                    "09031400000",
                    "Adam Testungdom",
                    "0903140000",
                ] {
                    assert!(!texts.contains(secret), "{name}: error texts echo a value");
                }
            }
            other => panic!("{name}: expected a field error, got {other:?}"),
        }
    }
}

#[test]
fn malformed_json_reports_only_its_position() {
    let contracts = Contracts::load(&schemas()).unwrap();
    assert_eq!(
        contracts.parse(b"{\"messageId\": ").unwrap_err(),
        ParseError::Malformed {
            line: 1,
            column: 14
        }
    );
}

/// The OpenAPI documents under `schemas/`, checked by an independent validator
/// (`openapi-spec-validator`, installed by `ops/python/ensure`).
#[test]
fn every_openapi_document_is_valid_openapi() {
    let bin = python::tools();
    let mut documents: Vec<_> = std::fs::read_dir(schemas())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".openapi.yaml") || name.ends_with(".openapi.json")
        })
        .collect();
    documents.sort();
    assert!(!documents.is_empty());
    for document in documents {
        let checked = std::process::Command::new(bin.join("openapi-spec-validator"))
            .arg(&document)
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{}: {}",
            document.display(),
            String::from_utf8_lossy(&checked.stdout)
        );
    }
}
