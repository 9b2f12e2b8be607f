//! Sealing for the recipient (end to end): a recipient that publishes a public key in the
//! directory gets its document as a JWE (RFC 7516, compact serialisation), encrypted by
//! direct key agreement, `ECDH-ES` with `A256GCM` (RFC 7518 § 4.6, § 5.3), on P-256 or
//! X25519 (RFC 8037). The gateway renders and seals before it publishes, so that the
//! broker's disk, the adapters and the inbox transport carry ciphertext only; the
//! recipient opens it with its private key (`gateway unseal`, or any JOSE library).

pub mod jwe;
pub mod jwk;
pub mod recipients;

pub use jwe::{SealError, seal, unseal};
pub use jwk::{Curve, JwkError, PrivateJwk, PublicJwk};
pub use recipients::{RecipientKeyError, Recipients};
