//! The HTTPS listener's TLS: the gateway's certificate, and the organisation certificates
//! it asks clients for when `[http.tls.clients]` is set (verified against its CAs and
//! revocation lists; a client without one may still use a token). The files are read
//! again every `reload_secs`, and a change takes effect for new connections ([`reload`]).

use crate::authenticate::certificate::ClientCertificatesConfig;
use crate::config::TlsConfig;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why the listener's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {reason}")]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("the client CAs or revocation lists are not usable: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("the server certificate and key do not make a TLS configuration: {0}")]
    Server(#[from] rustls::Error),
}

fn file_error(what: &'static str, path: &Path) -> impl FnOnce(String) -> TlsError {
    let path = path.to_owned();
    move |reason| TlsError::File { what, path, reason }
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|all| all.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(what, path)(e.to_string()))?;
    if certificates.is_empty() {
        return Err(file_error(what, path)("no certificate in it".into()));
    }
    Ok(certificates)
}

/// A revocation list, PEM or DER.
fn revocation_list(path: &Path) -> Result<CertificateRevocationListDer<'static>, TlsError> {
    let bytes =
        std::fs::read(path).map_err(|e| file_error("a revocation list", path)(e.to_string()))?;
    if bytes.starts_with(b"-----BEGIN") {
        CertificateRevocationListDer::from_pem_slice(&bytes)
            .map_err(|e| file_error("a revocation list", path)(e.to_string()))
    } else {
        Ok(CertificateRevocationListDer::from(bytes))
    }
}

/// Verifies organisation certificates of `clients`' CAs, not revoked by its lists (a CA
/// without a list is not checked for revocation); clients without one pass to the tokens.
fn client_verifier(
    clients: &ClientCertificatesConfig,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates(&clients.ca, "client CA certificates")? {
        roots
            .add(ca)
            .map_err(|e| file_error("client CA certificates", &clients.ca)(e.to_string()))?;
    }
    let crls = clients
        .crl
        .iter()
        .map(|path| revocation_list(path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WebPkiClientVerifier::builder(Arc::new(roots))
        .with_crls(crls)
        .only_check_end_entity_revocation()
        .allow_unknown_revocation_status()
        .allow_unauthenticated()
        .build()?)
}

/// The listener's rustls configuration.
pub fn server_config(tls: &TlsConfig) -> Result<rustls::ServerConfig, TlsError> {
    let chain = certificates(&tls.cert, "the server certificate")?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| file_error("the server key", &tls.key)(e.to_string()))?;
    let builder = rustls::ServerConfig::builder();
    let mut config = match &tls.clients {
        Some(clients) => builder.with_client_cert_verifier(client_verifier(clients)?),
        None => builder.with_no_client_auth(),
    }
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The files of `tls`, in the order they are read.
fn files(tls: &TlsConfig) -> Vec<&Path> {
    let mut files = vec![tls.cert.as_path(), tls.key.as_path()];
    if let Some(clients) = &tls.clients {
        files.push(&clients.ca);
        files.extend(clients.crl.iter().map(PathBuf::as_path));
    }
    files
}

/// A digest of what the files of `tls` hold now (a missing file counts as empty).
fn digest(tls: &TlsConfig) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files(tls) {
        std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

/// Until `cancel`, reads the files of `tls` again every `reload_secs` and, when they
/// changed, puts the configuration they make in `rustls` for new connections; files that
/// do not make one (a revocation list half written, a key that does not match) are logged
/// and the configuration in use is kept, to be tried again at the next change.
pub async fn reload(tls: TlsConfig, rustls: RustlsConfig, cancel: CancellationToken) {
    let mut seen = digest(&tls);
    let mut every = tokio::time::interval(Duration::from_secs(tls.reload_secs.max(1)));
    every.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = digest(&tls);
        if now == seen {
            continue;
        }
        seen = now;
        match server_config(&tls) {
            Ok(config) => {
                rustls.reload_from_config(Arc::new(config));
                tracing::info!("TLS certificate, key, CAs and revocation lists read again");
            }
            Err(error) => {
                tracing::warn!(%error, "changed TLS files not taken; the ones in use are kept")
            }
        }
    }
}
