//! Adapter configuration: a TOML file, overridable by `ADAPTERS__SECTION__KEY` variables.
//! Every key is documented in `ops/config/adapters.example.toml`.

use contract::plumbing::config::{BrokerConfig, ConfigError, load_file};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "ADAPTERS__";

/// The adapters' configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptersConfig {
    /// The agency directory file (the same as the gateway's).
    pub directory: PathBuf,
    /// The broker (the same prefix and delivery limit as the gateway's).
    pub broker: BrokerConfig,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    #[serde(default)]
    pub http: HttpConfig,
}

/// The adapters' own HTTP endpoint (health, readiness, metrics).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Where it listens (keep it on the operators' network).
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
        }
    }
}

fn default_listen() -> std::net::SocketAddr {
    ([127, 0, 0, 1], 9180).into()
}

/// How work queues are consumed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Unacknowledged messages one adapter holds at most.
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// Seconds after the first failed attempt when a message stops being retried and is
    /// dead-lettered as expired.
    #[serde(default = "default_retry_budget")]
    pub retry_budget_secs: u64,
    /// The ledger of delivered and withdrawn messages: a SQLite file of this host.
    #[serde(default = "default_ledger")]
    pub ledger: PathBuf,
    /// Instead, the ledger in PostgreSQL (`postgres://…`), shared by adapter processes on
    /// several hosts that deliver from the same queues.
    #[serde(default)]
    pub ledger_url: Option<String>,
    /// Milliseconds an HTTP inbox has to answer.
    #[serde(default = "default_inbox_timeout")]
    pub inbox_timeout_ms: u64,
    /// A PEM bundle of CAs that may sign inboxes' certificates, besides the system's.
    #[serde(default)]
    pub inbox_ca: Option<PathBuf>,
    /// Development only: allow `http://` inboxes (the reference inboxes of `ops/run`).
    #[serde(default)]
    pub inbox_plain_http: bool,
    /// Seconds a delivery's claim in the ledger holds: if the adapter dies mid-attempt, the
    /// next copy waits this long before it may deliver. Longer than any one attempt.
    #[serde(default = "default_claim_lease")]
    pub claim_lease_secs: u64,
    /// The adapters' delivery key: the private JWK (0600) that opens what the gateway
    /// sealed on its way for recipients without a key of their own (its public half is the
    /// gateway's `delivery.adapters_key`).
    #[serde(default)]
    pub delivery_key: Option<PathBuf>,
    /// Seconds a Fiks IO account's certificate and catalogue entry are kept before they are
    /// fetched again (a receiving account that rotates its key is followed within this).
    #[serde(default = "default_fiks_catalogue_cache")]
    pub fiks_catalogue_cache_secs: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            prefetch: default_prefetch(),
            retry_budget_secs: default_retry_budget(),
            ledger: default_ledger(),
            ledger_url: None,
            inbox_timeout_ms: default_inbox_timeout(),
            inbox_ca: None,
            inbox_plain_http: false,
            claim_lease_secs: default_claim_lease(),
            delivery_key: None,
            fiks_catalogue_cache_secs: default_fiks_catalogue_cache(),
        }
    }
}

fn default_prefetch() -> u16 {
    16
}

fn default_retry_budget() -> u64 {
    86_400
}

fn default_ledger() -> PathBuf {
    "data/adapters/ledger.sqlite".into()
}

fn default_inbox_timeout() -> u64 {
    10_000
}

fn default_fiks_catalogue_cache() -> u64 {
    600
}

fn default_claim_lease() -> u64 {
    60
}

impl RuntimeConfig {
    /// The claim lease, if it outlasts the longest attempt `confirm_timeout_ms` allows: an
    /// inbox's answer, a second one after a refused token, and a token fetch, or a
    /// confirmed publish.
    pub fn claim_lease(&self, confirm_timeout_ms: u64) -> Option<std::time::Duration> {
        let attempt = (3 * self.inbox_timeout_ms).max(confirm_timeout_ms);
        let lease = std::time::Duration::from_secs(self.claim_lease_secs);
        (lease.as_millis() > u128::from(attempt)).then_some(lease)
    }
}

impl AdaptersConfig {
    /// Reads `path` and applies `ADAPTERS__…` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_file(path, ENV_PREFIX, std::env::vars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_lease_shorter_than_an_attempt_is_refused() {
        let runtime = RuntimeConfig::default();
        assert_eq!(
            runtime.claim_lease(5_000),
            Some(std::time::Duration::from_secs(60))
        );
        let short = RuntimeConfig {
            claim_lease_secs: 30,
            ..RuntimeConfig::default()
        };
        assert_eq!(short.claim_lease(5_000), None, "three inbox timeouts: 30 s");
        let slow_broker = RuntimeConfig {
            inbox_timeout_ms: 1_000,
            claim_lease_secs: 10,
            ..RuntimeConfig::default()
        };
        assert_eq!(slow_broker.claim_lease(10_000), None);
    }

    #[test]
    fn the_example_configuration_loads() {
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/config/adapters.example.toml");
        let config: AdaptersConfig = load_file(&example, ENV_PREFIX, []).unwrap();
        assert!(
            config
                .runtime
                .claim_lease(config.broker.confirm_timeout_ms)
                .is_some()
        );
    }
}
