//! The key ring of a running gateway, following its key file: `gateway keys rotate` (in
//! another process) adds a KEK and re-wraps stored data keys under it; the gateway reads the
//! file again when it changes ([`LiveKeys::refresh`], every second) and when it meets a
//! data key wrapped by a KEK it does not hold yet.

use super::Locked;
use super::ring::{KEYS_ENV, KeyRing, KeysConfig, KeysError};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// A key ring that follows its key file.
pub struct LiveKeys {
    config: KeysConfig,
    ring: RwLock<(Arc<KeyRing>, Option<SystemTime>)>,
}

fn modified(config: &KeysConfig) -> Option<SystemTime> {
    if std::env::var_os(KEYS_ENV).is_some() {
        return None;
    }
    std::fs::metadata(&config.file)
        .and_then(|m| m.modified())
        .ok()
}

impl LiveKeys {
    /// `ring`, as loaded from `config`'s key file.
    pub fn new(ring: KeyRing, config: KeysConfig) -> Self {
        let seen = modified(&config);
        Self {
            config,
            ring: RwLock::new((Arc::new(ring), seen)),
        }
    }

    /// The keys as they are now.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().expect("key ring lock").0.clone()
    }

    /// Reads the key file again if it changed since it was read.
    pub fn refresh(&self) -> Result<(), KeysError> {
        let now = modified(&self.config);
        if now.is_none() || now == self.ring.read().expect("key ring lock").1 {
            return Ok(());
        }
        self.reload(now)
    }

    fn reload(&self, seen: Option<SystemTime>) -> Result<(), KeysError> {
        let ring = KeyRing::load(&self.config, None)?;
        tracing::info!(current = ring.current(), "key file read again");
        *self.ring.write().expect("key ring lock") = (Arc::new(ring), seen);
        Ok(())
    }

    /// Opens `locked`, reading the key file again first if its KEK is not known yet.
    pub fn unlock(&self, locked: &Locked, aad: &[u8]) -> Result<Vec<u8>, KeysError> {
        match self.ring().unlock(locked, aad) {
            Err(KeysError::UnknownKey { .. }) => {
                self.reload(modified(&self.config))?;
                self.ring().unlock(locked, aad)
            }
            opened => opened,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_in_another_process_is_followed() {
        let dir = std::env::temp_dir().join(format!("gw-live-{}", uuid::Uuid::new_v4()));
        let config = KeysConfig {
            file: dir.join("keys.toml"),
            dev_generate: false,
        };
        let first = KeyRing::generate(None);
        first.create(&config.file).unwrap();
        let live = LiveKeys::new(KeyRing::read(&config.file).unwrap(), config.clone());
        let old = live.ring().lock(b"payload", b"m");

        // Another process rotates and re-wraps.
        let mut rotated = KeyRing::read(&config.file).unwrap();
        let new_id = rotated.rotate();
        rotated.save(&config.file).unwrap();
        let moved = Locked {
            key: rotated.rewrap(&old.key, b"m").unwrap(),
            ciphertext: old.ciphertext.clone(),
        };
        assert_eq!(
            live.unlock(&moved, b"m").unwrap(),
            b"payload",
            "read again on demand"
        );
        assert_eq!(
            live.ring().current(),
            new_id,
            "new payloads under the new key"
        );
        live.refresh().unwrap();
        assert_eq!(live.ring().current(), new_id);
    }
}
