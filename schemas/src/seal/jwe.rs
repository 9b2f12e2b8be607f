//! JWE compact serialisation with `ECDH-ES` + `A256GCM`: the content key is the output of
//! the Concat KDF (NIST SP 800-56A § 5.8.1, as RFC 7518 § 4.6.2 fixes its inputs) over the
//! shared secret of an ephemeral key and the recipient's; the encrypted key is empty.

use super::jwk::{JwkError, PrivateJwk, PublicJwk};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::agreement::PrivateKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALG: &str = "ECDH-ES";
const ENC: &str = "A256GCM";

/// Why a JWE does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a JWE in compact serialisation (five base64url parts)")]
    Malformed,
    #[error("the JWE is not alg ECDH-ES with enc A256GCM")]
    Algorithm,
    #[error("the JWE's ephemeral key: {0}")]
    EphemeralKey(JwkError),
    #[error("the JWE is for a key on another curve")]
    WrongCurve,
    #[error("the JWE does not open with this key (another recipient's, or changed on the way)")]
    Unopenable,
}

/// One SHA-256 round of the Concat KDF (enough for keys up to 256 bits): `AlgorithmID`,
/// `PartyUInfo` and `PartyVInfo` each with its length, then the key length in bits.
fn concat_kdf(z: &[u8], algorithm: &[u8], apu: &[u8], apv: &[u8], bits: u32) -> [u8; 32] {
    let with_length = |bytes: &[u8]| [&(bytes.len() as u32).to_be_bytes()[..], bytes].concat();
    Sha256::new()
        .chain_update(1u32.to_be_bytes())
        .chain_update(z)
        .chain_update(with_length(algorithm))
        .chain_update(with_length(apu))
        .chain_update(with_length(apv))
        .chain_update(bits.to_be_bytes())
        .finalize()
        .into()
}

/// The content key of `A256GCM` with `apu` and `apv` empty.
fn content_key(z: &[u8]) -> [u8; 32] {
    concat_kdf(z, ENC.as_bytes(), b"", b"", 256)
}

fn cipher(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32 bytes"))
}

/// `plaintext` sealed to `recipient`; `cty` names what it is (the document's media type).
pub fn seal(plaintext: &[u8], recipient: &PublicJwk, cty: &str) -> String {
    let ephemeral =
        PrivateKey::generate(recipient.curve.algorithm()).expect("the system has randomness");
    let epk = PublicJwk::of(&ephemeral, recipient.curve, None).to_json();
    let mut header = json!({ "alg": ALG, "enc": ENC, "cty": cty, "epk": {
        "kty": epk["kty"], "crv": epk["crv"], "x": epk["x"],
    }});
    if let Some(y) = epk.get("y") {
        header["epk"]["y"] = y.clone();
    }
    if let Some(kid) = &recipient.kid {
        header["kid"] = kid.as_str().into();
    }
    let key = recipient
        .agree(&ephemeral, |z| Ok(content_key(z)))
        .expect("a recipient key checked when the directory was loaded agrees");
    let protected = B64.encode(header.to_string());
    let mut iv = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut iv).expect("the system has randomness");
    let mut body = plaintext.to_vec();
    let tag = cipher(&key)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(protected.as_bytes()),
            &mut body,
        )
        .expect("AES-GCM seals a document");
    format!(
        "{protected}..{}.{}.{}",
        B64.encode(iv),
        B64.encode(&body),
        B64.encode(tag.as_ref())
    )
}

/// Opens a JWE sealed to `key`'s public half.
pub fn unseal(jwe: &str, key: &PrivateJwk) -> Result<Vec<u8>, SealError> {
    let parts: Vec<&str> = jwe.trim().split('.').collect();
    let [protected, encrypted_key, iv, body, tag] = parts[..] else {
        return Err(SealError::Malformed);
    };
    let decode = |part: &str| B64.decode(part).map_err(|_| SealError::Malformed);
    let header: Value =
        serde_json::from_slice(&decode(protected)?).map_err(|_| SealError::Malformed)?;
    if header["alg"] != ALG || header["enc"] != ENC || !encrypted_key.is_empty() {
        return Err(SealError::Algorithm);
    }
    let epk = PublicJwk::from_json(&header["epk"]).map_err(SealError::EphemeralKey)?;
    if epk.curve != key.public.curve {
        return Err(SealError::WrongCurve);
    }
    let content = epk
        .agree(&key.key, |z| Ok(content_key(z)))
        .map_err(SealError::EphemeralKey)?;
    let nonce = Nonce::try_assume_unique_for_key(&decode(iv)?).map_err(|_| SealError::Malformed)?;
    let mut sealed = [decode(body)?, decode(tag)?].concat();
    let plain = cipher(&content)
        .open_in_place(nonce, Aad::from(protected.as_bytes()), &mut sealed)
        .map_err(|_| SealError::Unopenable)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::super::jwk::Curve;
    use super::*;

    #[test]
    fn a_sealed_document_opens_with_its_recipients_key_only() {
        for curve in [Curve::P256, Curve::X25519] {
            let recipient = PrivateJwk::generate(curve, Some("bv-1".into()));
            let jwe = seal(b"{\"navn\":\"Ola\"}", &recipient.public, "application/json");
            assert!(!jwe.contains("Ola"));
            assert_eq!(jwe.split('.').nth(1), Some(""), "direct agreement: no key");
            assert_eq!(unseal(&jwe, &recipient).unwrap(), b"{\"navn\":\"Ola\"}");
            let other = PrivateJwk::generate(curve, None);
            assert_eq!(unseal(&jwe, &other), Err(SealError::Unopenable));
            let mut changed: Vec<&str> = jwe.split('.').collect();
            let body = B64.encode(b"{\"navn\":\"Per\"}");
            changed[3] = &body;
            assert_eq!(
                unseal(&changed.join("."), &recipient),
                Err(SealError::Unopenable)
            );
        }
        let p256 = PrivateJwk::generate(Curve::P256, None);
        let x = PrivateJwk::generate(Curve::X25519, None);
        assert_eq!(
            unseal(&seal(b"x", &p256.public, "text/plain"), &x),
            Err(SealError::WrongCurve)
        );
        assert_eq!(unseal("a.b.c", &x), Err(SealError::Malformed));
    }

    /// RFC 7518 Appendix C: the content key of its ECDH-ES example.
    #[test]
    fn the_concat_kdf_gives_rfc_7518s_example_key() {
        let z: [u8; 32] = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        // The example derives a 128-bit A128GCM key with apu "Alice" and apv "Bob".
        let key = concat_kdf(&z, b"A128GCM", b"Alice", b"Bob", 128);
        assert_eq!(B64.encode(&key[..16]), "VqqN6vgjbSBcIijNcacQGg");
    }
}
