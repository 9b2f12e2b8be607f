//! Keys of recipients as JWKs (RFC 7517): `EC` on `P-256` (RFC 7518 § 6.2) and `OKP` on
//! `X25519` (RFC 8037 § 2).

use aws_lc_rs::agreement::{self, Algorithm, PrivateKey};
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

/// The curves a recipient's key may be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    X25519,
}

impl Curve {
    pub(crate) fn algorithm(self) -> &'static Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::X25519 => &agreement::X25519,
        }
    }

    fn parse(kty: &str, crv: &str) -> Result<Self, JwkError> {
        match (kty, crv) {
            ("EC", "P-256") => Ok(Self::P256),
            ("OKP", "X25519") => Ok(Self::X25519),
            _ => Err(JwkError::Unsupported),
        }
    }
}

/// Why a JWK is not a key the gateway can seal to or open with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("not a key for ECDH-ES on P-256 (kty EC) or X25519 (kty OKP)")]
    Unsupported,
    #[error("member {0} is missing or not base64url")]
    Member(&'static str),
    #[error("the key is not a valid point or scalar of its curve")]
    Invalid,
    #[error("the key is not for encryption (its use or alg says otherwise)")]
    NotForEncryption,
}

/// A recipient's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub curve: Curve,
    /// P-256: the uncompressed point (`04 || x || y`); X25519: the 32 bytes.
    pub point: Vec<u8>,
    pub kid: Option<String>,
}

fn member(jwk: &Value, name: &'static str) -> Result<Vec<u8>, JwkError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|s| B64.decode(s).ok())
        .ok_or(JwkError::Member(name))
}

impl PublicJwk {
    /// Reads a public JWK, checking it is one to encrypt to with ECDH-ES.
    pub fn from_json(jwk: &Value) -> Result<Self, JwkError> {
        let text = |name| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
        let curve = Curve::parse(text("kty"), text("crv"))?;
        if jwk.get("use").is_some_and(|u| u != "enc")
            || jwk.get("alg").is_some_and(|a| a != "ECDH-ES")
        {
            return Err(JwkError::NotForEncryption);
        }
        let point = match curve {
            Curve::P256 => {
                let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JwkError::Invalid);
                }
                [&[4u8][..], &x, &y].concat()
            }
            Curve::X25519 => member(jwk, "x")?,
        };
        let key = Self {
            curve,
            point,
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
        };
        // A point off the curve fails here, not at the first message.
        let probe = PrivateKey::generate(curve.algorithm()).map_err(|_| JwkError::Invalid)?;
        key.agree(&probe, |_| Ok(()))?;
        Ok(key)
    }

    /// The key as a JWK.
    pub fn to_json(&self) -> Value {
        let mut jwk = match self.curve {
            Curve::P256 => json!({
                "kty": "EC", "crv": "P-256",
                "x": B64.encode(&self.point[1..33]), "y": B64.encode(&self.point[33..65]),
            }),
            Curve::X25519 => json!({ "kty": "OKP", "crv": "X25519", "x": B64.encode(&self.point) }),
        };
        jwk["use"] = "enc".into();
        jwk["alg"] = "ECDH-ES".into();
        if let Some(kid) = &self.kid {
            jwk["kid"] = kid.as_str().into();
        }
        jwk
    }

    /// Agrees on a secret with `private` and hands it to `kdf`.
    pub(crate) fn agree<R>(
        &self,
        private: &PrivateKey,
        kdf: impl FnOnce(&[u8]) -> Result<R, JwkError>,
    ) -> Result<R, JwkError> {
        let peer = agreement::UnparsedPublicKey::new(self.curve.algorithm(), &self.point);
        agreement::agree(private, peer, JwkError::Invalid, kdf)
    }

    /// The public half of `private`, as this curve writes it.
    pub(crate) fn of(private: &PrivateKey, curve: Curve, kid: Option<String>) -> Self {
        let public = private
            .compute_public_key()
            .expect("a private key has a public one");
        Self {
            curve,
            point: public.as_ref().to_vec(),
            kid,
        }
    }
}

/// A recipient's private key: what opens what was sealed to its public half.
pub struct PrivateJwk {
    pub key: PrivateKey,
    pub public: PublicJwk,
}

/// Only the public half: the private one never reaches a log.
impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PrivateJwk {
    /// A fresh key pair on `curve`, named `kid`.
    pub fn generate(curve: Curve, kid: Option<String>) -> Self {
        let key = PrivateKey::generate(curve.algorithm()).expect("the system has randomness");
        let public = PublicJwk::of(&key, curve, kid);
        Self { key, public }
    }

    /// Reads a private JWK (its `d`, and the public members).
    pub fn from_json(jwk: &Value) -> Result<Self, JwkError> {
        let public = PublicJwk::from_json(jwk)?;
        let d = member(jwk, "d")?;
        let key = PrivateKey::from_private_key(public.curve.algorithm(), &d)
            .map_err(|_| JwkError::Invalid)?;
        if PublicJwk::of(&key, public.curve, None).point != public.point {
            return Err(JwkError::Invalid);
        }
        Ok(Self { key, public })
    }

    /// The key as a private JWK (keep it secret: it opens every message sealed to it).
    pub fn to_json(&self) -> Value {
        let d = match self.public.curve {
            Curve::P256 => {
                let bin: EcPrivateKeyBin = self.key.as_be_bytes().expect("a P-256 scalar");
                bin.as_ref().to_vec()
            }
            Curve::X25519 => {
                let bin: Curve25519SeedBin = self.key.as_be_bytes().expect("an X25519 seed");
                bin.as_ref().to_vec()
            }
        };
        let mut jwk = self.public.to_json();
        jwk["d"] = B64.encode(d).into();
        jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_jwk() {
        for curve in [Curve::P256, Curve::X25519] {
            let pair = PrivateJwk::generate(curve, Some("r-1".into()));
            let private = PrivateJwk::from_json(&pair.to_json()).unwrap();
            assert_eq!(private.public, pair.public);
            let public = PublicJwk::from_json(&pair.public.to_json()).unwrap();
            assert_eq!(public, pair.public);
            assert!(pair.public.to_json().get("d").is_none());
        }
    }

    #[test]
    fn keys_that_cannot_seal_are_refused() {
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(PublicJwk::from_json(&ed), Err(JwkError::Unsupported));
        let mut signing = PrivateJwk::generate(Curve::P256, None).public.to_json();
        signing["use"] = "sig".into();
        assert_eq!(
            PublicJwk::from_json(&signing),
            Err(JwkError::NotForEncryption)
        );
        let mut off_curve = PrivateJwk::generate(Curve::P256, None).public.to_json();
        off_curve["y"] = B64.encode([7u8; 32]).into();
        assert_eq!(PublicJwk::from_json(&off_curve), Err(JwkError::Invalid));
    }
}
