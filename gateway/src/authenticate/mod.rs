//! Authenticate: a bearer JWT, checked against the keys of a JWKS, names the sending agency.
//!
//! The algorithm is pinned, and issuer, audience, expiry and not-before are all required
//! and checked; a `crit` header is refused (the gateway understands no extension, RFC 7515
//! § 4.1.11), `iat` may not lie in the future nor `exp` too far after it, and `typ` is
//! checked when configured (RFC 8725, RFC 9068). The token's `org` claim must be an agency
//! of the directory; that agency is the sender, whatever the body says.
//!
//! Other issuers ([`maskinporten`]) are matched by `iss` and checked by their own profile:
//! their tokens name an organisation number, which names the agency (with the
//! [`ACTING_AGENCY`] header where it covers several), and their scopes what they may do
//! ([`Grants`]). A request without a token may come over a connection with an organisation
//! certificate ([`certificate`]), which names the organisation the same way.

pub mod certificate;
mod keys;
pub mod maskinporten;

pub use keys::{KeySet, KeySource, KeysError};

use certificate::{Certified, Peer};
use contract::directory::{Agency, Country, Directory};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;

/// Claims the gateway reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// Agency id of the sending organisation.
    pub org: String,
    /// Space-separated scopes (RFC 8693 § 4.2): a data protection officer's token carries
    /// the configured `auth.dpo_scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub agency: Agency,
    /// The token's subject: the person (or system) acting for the agency.
    pub subject: String,
    /// What the token may do.
    pub grants: Grants,
    /// A vendor acting for the agency's organisation (its organisation number), if the
    /// token says so.
    pub supplier: Option<String>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    /// Send messages, record and withdraw consents.
    pub send: bool,
    /// Read statuses, refusals and consents.
    pub read: bool,
    /// Ask for disclosure reports about its organisation's disclosures.
    pub dpo: bool,
    /// Ask for disclosure reports about every organisation's.
    pub dpo_all: bool,
    /// Operate the gateway: its console, dead letters (never a payload).
    pub operate: bool,
}

/// What a request needs a token to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Send,
    Read,
    DisclosureReport,
    Operate,
}

impl Grants {
    /// Whether these grants allow what `need` names.
    pub fn allow(self, need: Need) -> bool {
        match need {
            Need::Send => self.send,
            Need::Read => self.read,
            Need::DisclosureReport => self.dpo || self.dpo_all,
            Need::Operate => self.operate,
        }
    }
}

/// A header naming the agency a token acts as, where its organisation number covers several
/// agencies of the directory.
pub const ACTING_AGENCY: &str = "x-acting-agency";

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token is larger than the gateway takes")]
    TooLarge,
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm is not the accepted one")]
    Algorithm,
    #[error("token names no known signing key")]
    UnknownKey,
    #[error("token signature is not valid")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    Issuer,
    #[error("token audience is not this gateway")]
    Audience,
    #[error("token lacks a required claim")]
    MissingClaim,
    #[error("token names critical header extensions the gateway does not understand")]
    Critical,
    #[error("token type is not the accepted one")]
    Type,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token lives longer than the gateway accepts")]
    TooLong,
    #[error("token organisation is not in the agency directory")]
    UnknownOrganisation,
    #[error("the client certificate names no organisation")]
    CertificateUnnamed,
    #[error(
        "the token's organisation number covers these agencies; name the one acting in the X-Acting-Agency header: {0:?}"
    )]
    ActingAgency(Vec<String>),
}

/// The largest token taken: an access token with its claims and a signature is 1-2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Seconds of clock skew allowed between the issuer and the gateway.
const LEEWAY_SECS: i64 = 30;

/// What the gateway accepts of a token beyond its signature.
#[derive(Debug, Clone)]
pub struct TokenRules {
    pub issuer: String,
    pub audience: String,
    pub algorithm: Algorithm,
    /// Longest `exp - iat`.
    pub max_lifetime_secs: i64,
    /// The `typ` the header must name, if any.
    pub typ: Option<String>,
    /// The scope of a data protection officer, and of an operator-wide one.
    pub dpo_scope: String,
    pub dpo_all_scope: String,
    /// The scope of an operator (the console, dead letters).
    pub operator_scope: String,
}

/// Another issuer, of the Maskinporten profile: matched by its `iss`, checked by its rules
/// and keys only.
pub struct Issuer {
    pub issuer: String,
    pub keys: Arc<KeySet>,
    pub profile: maskinporten::Profile,
}

/// Checks bearer tokens.
pub struct Authenticator {
    rules: TokenRules,
    validation: Validation,
    keys: KeySet,
    /// The issuers of other profiles, by `iss`.
    issuers: HashMap<String, Issuer>,
    directory: Arc<Directory>,
    /// Tokens whose header, signature and claims were checked, by the SHA-256 of the whole
    /// token: a client that sends one token with many requests pays the signature check
    /// once. The times (`exp`, `nbf`, `iat`) are checked again at every use, and the key
    /// must still be in the key set.
    verified: std::sync::Mutex<HashMap<[u8; 32], Verified>>,
}

/// A token checked once: the key it was signed with and its claims.
struct Verified {
    kid: String,
    claims: Claims,
}

/// Verified tokens remembered at most; past it, the expired ones are forgotten, then all.
const VERIFIED_MAX: usize = 4096;

impl Authenticator {
    /// An authenticator for tokens that follow `rules`, signed by a key of `keys`.
    pub fn new(
        rules: TokenRules,
        keys: KeySet,
        issuers: Vec<Issuer>,
        directory: Arc<Directory>,
    ) -> Self {
        let mut validation = Validation::new(rules.algorithm);
        validation.set_issuer(&[&rules.issuer]);
        validation.set_audience(&[&rules.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS as u64;
        Self {
            rules,
            validation,
            keys,
            issuers: issuers.into_iter().map(|i| (i.issuer.clone(), i)).collect(),
            directory,
            verified: std::sync::Mutex::default(),
        }
    }

    /// Authenticates the value of an `Authorization` header (the scheme's name is
    /// case-insensitive, RFC 9110 § 11.1), with the agency named as acting (an
    /// [`ACTING_AGENCY`] header) where the token names an organisation number. A token is
    /// matched to its issuer by `iss` and checked by that issuer's rules only. Without a
    /// token, the connection's organisation certificate (`peer`), if any, names the caller;
    /// it may send and read.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        acting: Option<&str>,
        peer: &Peer,
    ) -> Result<Caller, AuthError> {
        if let (None, Some(certified)) = (authorization, &peer.0) {
            let certified = certified
                .as_ref()
                .map_err(|_| AuthError::CertificateUnnamed)?;
            return self.of_certificate(certified, acting);
        }
        // A token seen before is known by its hash; a changed byte (a forged signature, an
        // edited claim) is another token and checked from the start.
        let token = authorization
            .and_then(|h| h.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        // The generic issuer's rules also tell a token without a readable `iss` what it lacks.
        if let Some(iss) = unverified_issuer(token).filter(|iss| *iss != self.rules.issuer) {
            let issuer = self.issuers.get(&iss).ok_or(AuthError::Issuer)?;
            return self.of_issuer(issuer, token, acting).await;
        }
        let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let known = self
            .verified
            .lock()
            .expect("verified tokens")
            .get(&hash)
            .map(|v| (v.kid.clone(), v.claims.clone()));
        let claims = match known {
            Some((kid, claims)) => {
                self.keys.get(&kid).await.ok_or(AuthError::UnknownKey)?;
                check_times(&claims)?;
                claims
            }
            None => {
                let (kid, claims) = self.verify(token).await?;
                self.remember(hash, kid, claims.clone());
                claims
            }
        };
        let agency = self
            .directory
            .get(&claims.org)
            .ok_or(AuthError::UnknownOrganisation)?
            .clone();
        let has = |wanted: &str| {
            claims
                .scope
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .any(|s| s == wanted)
        };
        let grants = Grants {
            send: true,
            read: true,
            dpo: has(&self.rules.dpo_scope),
            dpo_all: has(&self.rules.dpo_all_scope),
            operate: has(&self.rules.operator_scope),
        };
        Ok(Caller {
            agency,
            subject: claims.sub,
            grants,
            supplier: None,
        })
    }

    /// Authenticates a token of another profile's `issuer`: its organisation number names
    /// the agency, alone or with the agency named as `acting`.
    async fn of_issuer(
        &self,
        issuer: &Issuer,
        token: &str,
        acting: Option<&str>,
    ) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Algorithm);
        }
        if header.crit.is_some() {
            return Err(AuthError::Critical);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = issuer.keys.get(&kid).await.ok_or(AuthError::UnknownKey)?;
        let organisation = issuer.profile.verify(token, &key)?;
        Ok(Caller {
            agency: self.acting(Some(Country::NO), &organisation.orgnr, acting)?,
            subject: organisation.client,
            grants: organisation.grants,
            supplier: organisation.supplier,
        })
    }

    /// Authenticates a connection's organisation certificate.
    fn of_certificate(
        &self,
        certified: &Certified,
        acting: Option<&str>,
    ) -> Result<Caller, AuthError> {
        Ok(Caller {
            agency: self.acting(certified.country, &certified.number, acting)?,
            subject: format!("certificate:{}", certified.serial),
            grants: Grants {
                send: true,
                read: true,
                operate: false,
                ..Grants::default()
            },
            supplier: None,
        })
    }

    /// The agency acting for the organisation `number` (of `country`'s register, if
    /// known): its only agency, or the one named as `acting` among its agencies.
    fn acting(
        &self,
        country: Option<Country>,
        number: &str,
        acting: Option<&str>,
    ) -> Result<Agency, AuthError> {
        let covered: Vec<&Agency> = self
            .directory
            .agencies()
            .filter(|a| a.orgnr == number && country.is_none_or(|c| a.country == c))
            .collect();
        let agency = match (acting, covered.as_slice()) {
            (_, []) => return Err(AuthError::UnknownOrganisation),
            (None, [only]) => *only,
            (Some(id), _) => covered
                .iter()
                .find(|a| a.id.0 == id)
                .copied()
                .ok_or_else(|| acting_agency(&covered))?,
            (None, _) => return Err(acting_agency(&covered)),
        };
        Ok(agency.clone())
    }
}

/// The refusal that lists the agencies an organisation number covers (ids only).
fn acting_agency(covered: &[&Agency]) -> AuthError {
    let mut ids: Vec<String> = covered.iter().map(|a| a.id.0.clone()).collect();
    ids.sort();
    AuthError::ActingAgency(ids)
}

/// The `iss` a token says it has, unverified: only to choose the issuer whose rules check it.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Iss>(token).ok()?;
    Some(iss.iss)
}

impl Authenticator {
    /// Checks a token not seen before: header, signature, claims; its key id and claims.
    async fn verify(&self, token: &str) -> Result<(String, Claims), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != self.rules.algorithm {
            return Err(AuthError::Algorithm);
        }
        if header.crit.is_some() {
            return Err(AuthError::Critical);
        }
        if let Some(wanted) = &self.rules.typ {
            let typ = header.typ.as_deref().unwrap_or("");
            let typ = typ
                .get(..12)
                .filter(|p| p.eq_ignore_ascii_case("application/"))
                .map_or(typ, |_| &typ[12..]);
            if !typ.eq_ignore_ascii_case(wanted) {
                return Err(AuthError::Type);
            }
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = self.keys.get(&kid).await.ok_or(AuthError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| classify(e.kind()))?
            .claims;
        check_times(&claims)?;
        if claims.exp.saturating_sub(claims.iat) > self.rules.max_lifetime_secs {
            return Err(AuthError::TooLong);
        }
        Ok((kid, claims))
    }

    fn remember(&self, hash: [u8; 32], kid: String, claims: Claims) {
        let mut verified = self.verified.lock().expect("verified tokens");
        if verified.len() >= VERIFIED_MAX {
            verified.retain(|_, v| check_times(&v.claims).is_ok());
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
        }
        verified.insert(hash, Verified { kid, claims });
    }
}

/// The checks of a token's times that hold only for a while: not expired, valid already,
/// not issued in the future (each with the leeway).
fn check_times(claims: &Claims) -> Result<(), AuthError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if claims.exp < now - LEEWAY_SECS {
        return Err(AuthError::Expired);
    }
    if claims.nbf > now + LEEWAY_SECS {
        return Err(AuthError::NotYetValid);
    }
    if claims.iat > now + LEEWAY_SECS {
        return Err(AuthError::IssuedInFuture);
    }
    Ok(())
}

fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
        ErrorKind::MissingRequiredClaim(_) => AuthError::MissingClaim,
        _ => AuthError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devkeys::{DevKey, DevMaskinporten};
    use std::path::Path;
    use std::time::Duration;

    const ISSUER: &str = "https://idp.test.invalid";
    const AUDIENCE: &str = "referral-gateway";

    async fn authenticator() -> (Authenticator, DevKey) {
        let dir = std::env::temp_dir().join(format!("gw-auth-{}", uuid::Uuid::new_v4()));
        let key = DevKey::ensure(&dir).unwrap();
        let jwks = dir.join("jwks.json");
        key.write_jwks(&jwks).unwrap();
        let keys = KeySet::load(KeySource::File(jwks), Duration::from_secs(60))
            .await
            .unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let directory = Directory::load(&repo.join("ops/config/directory.dev.toml")).unwrap();
        (generic(keys, Vec::new(), directory), key)
    }

    fn generic(keys: KeySet, issuers: Vec<Issuer>, directory: Directory) -> Authenticator {
        let rules = TokenRules {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            algorithm: Algorithm::EdDSA,
            max_lifetime_secs: 3600,
            typ: None,
            dpo_scope: "referral-gateway.dpo".into(),
            dpo_all_scope: "referral-gateway.dpo-all".into(),
            operator_scope: "referral-gateway.operator".into(),
        };
        Authenticator::new(rules, keys, issuers, Arc::new(directory))
    }

    const MASKINPORTEN: &str = "https://maskinporten.test.invalid/";
    const SEND: &str = "referral-gateway:send";
    const DPO_ALL: &str = "referral-gateway:dpo-all";
    /// Oslo's school and kindergarten under one organisation number (as a municipality's
    /// units may be), Bergen's school under its own.
    const OSLO: &str = "974590000";
    const BERGEN: &str = "964338000";

    /// The generic issuer and a Maskinporten issuer at once, on a directory where Oslo's
    /// school and kindergarten share one number; the Maskinporten stand-in and its JWKS file.
    async fn two_issuers() -> (Authenticator, DevKey, DevMaskinporten, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("gw-auth-{}", uuid::Uuid::new_v4()));
        let key = DevKey::ensure(&dir).unwrap();
        key.write_jwks(&dir.join("jwks.json")).unwrap();
        let keys = KeySet::load(KeySource::File(dir.join("jwks.json")), Duration::ZERO)
            .await
            .unwrap();
        let stand_in = DevMaskinporten::ensure(&dir).unwrap();
        let jwks = dir.join("maskinporten.json");
        stand_in.write_jwks(&jwks).unwrap();
        let issuer = Issuer {
            issuer: MASKINPORTEN.into(),
            keys: Arc::new(
                KeySet::load_or_later(KeySource::File(jwks.clone()), Duration::ZERO, MASKINPORTEN)
                    .await,
            ),
            profile: maskinporten::Profile::new(
                MASKINPORTEN,
                None,
                maskinporten::Scopes {
                    send: SEND.into(),
                    read: "referral-gateway:read".into(),
                    dpo: None,
                    dpo_all: Some(DPO_ALL.into()),
                },
                3600,
            ),
        };
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(repo.join("ops/config/directory.dev.toml"))
            .unwrap()
            .replace("orgnr = \"974590020\"", &format!("orgnr = \"{OSLO}\""));
        std::fs::write(dir.join("directory.toml"), text).unwrap();
        let directory = Directory::load(&dir.join("directory.toml")).unwrap();
        (generic(keys, vec![issuer], directory), key, stand_in, jwks)
    }

    #[tokio::test]
    async fn a_maskinporten_token_names_its_organisation_beside_the_generic_issuers() {
        let (auth, key, stand_in, _) = two_issuers().await;
        let token = key
            .token(ISSUER, AUDIENCE, "no-oslo-hasle-skole", 600, None)
            .unwrap();
        let generic = auth
            .authenticate(Some(&bearer(&token)), None, &Peer::default())
            .await
            .unwrap();
        assert_eq!(generic.agency.id.0, "no-oslo-hasle-skole");
        let claims = DevMaskinporten::claims(MASKINPORTEN, BERGEN, SEND, 120);
        let token = stand_in.sign(&claims).unwrap();
        let caller = auth
            .authenticate(Some(&bearer(&token)), None, &Peer::default())
            .await
            .unwrap();
        assert_eq!(caller.agency.id.0, "no-bergen-nordnes-skole");
        assert!(caller.grants.send && !caller.grants.read && !caller.grants.dpo);
        assert!(!caller.grants.dpo_all);
        // The operator-wide officer's scope, where the issuer names one.
        let officer = DevMaskinporten::claims(MASKINPORTEN, BERGEN, DPO_ALL, 120);
        let caller = auth
            .authenticate(
                Some(&bearer(&stand_in.sign(&officer).unwrap())),
                None,
                &Peer::default(),
            )
            .await
            .unwrap();
        assert!(caller.grants.allow(Need::DisclosureReport) && caller.grants.dpo_all);
        assert!(!caller.grants.send);
        // A supplier acting for the organisation is kept.
        let mut supplied = claims.clone();
        supplied["supplier"] = serde_json::json!({ "ID": "0192:987654321" });
        let caller = auth
            .authenticate(
                Some(&bearer(&stand_in.sign(&supplied).unwrap())),
                None,
                &Peer::default(),
            )
            .await
            .unwrap();
        assert_eq!(caller.supplier.as_deref(), Some("987654321"));
    }

    #[tokio::test]
    async fn a_maskinporten_token_missing_a_claim_or_foreign_or_of_another_key_is_refused() {
        let (auth, key, stand_in, _) = two_issuers().await;
        let claims = DevMaskinporten::claims(MASKINPORTEN, BERGEN, SEND, 120);
        let refused = |claims: serde_json::Value| {
            let token = stand_in.sign(&claims).unwrap();
            let auth = &auth;
            async move {
                auth.authenticate(Some(&bearer(&token)), None, &Peer::default())
                    .await
                    .unwrap_err()
            }
        };
        for missing in ["exp", "iat", "jti", "scope", "consumer"] {
            let mut without = claims.clone();
            without.as_object_mut().unwrap().remove(missing);
            assert_eq!(refused(without).await, AuthError::MissingClaim, "{missing}");
        }
        let mut not_iso = claims.clone();
        not_iso["consumer"]["ID"] = "9908:964338000".into();
        assert_eq!(refused(not_iso).await, AuthError::MissingClaim);
        let mut foreign = claims.clone();
        foreign["consumer"]["ID"] = "0192:999999999".into();
        assert_eq!(refused(foreign).await, AuthError::UnknownOrganisation);
        let mut long = claims.clone();
        long["exp"] = (claims["iat"].as_i64().unwrap() + 7200).into();
        assert_eq!(refused(long).await, AuthError::TooLong);
        // Another issuer's key: a second stand-in, not in this issuer's key set.
        let other = DevMaskinporten::ensure(
            &std::env::temp_dir().join(format!("gw-mp-{}", uuid::Uuid::new_v4())),
        )
        .unwrap();
        let token = other.sign(&claims).unwrap();
        assert_eq!(
            auth.authenticate(Some(&bearer(&token)), None, &Peer::default())
                .await
                .unwrap_err(),
            AuthError::UnknownKey
        );
        // The generic issuer's key under Maskinporten's name: another algorithm.
        let mut generic = key
            .token(ISSUER, AUDIENCE, "no-oslo-hasle-skole", 600, None)
            .unwrap();
        let forged = Claims {
            iss: MASKINPORTEN.into(),
            ..jsonwebtoken::dangerous::insecure_decode::<Claims>(&generic)
                .unwrap()
                .claims
        };
        generic = key.sign(&forged).unwrap();
        assert_eq!(
            auth.authenticate(Some(&bearer(&generic)), None, &Peer::default())
                .await
                .unwrap_err(),
            AuthError::Algorithm
        );
        // An issuer nobody configured.
        let mut unknown = claims.clone();
        unknown["iss"] = "https://idp.elsewhere.invalid/".into();
        assert_eq!(refused(unknown).await, AuthError::Issuer);
    }

    #[tokio::test]
    async fn an_organisation_number_of_several_agencies_needs_the_acting_one_named() {
        let (auth, _, stand_in, _) = two_issuers().await;
        let token = stand_in
            .sign(&DevMaskinporten::claims(MASKINPORTEN, OSLO, SEND, 120))
            .unwrap();
        let both = AuthError::ActingAgency(vec![
            "no-oslo-hasle-skole".into(),
            "no-oslo-tasen-barnehage".into(),
        ]);
        let as_agency = |acting: Option<&'static str>| {
            let (auth, token) = (&auth, token.clone());
            async move {
                auth.authenticate(Some(&bearer(&token)), acting, &Peer::default())
                    .await
            }
        };
        assert_eq!(as_agency(None).await.unwrap_err(), both);
        assert_eq!(
            as_agency(Some("no-bergen-nordnes-skole"))
                .await
                .unwrap_err(),
            both,
            "an agency of another number"
        );
        let caller = as_agency(Some("no-oslo-tasen-barnehage")).await.unwrap();
        assert_eq!(caller.agency.id.0, "no-oslo-tasen-barnehage");
    }

    #[tokio::test]
    async fn an_issuers_key_rotation_is_picked_up_without_a_restart() {
        let (auth, _, _, jwks) = two_issuers().await;
        let rotated = DevMaskinporten::ensure(
            &std::env::temp_dir().join(format!("gw-mp-{}", uuid::Uuid::new_v4())),
        )
        .unwrap();
        rotated.write_jwks(&jwks).unwrap();
        let token = rotated
            .sign(&DevMaskinporten::claims(MASKINPORTEN, BERGEN, SEND, 120))
            .unwrap();
        let caller = auth
            .authenticate(Some(&bearer(&token)), None, &Peer::default())
            .await
            .unwrap();
        assert_eq!(caller.agency.id.0, "no-bergen-nordnes-skole");
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[tokio::test]
    async fn a_token_is_verified_once_and_its_times_and_key_checked_at_every_use() {
        let (auth, key) = authenticator().await;
        let token = key
            .token(ISSUER, AUDIENCE, "no-oslo-hasle-skole", 600, None)
            .unwrap();
        for _ in 0..3 {
            let caller = auth
                .authenticate(Some(&bearer(&token)), None, &Peer::default())
                .await
                .unwrap();
            assert_eq!(caller.agency.id.0, "no-oslo-hasle-skole");
        }
        assert_eq!(auth.verified.lock().unwrap().len(), 1);

        // A changed signature is another token: checked from the start, refused.
        let at = token.rfind('.').unwrap() + 5;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
        assert_eq!(
            auth.authenticate(Some(&bearer(&forged)), None, &Peer::default())
                .await
                .unwrap_err(),
            AuthError::Signature
        );

        // A remembered token that has expired since, or whose key left the key set, is
        // refused.
        let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let (kid, claims) = {
            let verified = auth.verified.lock().unwrap();
            (verified[&hash].kid.clone(), verified[&hash].claims.clone())
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let expired = Claims {
            exp: now - LEEWAY_SECS - 1,
            ..claims.clone()
        };
        auth.remember(hash, kid, expired);
        assert_eq!(
            auth.authenticate(Some(&bearer(&token)), None, &Peer::default())
                .await
                .unwrap_err(),
            AuthError::Expired
        );
        auth.remember(hash, "a-key-no-longer-there".into(), claims);
        assert_eq!(
            auth.authenticate(Some(&bearer(&token)), None, &Peer::default())
                .await
                .unwrap_err(),
            AuthError::UnknownKey
        );
    }
}
