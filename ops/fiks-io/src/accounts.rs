//! Fiks IO accounts of the stand-in: each with an RSA key pair and a self-signed
//! certificate (dev only, made at start), whose key is written to the state folder so that an
//! independent tool (`openssl cms -decrypt`) can open what the account received.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// What an account does with what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Nothing (a test answers itself).
    Nothing,
    /// Opens it with its key and answers `mottatt`, or `feilet` if it cannot.
    Receipt,
}

/// A receiving account.
pub struct Account {
    pub id: Uuid,
    /// The organisation number it is found by in the catalogue.
    pub organisation_number: Option<String>,
    pub answer: Answer,
    /// Its key (PKCS#8 DER) and certificate (PEM).
    pub pkcs8: Vec<u8>,
    pub certificate: String,
    /// Where its key is written (PEM).
    pub key_file: PathBuf,
}

/// A fresh RSA key pair (PKCS#8 DER, PKCS#8 PEM) and a self-signed certificate of it (PEM),
/// named `name`.
pub fn key_and_certificate(name: &str) -> anyhow::Result<(Vec<u8>, String, String)> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)?;
    let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&pair)?.as_ref().to_vec();
    let key = rcgen::KeyPair::try_from(pkcs8.as_slice())?;
    let certificate = rcgen::CertificateParams::new(vec![name.into()])?.self_signed(&key)?;
    Ok((pkcs8, key.serialize_pem(), certificate.pem()))
}

/// Writes `text` to `path`, readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

impl Account {
    /// A new account `id` with a fresh key written under `state`.
    pub fn new(
        state: &Path,
        id: Uuid,
        organisation_number: Option<String>,
        answer: Answer,
    ) -> anyhow::Result<Self> {
        let key_file = state.join("accounts").join(format!("{id}.key.pem"));
        let mut account = Self {
            id,
            organisation_number,
            answer,
            pkcs8: Vec::new(),
            certificate: String::new(),
            key_file,
        };
        account.rotate()?;
        Ok(account)
    }

    /// A new key and certificate, the old ones forgotten.
    pub fn rotate(&mut self) -> anyhow::Result<()> {
        let (pkcs8, key, certificate) = key_and_certificate(&format!("fiks-io-{}", self.id))?;
        write_private(&self.key_file, &key)?;
        std::fs::write(
            self.key_file.with_extension("").with_extension("cert.pem"),
            &certificate,
        )?;
        (self.pkcs8, self.certificate) = (pkcs8, certificate);
        Ok(())
    }
}
