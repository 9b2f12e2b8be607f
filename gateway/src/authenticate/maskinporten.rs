//! The Maskinporten profile (Norway, Digdir): access tokens issued to an organisation by
//! Maskinporten, RS256, from the configured environment's issuer and JWKS. Required:
//! `exp`, `iat`, `jti`, `scope` and `consumer` (the organisation, `0192:` and its 9-digit
//! number, ISO 6523); `aud` only where the issuer is configured with an audience
//! (audience-restricted tokens); no `sub` nor `nbf`. What the token may do follows from its
//! scopes, named per issuer. A vendor acting for the organisation is named in `supplier`.

use super::{AuthError, Grants, LEEWAY_SECS};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The scopes a Maskinporten issuer's tokens carry for each thing the gateway does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scopes {
    /// To send messages and record consents.
    pub send: String,
    /// To read statuses, refusals and consents.
    pub read: String,
    /// A data protection officer's disclosure reports, for their organisation.
    #[serde(default)]
    pub dpo: Option<String>,
    /// Disclosure reports about every organisation's disclosures (an operator-wide officer).
    #[serde(default)]
    pub dpo_all: Option<String>,
}

/// What a Maskinporten token says of its organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// The consumer's organisation number (9 digits).
    pub orgnr: String,
    /// The vendor acting for it, if any (its organisation number).
    pub supplier: Option<String>,
    /// Who acts, for the records: the client id.
    pub client: String,
    pub grants: Grants,
}

#[derive(Debug, Deserialize)]
struct OrgClaim {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    scope: Option<String>,
    consumer: Option<OrgClaim>,
    #[serde(default)]
    supplier: Option<OrgClaim>,
    #[serde(default)]
    client_id: Option<String>,
}

/// The organisation number of an ISO 6523 id with the Norwegian register's prefix `0192:`.
fn orgnr(id: &str) -> Option<String> {
    id.strip_prefix("0192:")
        .filter(|n| n.len() == 9 && n.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// Where an environment of Maskinporten issues its tokens and publishes its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Test,
}

impl Environment {
    /// Its issuer (`iss`) and JWKS, as Digdir publishes them.
    pub fn issuer_and_jwks(self) -> (&'static str, &'static str) {
        match self {
            Self::Production => ("https://maskinporten.no/", "https://maskinporten.no/jwk"),
            Self::Test => (
                "https://test.maskinporten.no/",
                "https://test.maskinporten.no/jwk",
            ),
        }
    }
}

/// One accepted Maskinporten issuer (`[[auth.issuers]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// `maskinporten`: the only profile besides the gateway's own (`[auth]`).
    pub profile: ProfileName,
    /// Which of Digdir's environments; `issuer` and `jwks` override it (a stand-in).
    #[serde(default)]
    pub environment: Option<Environment>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub jwks: Option<String>,
    /// Checked only when set (audience-restricted tokens).
    #[serde(default)]
    pub audience: Option<String>,
    pub scopes: Scopes,
}

/// The profiles of `[[auth.issuers]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    Maskinporten,
}

impl IssuerConfig {
    /// Its issuer and JWKS location, if it names them or an environment.
    pub fn issuer_and_jwks(&self) -> Option<(String, String)> {
        let defaults = self.environment.map(Environment::issuer_and_jwks);
        let issuer = self.issuer.clone().or(defaults.map(|d| d.0.to_owned()))?;
        let jwks = self.jwks.clone().or(defaults.map(|d| d.1.to_owned()))?;
        Some((issuer, jwks))
    }
}

/// The checks of one Maskinporten issuer's tokens.
pub struct Profile {
    validation: Validation,
    scopes: Scopes,
    max_lifetime_secs: i64,
}

impl Profile {
    /// Tokens of `issuer`, for `audience` if set, living at most `max_lifetime_secs`.
    pub fn new(
        issuer: &str,
        audience: Option<&str>,
        scopes: Scopes,
        max_lifetime_secs: i64,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_nbf = false;
        validation.leeway = LEEWAY_SECS as u64;
        Self {
            validation,
            scopes,
            max_lifetime_secs,
        }
    }

    /// The organisation `token` (its header checked already) names, signed by `key`.
    pub fn verify(&self, token: &str, key: &DecodingKey) -> Result<Organisation, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|e| super::classify(e.kind()))?
            .claims;
        let (Some(exp), Some(iat), Some(_), Some(scope), Some(consumer)) = (
            claims.exp,
            claims.iat,
            claims.jti.as_ref(),
            claims.scope.as_deref(),
            claims.consumer.as_ref(),
        ) else {
            return Err(AuthError::MissingClaim);
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if iat > now + LEEWAY_SECS {
            return Err(AuthError::IssuedInFuture);
        }
        if exp.saturating_sub(iat) > self.max_lifetime_secs {
            return Err(AuthError::TooLong);
        }
        let consumer = orgnr(&consumer.id).ok_or(AuthError::MissingClaim)?;
        let has = |wanted: &str| scope.split_whitespace().any(|s| s == wanted);
        let grants = Grants {
            send: has(&self.scopes.send),
            read: has(&self.scopes.read),
            dpo: self.scopes.dpo.as_deref().is_some_and(has),
            dpo_all: self.scopes.dpo_all.as_deref().is_some_and(has),
            operate: false,
        };
        Ok(Organisation {
            orgnr: consumer,
            supplier: claims.supplier.and_then(|s| orgnr(&s.id)),
            client: claims.client_id.unwrap_or_else(|| "maskinporten".into()),
            grants,
        })
    }
}
