//! Sealing as JWE (RFC 7516, compact serialisation), encrypted by direct key agreement,
//! `ECDH-ES` with `A256GCM` (RFC 7518 § 4.6, § 5.3), on P-256 or X25519 (RFC 8037): for the
//! recipient end to end (a recipient that publishes a public key in the directory), and for
//! the adapters on the way (a recipient without a key of its own: the adapters' delivery
//! key, opened only for the last hop).

pub mod files;
pub mod jwe;
pub mod jwk;

pub use files::{KeyFileError, generate_pair, read_private, read_public};
pub use jwe::{SealError, seal, unseal};
pub use jwk::{Curve, JwkError, PrivateJwk, PublicJwk};
