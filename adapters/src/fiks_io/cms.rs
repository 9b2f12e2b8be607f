//! CMS enveloped data (RFC 5652 § 6) to one recipient's certificate, as KS's Fiks IO clients
//! make it: the content encrypted with a fresh AES-256-CBC key (RFC 3565), the key encrypted
//! to the recipient's RSA key with RSAES-OAEP, SHA-256 and MGF1-SHA-256 (RFC 4055), the
//! recipient named by the certificate's issuer and serial number. DER; `openssl cms -decrypt
//! -inform DER` opens it.

use aws_lc_rs::cipher::{AES_256, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use der::asn1::{Null, OctetString};
use der::oid::ObjectIdentifier;
use der::{Any, DecodePem, Encode, Sequence};
use x509_cert::Certificate;
use x509_cert::spki::AlgorithmIdentifierOwned;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const ID_RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// A recipient's certificate that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    #[error("the certificate is not a PEM X.509 certificate")]
    Certificate,
    #[error("the certificate's key is not an RSA key")]
    Key,
}

/// The recipient of enveloped data: a parsed certificate and its RSA key.
pub struct Recipient {
    certificate: Certificate,
    key: OaepPublicEncryptingKey,
}

impl Recipient {
    /// The recipient whose certificate `pem` is.
    pub fn from_pem(pem: &str) -> Result<Self, RecipientError> {
        let certificate =
            Certificate::from_pem(pem.as_bytes()).map_err(|_| RecipientError::Certificate)?;
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| RecipientError::Certificate)?;
        let key = PublicEncryptingKey::from_der(&spki)
            .ok()
            .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
            .ok_or(RecipientError::Key)?;
        Ok(Self { certificate, key })
    }
}

/// RSAES-OAEP-params with SHA-256 and MGF1-SHA-256 (the label is the default, empty).
#[derive(Sequence)]
struct OaepParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    hash: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    mask: AlgorithmIdentifierOwned,
}

fn sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: Some(Any::from(Null)),
    }
}

/// Why nothing could be encrypted (a fault of the machine's crypto, not of the input).
#[derive(Debug, thiserror::Error)]
#[error("encryption failed")]
pub struct EncryptError;

impl From<der::Error> for EncryptError {
    fn from(_: der::Error) -> Self {
        Self
    }
}

/// `content` enveloped for `recipient`, DER.
pub fn encrypt(recipient: &Recipient, content: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    let random = SystemRandom::new();
    random.fill(&mut key).map_err(|_| EncryptError)?;
    random.fill(&mut iv).map_err(|_| EncryptError)?;
    let cipher = UnboundCipherKey::new(&AES_256, &key)
        .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| EncryptError)?;
    let mut sealed = content.to_vec();
    cipher
        .less_safe_encrypt(
            &mut sealed,
            aws_lc_rs::cipher::EncryptionContext::Iv128(iv.into()),
        )
        .map_err(|_| EncryptError)?;
    let mut wrapped = vec![0u8; recipient.key.ciphertext_size()];
    let wrapped = recipient
        .key
        .encrypt(&OAEP_SHA256_MGF1SHA256, &key, &mut wrapped, None)
        .map_err(|_| EncryptError)?
        .to_vec();
    let oaep = OaepParams {
        hash: sha256(),
        mask: AlgorithmIdentifierOwned {
            oid: ID_MGF1,
            parameters: Some(Any::encode_from(&sha256())?),
        },
    };
    let tbs = &recipient.certificate.tbs_certificate;
    let info = RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: ID_RSAES_OAEP,
            parameters: Some(Any::encode_from(&oaep)?),
        },
        enc_key: OctetString::new(wrapped)?,
    });
    let enveloped = EnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: RecipientInfos(der::asn1::SetOfVec::try_from(vec![info])?),
        encrypted_content: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: ID_AES256_CBC,
                parameters: Some(Any::encode_from(&OctetString::new(iv)?)?),
            },
            encrypted_content: Some(OctetString::new(sealed)?),
        },
        unprotected_attrs: None,
    };
    ContentInfo {
        content_type: ID_ENVELOPED_DATA,
        content: Any::encode_from(&enveloped)?,
    }
    .to_der()
    .map_err(EncryptError::from)
}
