//! Decision time per message: schema validation, then the legal-basis engine (basis,
//! parties, subject, attestation, field profile), for the example 2 KiB bekymringsmelding,
//! the example anonymised referral and one whose scanned text is 2 KiB; and the scan of a
//! 2 KiB text alone. Run: `cargo bench -p gateway`.

use contract::directory::Directory;
use criterion::{Criterion, criterion_group, criterion_main};
use gateway::catalog::Catalog;
use gateway::consent::SubjectKey;
use gateway::decide::{Facts, decide};
use gateway::parse::Contracts;
use std::hint::black_box;
use std::path::Path;

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let contracts = Contracts::load(&root.join("schemas")).unwrap();
    let catalog = Catalog::load(&root.join("schemas/legal-bases.toml")).unwrap();
    let directory = Directory::load(&root.join("ops/config/directory.dev.toml")).unwrap();
    let key = SubjectKey::new(b"bench");
    let today = time::OffsetDateTime::now_utc().date();
    let sender = directory.get("no-oslo-hasle-skole").unwrap();
    // 2 KiB of ordinary case description, as an anonymised message carries it.
    let sentences = std::fs::read_to_string(root.join("gateway/tests/samples/ordinary.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let text: String = sentences.chars().take(2048).collect();
    c.bench_function(&format!("scan only ({} B of text)", text.len()), |b| {
        b.iter(|| catalog.lexicon().identifiers(black_box(&text)).len())
    });
    let example = |name: &str| {
        std::fs::read(root.join(format!("schemas/examples/valid/{name}.json"))).unwrap()
    };
    let mut long: serde_json::Value =
        serde_json::from_slice(&example("no.politikontakt.anonymised")).unwrap();
    long["payload"]["beskrivelse"] = serde_json::json!(text);
    let messages = [
        ("no.bekymringsmelding", example("no.bekymringsmelding")),
        (
            "no.politikontakt.anonymised",
            example("no.politikontakt.anonymised"),
        ),
        ("anonymised, 2 KiB text", serde_json::to_vec(&long).unwrap()),
    ];
    for (name, body) in messages {
        let envelope = contracts.parse(&body).unwrap();
        let facts = Facts {
            sender,
            envelope: &envelope,
            consent: None,
            subject_key: &key,
            today,
        };
        assert!(
            decide(facts, &directory, &catalog).route().is_some(),
            "{name} is allowed"
        );
        let size = body.len();
        c.bench_function(&format!("{name} ({size} B): decide"), |b| {
            b.iter(|| {
                decide(black_box(facts), &directory, &catalog)
                    .refusals
                    .len()
            })
        });
        c.bench_function(&format!("{name} ({size} B): schema + decide"), |b| {
            b.iter(|| {
                let envelope = contracts.parse(black_box(&body)).unwrap();
                let facts = Facts {
                    envelope: &envelope,
                    ..facts
                };
                decide(facts, &directory, &catalog).refusals.len()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
