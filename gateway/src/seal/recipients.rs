//! What each recipient's message is sealed to: its own public key from the directory
//! (checked when it is loaded), or, for a recipient without one, the adapters' delivery
//! key, so that nothing travels the broker in clear.

use contract::directory::{AgencyId, Directory};
use contract::seal::{JwkError, KeyFileError, PublicJwk};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// How messages are sealed on their way to the adapters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The public half of the adapters' delivery key (a JWK file): a message for a
    /// recipient without a key of its own is sealed to it, and opened by the adapter for the
    /// last hop only. Needed unless every recipient publishes a key.
    #[serde(default)]
    pub adapters_key: Option<PathBuf>,
    /// Production: every agency that receives messages must publish a key of its own (the
    /// gateway does not start otherwise).
    #[serde(default)]
    pub require_recipient_keys: bool,
    /// Development only: if `adapters_key` does not exist, a key pair is made at start-up,
    /// its private half written here (0600) for the adapters' `runtime.delivery_key`.
    #[serde(default)]
    pub dev_generate: Option<PathBuf>,
}

/// Why the recipients' keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecipientKeyError {
    #[error("the public key of agency {agency} in the directory: {source}")]
    Invalid { agency: AgencyId, source: JwkError },
    #[error(
        "delivery.require_recipient_keys: these agencies receive messages but publish no key: {0:?}"
    )]
    Required(Vec<AgencyId>),
    #[error(
        "delivery.adapters_key is not set, and these agencies publish no key of their own (their messages would cross the broker in clear): {0:?}"
    )]
    NoDeliveryKey(Vec<AgencyId>),
    #[error("the adapters' delivery key: {0}")]
    DeliveryKey(#[from] KeyFileError),
}

/// What a message is sealed to.
#[derive(Debug, Clone, Copy)]
pub enum Sealing<'a> {
    /// The recipient's own key: rendered and sealed end to end.
    Recipient(&'a PublicJwk),
    /// The adapters' delivery key: opened by the adapter for the last hop.
    OnTheWay(&'a PublicJwk),
}

/// Public keys by agency, and the adapters' delivery key.
#[derive(Debug, Clone)]
pub struct Recipients {
    keys: HashMap<AgencyId, PublicJwk>,
    on_the_way: Option<PublicJwk>,
}

impl Recipients {
    /// Every agency of `directory` that publishes a key, and the delivery key of `config`
    /// (made first in development), checked as `config` requires.
    pub fn load(directory: &Directory, config: &DeliveryConfig) -> Result<Self, RecipientKeyError> {
        let mut keys = HashMap::new();
        for agency in directory.agencies() {
            if let Some(jwk) = &agency.public_key {
                let key =
                    PublicJwk::from_json(jwk).map_err(|source| RecipientKeyError::Invalid {
                        agency: agency.id.clone(),
                        source,
                    })?;
                keys.insert(agency.id.clone(), key);
            }
        }
        let keyless: Vec<AgencyId> = directory
            .agencies()
            .filter(|a| a.delivery.is_some() && !keys.contains_key(&a.id))
            .map(|a| a.id.clone())
            .collect();
        if config.require_recipient_keys && !keyless.is_empty() {
            return Err(RecipientKeyError::Required(keyless));
        }
        let on_the_way = match (&config.adapters_key, &config.dev_generate) {
            (Some(public), Some(private)) if !public.exists() => {
                contract::seal::generate_pair(private, public, "adapters-delivery-dev")?;
                tracing::warn!("development delivery key generated: not for production");
                Some(contract::seal::read_public(public)?)
            }
            (Some(public), _) => Some(contract::seal::read_public(public)?),
            (None, _) if !keyless.is_empty() => {
                return Err(RecipientKeyError::NoDeliveryKey(keyless));
            }
            (None, _) => None,
        };
        Ok(Self { keys, on_the_way })
    }

    /// What a message for `agency` is sealed to.
    pub fn sealing(&self, agency: &AgencyId) -> Option<Sealing<'_>> {
        self.keys
            .get(agency)
            .map(Sealing::Recipient)
            .or(self.on_the_way.as_ref().map(Sealing::OnTheWay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn dev_directory() -> Directory {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Directory::load(&repo.join("ops/config/directory.dev.toml")).unwrap()
    }

    #[test]
    fn recipients_without_a_key_need_the_delivery_key_or_are_refused_in_production() {
        let directory = dev_directory();
        let none = Recipients::load(&directory, &DeliveryConfig::default());
        let Err(RecipientKeyError::NoDeliveryKey(keyless)) = none else {
            panic!("a keyless recipient without a delivery key: {none:?}");
        };
        assert!(keyless.contains(&AgencyId("no-oslo-politikontakt".into())));
        let dir = std::env::temp_dir().join(format!("delivery-{}", uuid::Uuid::new_v4()));
        let config = DeliveryConfig {
            adapters_key: Some(dir.join("delivery.pub.jwk")),
            require_recipient_keys: false,
            dev_generate: Some(dir.join("delivery.jwk")),
        };
        let recipients = Recipients::load(&directory, &config).unwrap();
        let sealing = recipients.sealing(&AgencyId("no-oslo-politikontakt".into()));
        assert!(matches!(sealing, Some(Sealing::OnTheWay(_))), "{sealing:?}");
        assert!(contract::seal::read_private(&dir.join("delivery.jwk")).is_ok());
        let production = DeliveryConfig {
            require_recipient_keys: true,
            ..config
        };
        let refused = Recipients::load(&directory, &production);
        assert!(
            matches!(&refused, Err(RecipientKeyError::Required(ids)) if ids == &keyless),
            "{refused:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
