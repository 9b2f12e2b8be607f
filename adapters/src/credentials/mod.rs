//! How adapters authenticate to agencies' systems: bearer tokens from a token endpoint
//! ([`Tokens`]), by the client-credentials grant or the JWT-bearer grant signed with the
//! business certificate (Maskinporten).

mod assertion;
mod token;

pub use token::{TokenError, Tokens};
