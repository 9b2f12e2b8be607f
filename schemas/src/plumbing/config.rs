//! Configuration loading shared by the gateway and the adapters: a TOML file whose keys
//! environment variables (`<PREFIX>SECTION__KEY`) override, and the broker's section.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The RabbitMQ broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub url: String,
    /// Prefix of every exchange and queue name (lets several installations, or tests, share a vhost).
    #[serde(default)]
    pub prefix: String,
    /// Deliveries of one message before a quorum queue dead-letters it (default
    /// [`crate::topology::DELIVERY_LIMIT`]).
    #[serde(default = "default_delivery_limit")]
    pub delivery_limit: u32,
    /// Seconds a dead letter is kept in its dead-letter queue for an operator's replay (at
    /// most 49 days); then it expires to the gateway, which marks the message expired and
    /// audits it.
    #[serde(default = "default_dead_letter_secs")]
    pub dead_letter_secs: u64,
    /// How long a publish waits for the broker's confirm before it counts as failed.
    #[serde(default = "default_confirm_timeout")]
    pub confirm_timeout_ms: u64,
    /// TLS to the broker (with an `amqps://` URL): the CA, and a client certificate.
    #[serde(default)]
    pub tls: Option<crate::plumbing::broker::BrokerTls>,
    /// RabbitMQ's management API (`http://user:password@host:15672`; put the password in
    /// the environment): the gateway sets the queues' policies through it at start-up.
    /// Without it, the operator loads them (`gateway definitions`).
    #[serde(default)]
    pub management_url: Option<String>,
}

impl BrokerConfig {
    /// The broker to connect to, its TLS files read.
    pub fn endpoint(
        &self,
    ) -> Result<crate::plumbing::broker::Endpoint, crate::plumbing::broker::TlsFileError> {
        crate::plumbing::broker::Endpoint::new(&self.url, self.tls.as_ref())
    }
}

fn default_delivery_limit() -> u32 {
    crate::topology::DELIVERY_LIMIT
}

fn default_dead_letter_secs() -> u64 {
    crate::topology::DEAD_LETTERS_KEPT.as_secs()
}

impl BrokerConfig {
    /// The management API of this configuration's virtual host, if one is configured.
    pub fn management(
        &self,
    ) -> Option<Result<crate::plumbing::broker::Management, crate::plumbing::broker::ManagementError>>
    {
        self.management_url.as_deref().map(|url| {
            crate::plumbing::broker::Management::new(
                url,
                &crate::plumbing::broker::vhost_of(&self.url),
            )
        })
    }

    /// The broker topology of this configuration (names and queue settings).
    pub fn topology(&self) -> crate::topology::Topology {
        crate::topology::Topology::new(&self.prefix, self.delivery_limit)
            .dead_letters_kept(std::time::Duration::from_secs(self.dead_letter_secs))
    }
}

fn default_confirm_timeout() -> u64 {
    5_000
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment override {var} does not name a key of a table")]
    Override { var: String },
    #[error("config file {path} (with environment overrides) is invalid: {source}")]
    Invalid {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

/// Reads the TOML file `path` into `T`, after applying the variables of `vars` that start
/// with `prefix` as overrides (`<prefix>SECTION__KEY`).
pub fn load_file<T: DeserializeOwned>(
    path: &Path,
    prefix: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    let mut table: toml::Table = text.parse().map_err(|source| ConfigError::Toml {
        path: path.into(),
        source: Box::new(source),
    })?;
    for (var, value) in vars {
        if let Some(key_path) = var.strip_prefix(prefix) {
            apply_override(&mut table, key_path, &value)
                .ok_or_else(|| ConfigError::Override { var: var.clone() })?;
        }
    }
    table.try_into().map_err(|source| ConfigError::Invalid {
        path: path.into(),
        source: Box::new(source),
    })
}

fn apply_override(table: &mut toml::Table, key_path: &str, value: &str) -> Option<()> {
    let keys: Vec<String> = key_path.split("__").map(str::to_lowercase).collect();
    let (last, parents) = keys.split_last()?;
    let mut current = table;
    for key in parents {
        current = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()?;
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    current.insert(last.clone(), parsed);
    Some(())
}
