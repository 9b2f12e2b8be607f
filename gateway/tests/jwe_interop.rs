//! Sealed documents interoperate with an independent JOSE implementation (Python's
//! `jwcrypto`, installed by `ops/python/ensure`), both ways, on both curves.

#[path = "../../tests/src/python.rs"]
mod python;

use gateway::seal::{Curve, PrivateJwk, seal, unseal};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    python::tools().join("python")
}

/// Runs `ops/python/jwe.py action key` with `input`; its output.
fn jwcrypto(action: &str, key: &serde_json::Value, input: &[u8]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("gw-jwe-{}", uuid::Uuid::new_v4()));
    let path = dir.join("key.jwk");
    contract::plumbing::private::write(&path, key.to_string().as_bytes()).unwrap();
    let mut child = Command::new(python())
        .arg(repo().join("ops/python/jwe.py"))
        .args([action, path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const DOCUMENT: &[u8] = "{\"personnavn\":\"Åse Ølstad\",\"fnr\":\"09031450000\"}".as_bytes();

#[test]
fn what_the_gateway_seals_jwcrypto_opens() {
    for curve in [Curve::P256, Curve::X25519] {
        let recipient = PrivateJwk::generate(curve, Some("bv-0301".into()));
        let jwe = seal(DOCUMENT, &recipient.public, "application/json");
        assert_eq!(
            jwcrypto("open", &recipient.to_json(), jwe.as_bytes()),
            DOCUMENT,
            "{curve:?}"
        );
    }
}

#[test]
fn what_jwcrypto_seals_the_gateway_opens() {
    for curve in [Curve::P256, Curve::X25519] {
        let recipient = PrivateJwk::generate(curve, None);
        let jwe = jwcrypto("seal", &recipient.public.to_json(), DOCUMENT);
        let jwe = String::from_utf8(jwe).unwrap();
        assert_eq!(unseal(&jwe, &recipient).unwrap(), DOCUMENT, "{curve:?}");
    }
}
