//! Gateway configuration: one TOML file, with environment overrides.
//!
//! Every key is documented in `ops/config/gateway.example.toml`. An environment variable
//! `GATEWAY__SECTION__KEY=value` overrides `[section] key`; the value is read as TOML where
//! it parses as such (numbers, booleans) and as a string otherwise. The adapters read their
//! file the same way, with their own prefix.

use contract::plumbing::config::{BrokerConfig, ConfigError, load_file};
use serde::Deserialize;
use std::net::SocketAddr;
use std::num::{NonZeroU64, NonZeroUsize};
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
    /// The key file (key-encryption, subject-hash and audit keys).
    pub keys: crate::keys::KeysConfig,
    /// How long payloads are kept after delivery fails.
    #[serde(default)]
    pub retention: crate::record::RetentionConfig,
    /// What messages are sealed to on their way to the adapters.
    #[serde(default)]
    pub delivery: crate::seal::DeliveryConfig,
    /// Where the audit trail's signed head is exported, and how often.
    #[serde(default)]
    pub audit: crate::record::HeadConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// When delivery, receipt and feedback are due, per kind.
    #[serde(default)]
    pub deadlines: crate::deadlines::DeadlinesConfig,
    /// What the operator console looks at beyond the gateway itself.
    #[serde(default)]
    pub operator: OperatorConfig,
    /// The agency directory file.
    pub directory: PathBuf,
    /// The folder with the contracts: envelope and kind schemas, legal-basis catalog.
    pub schemas: PathBuf,
}

/// What the operator console (`/console`) looks at beyond the gateway itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The base URLs of the adapters processes' own endpoint (their `[http] listen`),
    /// whose `/readyz` the console shows.
    #[serde(default)]
    pub adapters: Vec<String>,
}

/// The HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Largest accepted request body in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Requests of the API (`/v1/…`) handled at once at most; one more is answered `503
    /// overloaded` before its body is read, so that a surge cannot take the memory.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: NonZeroUsize,
    /// How long a request's body may take to arrive in full, in milliseconds; then `408
    /// body-timeout`.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_ms: NonZeroU64,
    /// Largest accepted request head (every header's name and value) in bytes; more is
    /// answered `431 headers-too-large` before the request is read on.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: NonZeroUsize,
    /// Serve HTTPS with rustls when set.
    pub tls: Option<TlsConfig>,
}

/// PEM files of the server certificate chain and its private key, and the organisation
/// certificates clients may present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Ask clients for organisation certificates (mutual TLS); a client without one
    /// authenticates with a token.
    #[serde(default)]
    pub clients: Option<crate::authenticate::certificate::ClientCertificatesConfig>,
    /// How often the files (certificate, key, client CAs, revocation lists) are read again:
    /// a renewed certificate or a new revocation list takes effect for new connections
    /// without a restart.
    #[serde(default = "tls_reload_secs")]
    pub reload_secs: u64,
}

fn tls_reload_secs() -> u64 {
    60
}

/// How bearer tokens are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// The one accepted signing algorithm.
    #[serde(default)]
    pub algorithm: SigningAlgorithm,
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
    /// The scope a data protection officer's token carries: it may ask for disclosure
    /// reports (`POST /v1/disclosures`).
    #[serde(default = "default_dpo_scope")]
    pub dpo_scope: String,
    /// The scope of an operator-wide data protection officer, whose disclosure reports
    /// cover every organisation's disclosures (`dpo_scope` covers only the disclosures of
    /// the agencies under the token's organisation number).
    #[serde(default = "default_dpo_all_scope")]
    pub dpo_all_scope: String,
    /// The scope of an operator's token: the console (`/console`) and its API under
    /// `/v1/operator/` (health, queues, dead letters: metadata, never a payload).
    #[serde(default = "default_operator_scope")]
    pub operator_scope: String,
    /// Development only: a folder holding a signing key generated at first run, whose
    /// public half is written to `jwks` (which must then be a path). Never set in production.
    pub dev_key_dir: Option<PathBuf>,
    /// Other issuers, each with its profile (Maskinporten), matched by a token's `iss`.
    #[serde(default)]
    pub issuers: Vec<crate::authenticate::maskinporten::IssuerConfig>,
}

/// The asymmetric algorithms a token may be signed with (a shared secret never: the
/// gateway would hold a key that can mint tokens). A configuration naming another is
/// refused when it is loaded (`gateway check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SigningAlgorithm {
    #[default]
    EdDSA,
    ES256,
    RS256,
}

impl From<SigningAlgorithm> for jsonwebtoken::Algorithm {
    fn from(algorithm: SigningAlgorithm) -> Self {
        match algorithm {
            SigningAlgorithm::EdDSA => Self::EdDSA,
            SigningAlgorithm::ES256 => Self::ES256,
            SigningAlgorithm::RS256 => Self::RS256,
        }
    }
}

/// The state database: a SQLite file of this process (the embedded default), or a
/// PostgreSQL database that several gateway instances share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database file, created and migrated at start-up (unless `url` is set).
    pub sqlite_path: PathBuf,
    /// A PostgreSQL database (`postgres://user:password@host:port/database`, a
    /// `?options[search_path]=<schema>` parameter picks a schema), migrated at start-up.
    /// When set, it is the store and `sqlite_path` is not used.
    #[serde(default)]
    pub url: Option<String>,
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
fn default_max_in_flight() -> NonZeroUsize {
    NonZeroUsize::new(256).expect("not zero")
}
fn default_max_header_bytes() -> NonZeroUsize {
    NonZeroUsize::new(16 * 1024).expect("not zero")
}
fn default_body_timeout() -> NonZeroU64 {
    NonZeroU64::new(10_000).expect("not zero")
}
fn default_dpo_scope() -> String {
    "referral-gateway.dpo".into()
}
fn default_operator_scope() -> String {
    "referral-gateway.operator".into()
}

fn default_dpo_all_scope() -> String {
    "referral-gateway.dpo-all".into()
}
fn default_jwks_refresh() -> u64 {
    30
}
fn default_max_token_lifetime() -> i64 {
    3600
}
fn default_outbox_interval() -> u64 {
    2_000
}
fn default_outbox_batch() -> u32 {
    100
}

impl Config {
    /// Reads `path` and applies `GATEWAY__…` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_file(path, ENV_PREFIX, std::env::vars())
    }

    /// The development configuration of the repository at `repo`
    /// (`ops/config/gateway.dev.toml`) for a gateway of its own, as tests and benchmarks run
    /// one: its paths resolved against `repo`, its files under `data`, listening on a free
    /// port, then `overrides` (`SECTION__KEY`, value) applied.
    pub fn development(
        repo: &Path,
        data: &Path,
        overrides: &[(&str, String)],
    ) -> Result<Self, ConfigError> {
        let path = |p: PathBuf| p.display().to_string();
        let own = [
            (
                "DIRECTORY",
                path(repo.join("ops/config/directory.dev.toml")),
            ),
            ("SCHEMAS", path(repo.join("schemas"))),
            ("HTTP__LISTEN", "127.0.0.1:0".into()),
            ("AUTH__JWKS", path(data.join("jwks.json"))),
            ("AUTH__DEV_KEY_DIR", path(data.join("keys"))),
            ("STORE__SQLITE_PATH", path(data.join("gateway.sqlite"))),
            ("KEYS__FILE", path(data.join("keys.toml"))),
            ("AUDIT__HEAD_FILE", path(data.join("audit-head.jsonl"))),
            (
                "DELIVERY__ADAPTERS_KEY",
                path(data.join("delivery-key.pub.jwk")),
            ),
            (
                "DELIVERY__DEV_GENERATE",
                path(data.join("delivery-key.jwk")),
            ),
        ];
        let vars = own
            .into_iter()
            .chain(overrides.iter().map(|(k, v)| (*k, v.clone())))
            .map(|(k, v)| (format!("{ENV_PREFIX}{k}"), v));
        let mut config: Self =
            load_file(&repo.join("ops/config/gateway.dev.toml"), ENV_PREFIX, vars)?;
        // The development issuers' key sets, in `data` too.
        for issuer in &mut config.auth.issuers {
            if let Some(jwks) = issuer.jwks.as_mut().filter(|j| !j.contains("://")) {
                let name = Path::new(jwks.as_str())
                    .file_name()
                    .unwrap_or_default()
                    .to_owned();
                *jwks = path(data.join(name));
            }
        }
        Ok(config)
    }
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
[keys]
file = "keys.toml"
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
        // No turns at all would shed every request; no time at all would time out every body.
        for zero in [
            "GATEWAY__HTTP__MAX_IN_FLIGHT",
            "GATEWAY__HTTP__BODY_TIMEOUT_MS",
        ] {
            let bad = load_file::<Config>(&path, ENV_PREFIX, [(zero.into(), "0".into())]);
            assert!(matches!(bad, Err(ConfigError::Invalid { .. })), "{zero}");
        }
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_example_and_development_configurations_load() {
        let example = repo().join("ops/config/gateway.example.toml");
        let config: Config = load_file(&example, ENV_PREFIX, []).unwrap();
        assert_eq!(config.auth.algorithm, SigningAlgorithm::ES256);
        let data = std::env::temp_dir().join("gw-dev-config");
        let dev = Config::development(&repo(), &data, &[("OUTBOX__BATCH", "7".into())]).unwrap();
        assert_eq!(dev.store.sqlite_path, data.join("gateway.sqlite"));
        assert_eq!(dev.outbox.batch, 7);
    }

    #[test]
    fn a_shared_secret_algorithm_is_refused_when_loaded() {
        let example = repo().join("ops/config/gateway.example.toml");
        for algorithm in ["HS256", "none", "eddsa"] {
            let set = [("GATEWAY__AUTH__ALGORITHM".into(), algorithm.into())];
            let loaded = load_file::<Config>(&example, ENV_PREFIX, set);
            assert!(
                matches!(loaded, Err(ConfigError::Invalid { .. })),
                "{algorithm}"
            );
        }
    }
}
