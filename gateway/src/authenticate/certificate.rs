//! Organisation certificates over mutual TLS (Sweden's and Denmark's public bodies, or any
//! that prefers them to tokens). The HTTPS listener asks for a client certificate and
//! verifies it against the configured CAs and revocation lists (rustls, webpki): another
//! CA, an expired or a revoked certificate fail the handshake. The organisation is read
//! from the subject's `organizationIdentifier` (ETSI EN 319 412-1 § 5.1.4: `NTR`, the
//! country, `-`, the number in its business register, e.g. `NTRSE-2120000000`) or the
//! configured attribute, and names the agency as an organisation number does.

use axum::Extension;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::middleware::AddExtension;
use axum_server::accept::Accept;
use axum_server::tls_rustls::RustlsAcceptor;
use contract::directory::Country;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tower_layer::Layer;
use x509_parser::prelude::{FromDer, X509Certificate};

/// `[http.tls.clients]`: the CAs whose organisation certificates are taken.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificatesConfig {
    /// PEM file of the issuing CAs' certificates.
    pub ca: PathBuf,
    /// Certificate revocation lists (PEM or DER), of any of the CAs.
    #[serde(default)]
    pub crl: Vec<PathBuf>,
    /// The subject attribute naming the organisation, as a dotted OID
    /// (organizationIdentifier, 2.5.4.97, by default).
    #[serde(default = "organization_identifier")]
    pub attribute: String,
}

fn organization_identifier() -> String {
    "2.5.4.97".into()
}

/// The organisation a client certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certified {
    /// The country of its register, where the identifier names one (`NTRSE-…`).
    pub country: Option<Country>,
    /// Its number in that register.
    pub number: String,
    /// The certificate's serial number (hex), for the records.
    pub serial: String,
}

/// What the client of a connection presented: nothing, or a certificate the handshake
/// verified, naming an organisation or not.
#[derive(Debug, Clone, Default)]
pub struct Peer(pub Option<Result<Certified, Unnamed>>);

/// A verified certificate that names no organisation in the configured attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unnamed;

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Peer>().cloned().unwrap_or_default())
    }
}

/// The organisation `der` (a certificate) names in the attribute `oid`.
pub fn organisation_of(der: &[u8], oid: &str) -> Result<Certified, Unnamed> {
    let (_, certificate) = X509Certificate::from_der(der).map_err(|_| Unnamed)?;
    let value = certificate
        .subject()
        .iter_attributes()
        .find(|a| a.attr_type().to_id_string() == oid)
        .and_then(|a| a.as_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Unnamed)?;
    let (country, number) = match value
        .strip_prefix("NTR")
        .and_then(|rest| rest.split_once('-'))
    {
        Some((country, number)) => {
            let country = match country {
                "NO" => Country::NO,
                "SE" => Country::SE,
                "DK" => Country::DK,
                _ => return Err(Unnamed),
            };
            (Some(country), number)
        }
        None => (None, value),
    };
    Ok(Certified {
        country,
        number: number.to_owned(),
        serial: certificate.raw_serial_as_string().replace(':', ""),
    })
}

/// The TLS acceptor that hands each request the organisation of its connection's client
/// certificate ([`Peer`]).
#[derive(Clone)]
pub struct PeerAcceptor {
    pub inner: RustlsAcceptor,
    /// The dotted OID of the attribute naming the organisation.
    pub attribute: Arc<str>,
}

impl<I, S> Accept<I, S> for PeerAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Send + 'static,
{
    type Stream = TlsStream<I>;
    type Service = AddExtension<S, Peer>;
    type Future = BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let (inner, attribute) = (self.inner.clone(), self.attribute.clone());
        Box::pin(async move {
            let (stream, service) = inner.accept(stream, service).await?;
            let peer = Peer(
                stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| organisation_of(leaf, &attribute)),
            );
            Ok((stream, Extension(peer).layer(service)))
        })
    }
}
