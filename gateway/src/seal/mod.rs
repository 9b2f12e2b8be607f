//! Sealing for the recipient (end to end): a recipient that publishes a public key in the
//! directory gets its document as a JWE ([`contract::seal`]). The gateway renders and seals
//! before it publishes, so that the broker's disk, the adapters and the inbox transport
//! carry ciphertext only; the recipient opens it with its private key (`gateway unseal`, or
//! any JOSE library). A recipient without a key gets its message sealed to the adapters'
//! delivery key instead, which the adapter opens for the last hop only.

pub mod recipients;

pub use contract::seal::{Curve, JwkError, PrivateJwk, PublicJwk, SealError, seal, unseal};
pub use recipients::{DeliveryConfig, RecipientKeyError, Recipients, Sealing};
