//! What arrives at the send endpoint: the multipart body's parts, and the data part opened
//! as its receiving account would (CMS enveloped data, RSAES-OAEP and AES-256-CBC, around an
//! ASiC-E container).

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use cms::content_info::ContentInfo;
use cms::enveloped_data::{EnvelopedData, RecipientInfo};
use der::Decode;
use der::asn1::OctetString;

/// The parts of a `multipart/form-data` body with boundary `boundary`, by name.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<(String, &'a [u8])> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(end) = find(rest, delimiter.as_bytes()) else {
            break;
        };
        let part = &rest[..end];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        if let Some(split) = find(part, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&part[..split]).to_string();
            let name = head
                .split("name=\"")
                .nth(1)
                .and_then(|n| n.split('"').next())
                .unwrap_or_default()
                .to_owned();
            parts.push((name, &part[split + 4..]));
        }
        rest = &rest[end..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `data` opened with the account key `pkcs8`, if it is enveloped data to it holding an
/// ASiC-E container.
pub fn open(data: &[u8], pkcs8: &[u8]) -> Option<Vec<u8>> {
    let info = ContentInfo::from_der(data).ok()?;
    let enveloped: EnvelopedData = info.content.decode_as().ok()?;
    let key = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(pkcs8).ok()?).ok()?;
    let mut content_key = vec![0u8; key.min_output_size()];
    let content_key = enveloped.recip_infos.0.iter().find_map(|r| match r {
        RecipientInfo::Ktri(k) => key
            .decrypt(
                &OAEP_SHA256_MGF1SHA256,
                k.enc_key.as_bytes(),
                &mut content_key,
                None,
            )
            .ok()
            .map(|k| k.to_vec()),
        _ => None,
    })?;
    let content = &enveloped.encrypted_content;
    let iv: OctetString = content
        .content_enc_alg
        .parameters
        .as_ref()?
        .decode_as()
        .ok()?;
    let iv: [u8; 16] = iv.as_bytes().try_into().ok()?;
    let cipher = UnboundCipherKey::new(&AES_256, &content_key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .ok()?;
    let mut bytes = content.encrypted_content.as_ref()?.as_bytes().to_vec();
    let plain = cipher
        .decrypt(&mut bytes, DecryptionContext::Iv128(iv.into()))
        .ok()?
        .to_vec();
    // An ASiC-E container starts with its stored `mimetype` entry.
    let asic = b"mimetypeapplication/vnd.etsi.asic-e+zip";
    (plain.get(30..30 + asic.len()) == Some(asic.as_slice())).then_some(plain)
}
