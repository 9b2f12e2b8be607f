//! The anonymisation scan against sample texts: every ordinary sentence passes (no false
//! positive), every identifying one is caught with its class, and the valid examples' texts
//! pass. The counts are those of `docs/legal-basis-model.md`.

use gateway::catalog::Catalog;
use gateway::scan::Identifier;
use std::path::Path;

fn lines(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn catalog() -> Catalog {
    Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/legal-bases.toml"))
        .unwrap()
}

#[test]
fn ordinary_sentences_pass() {
    let catalog = catalog();
    let ordinary = lines("ordinary.txt");
    let flagged: Vec<(String, Vec<Identifier>)> = ordinary
        .iter()
        .map(|l| (l.clone(), catalog.lexicon().identifiers(l)))
        .filter(|(_, found)| !found.is_empty())
        .collect();
    assert!(ordinary.len() >= 40);
    assert_eq!(
        flagged,
        [],
        "false positives among {} sentences",
        ordinary.len()
    );
}

#[test]
fn identifying_sentences_are_caught_with_their_class() {
    let catalog = catalog();
    for line in lines("identifying.txt") {
        let (class, text) = line.split_once('\t').unwrap();
        let found = catalog.lexicon().identifiers(text);
        let names: Vec<String> = found
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(names.iter().any(|n| n == class), "{text}: {names:?}");
    }
}

#[test]
fn the_texts_of_the_valid_examples_pass() {
    let catalog = catalog();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/examples/valid");
    for entry in std::fs::read_dir(dir).unwrap() {
        let example: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        for text in [
            "beskrivelse",
            "oro",
            "planeradeInsatser",
            "individuellPlan",
            "foreslattTiltak",
        ]
        .iter()
        .filter_map(|k| example["payload"][k].as_str())
        {
            assert_eq!(catalog.lexicon().identifiers(text), [], "{text}");
        }
    }
}
