//! The Python tools the tests check the contracts with (`ops/python/ensure`: a virtual
//! environment under `target/py`, made on first use). Shared by the test crates of the
//! workspace (the gateway's include this file), each one folder below the repository root.

use std::path::{Path, PathBuf};

/// The virtual environment's bin folder (`python`, `openapi-spec-validator`, …).
pub fn tools() -> PathBuf {
    let ensure = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/python/ensure");
    let out = std::process::Command::new(ensure).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}
