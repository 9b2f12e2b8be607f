//! TLS made in the test: a CA of its own, certificates it signs (valid or expired), server
//! configurations that take them, and a TLS front for the broker (TLS outside, the real
//! broker's plain port inside), so that a test can make the broker's certificate expired
//! or signed by another CA.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// rustls's provider for the whole test process (the one the gateway installs).
pub fn provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate (PEM), to trust it.
    pub pem: String,
}

/// A certificate the test CA signed, for `localhost`, with its key (PEM).
#[derive(Clone)]
pub struct Issued {
    pub cert: String,
    pub key: String,
}

impl Issued {
    /// Writes the certificate and key into `dir` as `<name>.pem` and `<name>.key`.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        std::fs::create_dir_all(dir).unwrap();
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert, &self.cert).unwrap();
        std::fs::write(&key, &self.key).unwrap();
        (cert, key)
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(self.cert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key.as_bytes()).unwrap()
    }
}

impl TestCa {
    /// A fresh CA.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A certificate for `localhost` (server and client use); expired a day ago if `expired`.
    pub fn issue(&self, expired: bool) -> Issued {
        self.issue_with(expired, |_| {})
    }

    /// An organisation certificate: `identifier` as its subject's organizationIdentifier
    /// (none if `None`), numbered `serial`.
    pub fn issue_organisation(
        &self,
        identifier: Option<&str>,
        serial: u64,
        expired: bool,
    ) -> Issued {
        self.issue_with(expired, |params| {
            params.serial_number = Some(SerialNumber::from(serial));
            if let Some(identifier) = identifier {
                params
                    .distinguished_name
                    .push(DnType::CustomDnType(vec![2, 5, 4, 97]), identifier);
            }
        })
    }

    /// A revocation list of this CA revoking the certificates numbered `serials` (PEM).
    pub fn revocation_list(&self, serials: &[u64]) -> String {
        let now = time::OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update: now - time::Duration::hours(1),
            next_update: now + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: now - time::Duration::minutes(5),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .unwrap()
        .pem()
        .unwrap()
    }

    fn issue_with(&self, expired: bool, tweak: impl FnOnce(&mut CertificateParams)) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        tweak(&mut params);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = time::OffsetDateTime::now_utc();
        if expired {
            (params.not_before, params.not_after) = (
                now - time::Duration::days(30),
                now - time::Duration::days(1),
            );
        } else {
            (params.not_before, params.not_after) = (
                now - time::Duration::days(1),
                now + time::Duration::days(30),
            );
        }
        Issued {
            cert: params.signed_by(&key, &self.issuer).unwrap().pem(),
            key: key.serialize_pem(),
        }
    }

    /// Writes the CA certificate into `dir` as `<name>.pem`.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, &self.pem).unwrap();
        path
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        roots
    }
}

/// A server presenting `issued`; if `clients` is given, it takes only clients with a
/// certificate that CA signed.
pub fn server_config(issued: &Issued, clients: Option<&TestCa>) -> Arc<rustls::ServerConfig> {
    provider();
    let builder = rustls::ServerConfig::builder();
    let builder = match clients {
        Some(ca) => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder(Arc::new(ca.roots()))
                .build()
                .unwrap(),
        ),
        None => builder.with_no_client_auth(),
    };
    Arc::new(
        builder
            .with_single_cert(issued.chain(), issued.private_key())
            .unwrap(),
    )
}

/// A TLS front on a free port presenting `issued`, passing every connection on to
/// `target` (the broker's plain AMQP port); its address.
pub async fn front(issued: &Issued, target: SocketAddr) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(issued, None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut outside) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut inside) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut outside, &mut inside).await;
            });
        }
    });
    addr
}
