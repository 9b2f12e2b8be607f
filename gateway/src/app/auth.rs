//! The authenticator at start-up: the gateway's own issuer's key set (in development, a
//! generated key and Maskinporten stand-ins), the rules its tokens follow, and the
//! configured issuers (Maskinporten), each key set refreshed on a schedule.

use super::StartError;
use crate::authenticate::maskinporten::Profile;
use crate::authenticate::{Authenticator, Issuer, KeySet, KeySource, TokenRules};
use crate::config::Config;
use crate::devkeys::{DevKey, DevMaskinporten};
use contract::directory::Directory;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often an issuer's key set is fetched again without waiting for an unknown key.
const JWKS_SCHEDULE: Duration = Duration::from_secs(3600);

/// The authenticator of `config`'s `auth` section over `directory`; the issuers' key
/// sets are refreshed until `cancel`.
pub async fn authenticator(
    config: &Config,
    directory: Arc<Directory>,
    cancel: &CancellationToken,
) -> Result<Authenticator, StartError> {
    let source = KeySource::parse(&config.auth.jwks);
    if let Some(dir) = &config.auth.dev_key_dir {
        write_dev_keys(config, dir, &source)?;
    }
    let keys = KeySet::load(
        source,
        Duration::from_secs(config.auth.jwks_min_refresh_secs),
    )
    .await?;
    let rules = TokenRules {
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        algorithm: config.auth.algorithm.into(),
        max_lifetime_secs: config.auth.max_token_lifetime_secs,
        typ: config.auth.typ.clone(),
        dpo_scope: config.auth.dpo_scope.clone(),
        dpo_all_scope: config.auth.dpo_all_scope.clone(),
        operator_scope: config.auth.operator_scope.clone(),
    };
    let issuers = issuers(config, cancel).await?;
    Ok(Authenticator::new(rules, keys, issuers, directory))
}

/// Development only: the gateway's signing key's public half written to the key-set file,
/// and a Maskinporten stand-in's for each issuer whose key set is a file.
fn write_dev_keys(
    config: &Config,
    dir: &std::path::Path,
    source: &KeySource,
) -> Result<(), StartError> {
    let KeySource::File(path) = source else {
        return Err(StartError::DevKeyNeedsFile);
    };
    DevKey::ensure(dir)?.write_jwks(path)?;
    for issuer in &config.auth.issuers {
        if let Some((_, KeySource::File(jwks))) = issuer
            .issuer_and_jwks()
            .map(|(name, jwks)| (name, KeySource::parse(&jwks)))
        {
            DevMaskinporten::ensure(dir)?.write_jwks(&jwks)?;
        }
    }
    tracing::warn!("development signing key in use: not for production");
    Ok(())
}

/// The issuers of `auth.issuers`, each with its key set (fetched again every hour until
/// `cancel`, and at once when a token names an unknown key).
async fn issuers(config: &Config, cancel: &CancellationToken) -> Result<Vec<Issuer>, StartError> {
    let mut issuers = Vec::new();
    for issuer in &config.auth.issuers {
        let (name, jwks) = issuer.issuer_and_jwks().ok_or(StartError::IssuerUnnamed)?;
        let keys = Arc::new(
            KeySet::load_or_later(
                KeySource::parse(&jwks),
                Duration::from_secs(config.auth.jwks_min_refresh_secs),
                &name,
            )
            .await,
        );
        tokio::spawn({
            let (keys, cancel) = (keys.clone(), cancel.clone());
            async move { keys.refresh_every(JWKS_SCHEDULE, cancel).await }
        });
        let profile = Profile::new(
            &name,
            issuer.audience.as_deref(),
            issuer.scopes.clone(),
            config.auth.max_token_lifetime_secs,
        );
        issuers.push(Issuer {
            issuer: name,
            keys,
            profile,
        });
    }
    Ok(issuers)
}
