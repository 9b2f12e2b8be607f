//! Where the broker is and how to reach it: its URL (`amqps://` for TLS, RabbitMQ's port
//! 5671) and, over TLS, the CA to trust beside the system's and a client certificate where
//! the broker asks for one (RabbitMQ's `ssl_options.verify = verify_peer`).

use super::connection_properties;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, DefaultConnectionBuilder};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The TLS settings of the broker connection (PEM files).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerTls {
    /// CA certificates that may sign the broker's certificate (besides the system's).
    pub ca: PathBuf,
    /// This process's certificate chain and its PKCS#8 key, if the broker checks clients.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    #[error("cannot read TLS file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("broker.tls needs both client_cert and client_key, or neither")]
    HalfIdentity,
}

/// The broker to connect to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    tls: OwnedTLSConfig,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|source| TlsFileError::Read {
        path: path.into(),
        source,
    })
}

impl Endpoint {
    /// The broker at `url`, with the system's trust store only.
    pub fn plain(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            tls: OwnedTLSConfig::default(),
        }
    }

    /// The broker at `url`, reached with `tls` (its files read now).
    pub fn new(url: impl Into<String>, tls: Option<&BrokerTls>) -> Result<Self, TlsFileError> {
        let Some(tls) = tls else {
            return Ok(Self::plain(url));
        };
        let identity = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
                pem: read(cert)?,
                key: read(key)?,
            }),
            (None, None) => None,
            _ => return Err(TlsFileError::HalfIdentity),
        };
        let ca = String::from_utf8_lossy(&read(&tls.ca)?).into_owned();
        Ok(Self {
            url: url.into(),
            tls: OwnedTLSConfig {
                identity,
                cert_chain: Some(ca),
            },
        })
    }

    /// The same broker settings at another URL (another account).
    pub fn with_url(&self, url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            tls: self.tls.clone(),
        }
    }

    /// Opens a connection named `name` (no automatic recovery: its owner reconnects).
    pub async fn connect(&self, name: &str) -> Result<Connection, lapin::Error> {
        DefaultConnectionBuilder::new()?
            .with_uri_str(self.url.clone())
            .with_properties(connection_properties(name))
            .with_tls_config(self.tls.clone())
            .connect()
            .await
    }
}
