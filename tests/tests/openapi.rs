//! The OpenAPI document of the gateway's API (`GET /openapi.json`): the routes served are
//! the routes described, both ways; the copy kept in the repository is what is served
//! (`gateway/tests/contracts.rs` runs `openapi-spec-validator` on it); every example
//! validates against the document's schemas; and a client generated from
//! it by an off-the-shelf generator (`openapi-python-client`) sends the example
//! bekymringsmelding and reads its status.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use tests::{Harness, SCHOOL, bekymringsmelding, repo};

/// The copy the repository keeps; `gateway openapi` writes it.
fn kept() -> PathBuf {
    repo().join("schemas/gateway.openapi.json")
}

/// Whether the gateway has a route for `method` on `path` (parameters filled in): an
/// answer that is not the fallback's 404 nor a 405.
async fn served(h: &Harness, method: &str, path: &str) -> bool {
    let url = format!(
        "{}{}",
        h.base(),
        path.replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{tag}", "no.bvl2021.13-2")
            .replace("{slug}", "not-found")
            .replace("{transport}", "inbox")
            .replace("{asset}", "console.js")
    );
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let response = h.http.request(method, url).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    status != 405 && !(status == 404 && body["detail"] == "no such resource")
}

#[tokio::test]
async fn the_served_document_is_the_kept_one_and_describes_exactly_the_routes() {
    let h = Harness::new().await;
    let served_document: Value = h.get("/openapi.json", None).await.json().await.unwrap();
    let kept_document: Value =
        serde_json::from_str(&std::fs::read_to_string(kept()).unwrap()).unwrap();
    assert!(
        served_document == kept_document,
        "schemas/gateway.openapi.json is not what the gateway serves: \
         run `cargo run -p gateway -- --config ops/config/gateway.dev.toml openapi > schemas/gateway.openapi.json`"
    );
    let paths = served_document["paths"].as_object().unwrap();
    assert!(paths.len() >= 14);
    for (path, operations) in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            let described = operations.get(method).is_some();
            assert_eq!(
                served(&h, method, path).await,
                described,
                "{method} {path}: described {described}"
            );
        }
    }
    h.cleanup().await;
}

#[test]
fn every_example_validates_against_the_documents_schemas() {
    let document: Value = serde_json::from_str(&std::fs::read_to_string(kept()).unwrap()).unwrap();
    for (schema, folder) in [("Message", "valid"), ("ConsentRequest", "consents")] {
        let mut root = document.clone();
        root["$ref"] = Value::String(format!("#/components/schemas/{schema}"));
        let validator = jsonschema::draft202012::new(&root).unwrap();
        let examples = document["components"]["examples"].as_object().unwrap();
        let files = std::fs::read_dir(repo().join("schemas/examples").join(folder)).unwrap();
        let mut count = 0;
        for file in files {
            let path = file.unwrap().path();
            let example: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&example)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            assert!(
                examples.values().any(|e| e["value"] == example),
                "{} is not among the document's examples",
                path.display()
            );
            count += 1;
        }
        assert!(count > 0, "{folder}");
    }
    // An invalid example is not taken by the same schemas.
    let mut root = document.clone();
    root["$ref"] = Value::String("#/components/schemas/Message".into());
    let validator = jsonschema::draft202012::new(&root).unwrap();
    let invalid: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("schemas/examples/invalid/no.bekymringsmelding.short-fnr.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(!validator.is_valid(&invalid["message"]));
}

/// What the generated client does: sends the message read from stdin with the token, then
/// reads its status; prints the status code of the send and the status read.
const CLIENT: &str = r#"
import json, sys
from referral_gateway_client import AuthenticatedClient
from referral_gateway_client.api.default import send_message, message_status
from referral_gateway_client.models import MessageType0

base, token = sys.argv[1], sys.argv[2]
message = json.load(sys.stdin)
client = AuthenticatedClient(base_url=base, token=token)
sent = send_message.sync_detailed(client=client, body=MessageType0.from_dict(message))
status = message_status.sync(client=client, id=message["messageId"])
print(json.dumps({"sent": sent.status_code.value, "gatewayId": str(sent.parsed.gateway_id),
                  "status": status.status, "kind": status.kind}))
"#;

#[tokio::test]
async fn a_generated_client_sends_the_example_and_reads_its_status() {
    let h = Harness::new().await;
    let tools = tests::python::tools();
    let work = h.dir.join("client");
    std::fs::create_dir_all(&work).unwrap();
    let document = work.join("openapi.json");
    let served = h.get("/openapi.json", None).await.bytes().await.unwrap();
    std::fs::write(&document, served).unwrap();
    let generated = Command::new(tools.join("openapi-python-client"))
        .current_dir(&work)
        .args(["generate", "--meta", "none", "--path"])
        .arg(&document)
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let message = bekymringsmelding();
    // The gateway runs on this test's runtime: the client runs beside it, not blocking it.
    let mut client = tokio::process::Command::new(tools.join("python"))
        .current_dir(&work)
        .args(["-c", CLIENT, &h.base(), &h.token(SCHOOL)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = client.stdin.take().unwrap();
    stdin
        .write_all(message.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = client.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["sent"], 202, "{answer}");
    assert_eq!(answer["kind"], "no.bekymringsmelding");
    assert!(
        ["recorded", "queued"].contains(&answer["status"].as_str().unwrap()),
        "{answer}"
    );
    let status: Value = h.school_view(&message).await;
    assert_eq!(status["gatewayId"], answer["gatewayId"]);
    h.cleanup().await;
}
