//! Keys: the key-encryption keys (KEKs) that wrap each message's data key, the key of the
//! subject hashes and the key of the audit chain. They live in a key file (mode 0600,
//! checked at start) or an environment variable, never in the database: a copied database
//! holds ciphertext and keyed hashes only.
//!
//! - [`ring`]: the key file, loading it, creating it, rotating the KEK;
//! - [`at_rest`]: a payload sealed under a fresh data key, the data key wrapped by a KEK;
//! - [`live`]: a running gateway's ring, following its key file.

pub mod at_rest;
pub mod live;
pub mod ring;

pub use at_rest::{Locked, LockedKey};
pub use live::LiveKeys;
pub use ring::{KeyRing, KeysConfig, KeysError};
