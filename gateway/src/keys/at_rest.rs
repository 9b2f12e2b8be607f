//! A payload at rest, locked: encrypted with AES-256-GCM under a fresh data key of its own, the data
//! key wrapped (AES-256-GCM) by the current KEK, whose id is kept beside it. Destroying
//! the wrapped key erases the payload for good, whatever copies of the ciphertext remain.
//! Both encryptions are bound to the message id (their associated data): a ciphertext moved to
//! another message's row does not open.

use super::ring::{KeyRing, KeysError, random_key};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// A data key wrapped by a KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedKey {
    pub key_id: String,
    /// Nonce, then the data key encrypted, then the tag.
    pub wrapped: Vec<u8>,
}

/// A payload encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub key: LockedKey,
    /// Nonce, then the payload encrypted, then the tag.
    pub ciphertext: Vec<u8>,
}

fn encrypt(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).expect("the system has randomness");
    let mut encrypted = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut encrypted,
    )
    .expect("AES-GCM encrypts any payload the store holds");
    [nonce.as_slice(), &encrypted].concat()
}

fn decrypt(key: &LessSafeKey, aad: &[u8], encrypted: &[u8]) -> Result<Vec<u8>, KeysError> {
    let (nonce, body) = encrypted
        .split_at_checked(NONCE_LEN)
        .ok_or(KeysError::Undecryptable)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeysError::Undecryptable)?;
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| KeysError::Undecryptable)?;
    Ok(plain.to_vec())
}

fn data_key(bytes: &[u8]) -> Result<LessSafeKey, KeysError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| KeysError::Undecryptable)
}

fn wrap_aad(key_id: &str, aad: &[u8]) -> Vec<u8> {
    [key_id.as_bytes(), b"\n", aad].concat()
}

impl KeyRing {
    /// Locks `plaintext` under a fresh data key, bound to `aad` (the message id).
    pub fn lock(&self, plaintext: &[u8], aad: &[u8]) -> Locked {
        let dek = random_key();
        let ciphertext = encrypt(&data_key(&dek).expect("32 bytes"), aad, plaintext);
        let key_id = self.current().to_owned();
        let wrapped = encrypt(
            &self.kek(&key_id).expect("the current KEK is in the ring"),
            &wrap_aad(&key_id, aad),
            &dek,
        );
        Locked {
            key: LockedKey { key_id, wrapped },
            ciphertext,
        }
    }

    /// Unlocks what [`KeyRing::lock`] locked with the same `aad`.
    pub fn unlock(&self, locked: &Locked, aad: &[u8]) -> Result<Vec<u8>, KeysError> {
        let dek = self.unwrap_key(&locked.key, aad)?;
        decrypt(&data_key(&dek)?, aad, &locked.ciphertext)
    }

    /// The data key of `key` wrapped again by the current KEK (the payload is untouched).
    pub fn rewrap(&self, key: &LockedKey, aad: &[u8]) -> Result<LockedKey, KeysError> {
        let dek = self.unwrap_key(key, aad)?;
        let key_id = self.current().to_owned();
        let wrapped = encrypt(&self.kek(&key_id)?, &wrap_aad(&key_id, aad), &dek);
        Ok(LockedKey { key_id, wrapped })
    }

    fn unwrap_key(&self, key: &LockedKey, aad: &[u8]) -> Result<Vec<u8>, KeysError> {
        decrypt(
            &self.kek(&key.key_id)?,
            &wrap_aad(&key.key_id, aad),
            &key.wrapped,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_payload_opens_only_with_its_key_and_message() {
        let ring = KeyRing::generate(None);
        let locked = ring.lock(b"Ola Testbarn 09031450000", b"message-1");
        assert!(
            !locked.ciphertext.windows(12).any(|w| w == b"Ola Testbarn"),
            "no clear text"
        );
        assert_eq!(
            ring.unlock(&locked, b"message-1").unwrap(),
            b"Ola Testbarn 09031450000"
        );
        assert!(matches!(
            ring.unlock(&locked, b"message-2"),
            Err(KeysError::Undecryptable)
        ));
        let other = KeyRing::generate(None);
        assert!(other.unlock(&locked, b"message-1").is_err());
        let mut tampered = locked.clone();
        *tampered.ciphertext.last_mut().unwrap() ^= 1;
        assert!(matches!(
            ring.unlock(&tampered, b"message-1"),
            Err(KeysError::Undecryptable)
        ));
    }

    #[test]
    fn a_rewrapped_key_opens_under_the_new_kek_after_the_old_is_gone() {
        let mut ring = KeyRing::generate(None);
        let old = ring.current().to_owned();
        let locked = ring.lock(b"payload", b"m");
        ring.rotate();
        let key = ring.rewrap(&locked.key, b"m").unwrap();
        assert_eq!(key.key_id, ring.current());
        ring.prune(&[], "");
        assert!(!ring.key_ids().contains(&old));
        let moved = Locked {
            key,
            ciphertext: locked.ciphertext.clone(),
        };
        assert_eq!(ring.unlock(&moved, b"m").unwrap(), b"payload");
        assert!(matches!(
            ring.unlock(&locked, b"m"),
            Err(KeysError::UnknownKey { .. })
        ));
    }
}
