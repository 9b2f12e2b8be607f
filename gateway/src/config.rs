//! Gateway configuration: one TOML file, with environment overrides.
//!
//! Every key is documented in `ops/config/gateway.example.toml`. An environment variable
//! `GATEWAY__SECTION__KEY=value` overrides `[section] key`; the value is read as TOML where
//! it parses as such (numbers, booleans) and as a string otherwise. The adapters read their
//! file the same way, with their own prefix.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "GATEWAY__";

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub broker: BrokerConfig,
    pub store: StoreConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// When delivery, receipt and feedback are due, per kind.
    #[serde(default)]
    pub deadlines: crate::deadlines::DeadlinesConfig,
    /// The agency directory file.
    pub directory: PathBuf,
    /// The folder with the contracts: envelope and kind schemas, legal-basis catalog.
    pub schemas: PathBuf,
}

/// The HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Largest accepted request body in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Serve HTTPS with rustls when set.
    pub tls: Option<TlsConfig>,
}

/// PEM files of the server certificate chain and its private key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How bearer tokens are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// The one accepted signing algorithm (`EdDSA`, `ES256` or `RS256`).
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// Where the verification keys come from: a path, or an `https://` / `http://` URL.
    pub jwks: String,
    /// Least time between two fetches of the key set when a token names an unknown key.
    #[serde(default = "default_jwks_refresh")]
    pub jwks_min_refresh_secs: u64,
    /// Longest lifetime (`exp - iat`) a token may have (RFC 8725 § 3.10 advice).
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: i64,
    /// If set, the `typ` a token's header must have (e.g. `at+jwt`, RFC 9068 § 2.1;
    /// compared case-insensitively, with or without `application/`).
    #[serde(default)]
    pub typ: Option<String>,
    /// Development only: a folder holding a signing key generated at first run, whose
    /// public half is written to `jwks` (which must then be a path). Never set in production.
    pub dev_key_dir: Option<PathBuf>,
}

/// The RabbitMQ broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub url: String,
    /// Prefix of every exchange and queue name (lets several installations, or tests, share a vhost).
    #[serde(default)]
    pub prefix: String,
    /// Deliveries of one message before a quorum queue dead-letters it.
    #[serde(default = "default_delivery_limit")]
    pub delivery_limit: u32,
    /// How long a publish waits for the broker's confirm before it counts as failed.
    #[serde(default = "default_confirm_timeout")]
    pub confirm_timeout_ms: u64,
}

/// The state database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database file, created and migrated at start-up.
    pub sqlite_path: PathBuf,
}

/// The outbox that replays recorded but unconfirmed messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Time between two sweeps.
    #[serde(default = "default_outbox_interval")]
    pub interval_ms: u64,
    /// Messages published per sweep at most.
    #[serde(default = "default_outbox_batch")]
    pub batch: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            interval_ms: default_outbox_interval(),
            batch: default_outbox_batch(),
        }
    }
}

fn default_body_limit() -> usize {
    256 * 1024
}
fn default_algorithm() -> String {
    "EdDSA".into()
}
fn default_jwks_refresh() -> u64 {
    30
}
fn default_max_token_lifetime() -> i64 {
    3600
}
fn default_delivery_limit() -> u32 {
    5
}
fn default_confirm_timeout() -> u64 {
    5_000
}
fn default_outbox_interval() -> u64 {
    2_000
}
fn default_outbox_batch() -> u32 {
    100
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

impl Config {
    /// Reads `path` and applies `GATEWAY__…` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_file(path, ENV_PREFIX, std::env::vars())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_nested_keys_with_typed_values() {
        let dir = std::env::temp_dir().join(format!("gw-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(
            &path,
            r#"
directory = "d.toml"
schemas = "schemas"
[http]
listen = "127.0.0.1:8080"
[auth]
issuer = "i"
audience = "a"
jwks = "k.json"
[broker]
url = "amqp://x"
[store]
sqlite_path = "db.sqlite"
"#,
        )
        .unwrap();
        let config: Config = load_file(
            &path,
            ENV_PREFIX,
            [
                ("GATEWAY__BROKER__URL".into(), "amqp://y".into()),
                ("GATEWAY__HTTP__BODY_LIMIT_BYTES".into(), "1024".into()),
                ("OTHER".into(), "ignored".into()),
            ],
        )
        .unwrap();
        assert_eq!(config.broker.url, "amqp://y");
        assert_eq!(config.http.body_limit_bytes, 1024);
        assert_eq!(config.outbox.batch, 100);
        let bad = load_file::<Config>(&path, ENV_PREFIX, [("GATEWAY__NOPE".into(), "1".into())]);
        assert!(matches!(bad, Err(ConfigError::Invalid { .. })));
    }
}
