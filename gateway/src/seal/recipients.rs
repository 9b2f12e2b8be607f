//! The recipients that take their messages sealed: their public keys from the directory,
//! checked when it is loaded.

use super::jwk::{JwkError, PublicJwk};
use contract::directory::{AgencyId, Directory};
use std::collections::HashMap;

/// A directory entry whose key cannot be sealed to.
#[derive(Debug, thiserror::Error)]
#[error("the public key of agency {agency} in the directory: {source}")]
pub struct RecipientKeyError {
    pub agency: AgencyId,
    pub source: JwkError,
}

/// Public keys by agency.
#[derive(Debug, Clone, Default)]
pub struct Recipients(HashMap<AgencyId, PublicJwk>);

impl Recipients {
    /// Every agency of `directory` that publishes a key.
    pub fn from_directory(directory: &Directory) -> Result<Self, RecipientKeyError> {
        let mut keys = HashMap::new();
        for agency in directory.agencies() {
            if let Some(jwk) = &agency.public_key {
                let key = PublicJwk::from_json(jwk).map_err(|source| RecipientKeyError {
                    agency: agency.id.clone(),
                    source,
                })?;
                keys.insert(agency.id.clone(), key);
            }
        }
        Ok(Self(keys))
    }

    /// The key of `agency`, if it takes its messages sealed.
    pub fn key(&self, agency: &AgencyId) -> Option<&PublicJwk> {
        self.0.get(agency)
    }
}
