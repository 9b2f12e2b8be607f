//! The agency directory: who the agencies are, their type, and how to deliver to them.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Country of an agency (and of the statute of a legal basis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum Country {
    NO,
    SE,
    DK,
}

crate::named! {
    /// Agency types: the vocabulary of the legal-basis catalog, each of one country.
    #[strum(serialize_all = "snake_case")]
    pub enum AgencyType {
        // Norway
        School,
        Kindergarten,
        SchoolHealth,
        Health,
        Barnevern,
        Barnevernvakt,
        Police,
        Slt,
        Nav,
        Konfliktraad,
        Municipal,
        /// A multi-agency risk conference on violence in close relationships (MARAC-style),
        /// as a group.
        Risikokonferanse,
        // Sweden
        Forskola,
        Skola,
        Elevhalsa,
        ElevhalsaMedicinsk,
        Socialtjanst,
        Polis,
        Fritid,
        Trygghet,
        SspfSamordnare,
        Sig,
        // Denmark
        Dagtilbud,
        Skole,
        Kommune,
        Politi,
        Ssp,
        /// Regional psychiatry (a PSP participant).
        Psykiatri,
        /// The prison and probation service, Kriminalforsorgen (a KSP participant).
        Kriminalforsorg,
        /// The PSP cooperation (police, social services, psychiatry), as a group.
        Psp,
        /// The KSP cooperation (prison and probation service, municipality, police), as a group.
        Ksp,
        /// The local Infohus (municipality and police on radicalisation), as a group.
        Infohus,
    }
}

impl AgencyType {
    /// The country whose agencies are of this type.
    pub fn country(self) -> Country {
        use AgencyType::*;
        match self {
            School | Kindergarten | SchoolHealth | Health | Barnevern | Barnevernvakt | Police
            | Slt | Nav | Konfliktraad | Municipal | Risikokonferanse => Country::NO,
            Forskola | Skola | Elevhalsa | ElevhalsaMedicinsk | Socialtjanst | Polis | Fritid
            | Trygghet | SspfSamordnare | Sig => Country::SE,
            Dagtilbud | Skole | Kommune | Politi | Ssp | Psykiatri | Kriminalforsorg | Psp
            | Ksp | Infohus => Country::DK,
        }
    }
}

/// An agency id as used in tokens (`org`) and envelopes (`recipient`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct AgencyId(pub String);

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::named! {
    /// How a message reaches its recipient: the transport, which names the adapter that
    /// carries it and its queues. Who receives (barnevern, the police contact, an SSPF
    /// coordinator) is the agency's type; in what format, the message kind's renderer.
    #[strum(serialize_all = "snake_case")]
    pub enum Transport {
        /// Into an AMQP receiving queue that the agency's case system consumes, with receipts
        /// back.
        Queue,
        /// POSTed to the agency's HTTPS inbox (`schemas/inbox.openapi.yaml`).
        Inbox,
        /// Sent over KS Fiks IO to the agency's Fiks IO account, answered by its replies.
        FiksIo,
    }
}

impl Transport {
    /// Every transport; each has its own work queue.
    pub const ALL: [Transport; 3] = [Self::Queue, Self::Inbox, Self::FiksIo];

    /// The transport a routing key (`<transport>.<recipient>`) leads to.
    pub fn of_routing_key(key: &str) -> Option<Self> {
        let name = key.split('.').next()?;
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The transport's name in queue names, routing keys and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Inbox => "inbox",
            Self::FiksIo => "fiks_io",
        }
    }
}

/// How an agency receives messages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "transport", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delivery {
    /// Into an AMQP queue that the agency's case system consumes; urgent messages outside
    /// office hours to the on-call service (an agency of its own). Receipts come back from
    /// `broker_user`, the account of the agency that received the message.
    Queue {
        receiving_queue: String,
        /// The broker account the agency's case system uses (receipts are checked against it).
        #[serde(default)]
        broker_user: Option<String>,
        /// The agency id of the agency's on-call service (e.g. a barnevernvakt).
        #[serde(default)]
        on_call: Option<AgencyId>,
        /// When the agency itself is open; urgent messages outside go on call.
        #[serde(default)]
        office_hours: Option<OfficeHours>,
    },
    /// POSTed to the agency's HTTPS inbox.
    Inbox {
        inbox_url: String,
        /// How to get a bearer token; none: the inbox takes unauthenticated requests
        /// (development only).
        #[serde(default)]
        credentials: Option<ClientCredentials>,
        /// The certificate the adapter shows the inbox, if it asks for one (mutual TLS).
        #[serde(default)]
        client_certificate: Option<ClientCertificate>,
    },
    /// Sent over KS Fiks IO (`docs/delivery.md`): to the agency's account (`account`, or the
    /// one the Fiks catalogue names for `organisation_number` and the message's protocol),
    /// from ours, encrypted to the account's certificate from the catalogue.
    FiksIo(Box<FiksIo>),
}

/// An agency reached over KS Fiks IO.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FiksIo {
    /// The Fiks API's base URL (`https://api.fiks.ks.no`): sending is at
    /// `/fiks-io/api/v1/send`, the catalogue at `/fiks-io/katalog/api/v1`.
    pub api_url: String,
    /// The agency's Fiks IO account.
    #[serde(default)]
    pub account: Option<uuid::Uuid>,
    /// Instead, the agency's organisation number: its account is looked up in the catalogue.
    #[serde(default)]
    pub organisation_number: Option<String>,
    /// Our own Fiks IO account, the sender, whose queue the answers come to.
    pub sender_account: uuid::Uuid,
    /// Fiks IO's AMQP service, where our account's answers are read
    /// (`amqps://io.fiks.ks.no:5671`; KS's test environment `amqps://io.fiks.test.ks.no:5671`),
    /// as the integration: user its id, password its password and a token, space-separated.
    pub amqp_url: String,
    /// Our Fiks integration.
    pub integration_id: uuid::Uuid,
    /// The environment variable holding the integration's password.
    pub integration_password_env: String,
    /// How to get a Maskinporten token for the Fiks scope (`assertion`).
    pub credentials: ClientCredentials,
}

/// A client certificate for an agency's inbox: PEM files of the chain and its key, on the
/// adapters' machine.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificate {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl Delivery {
    /// The transport of this delivery.
    pub fn transport(&self) -> Transport {
        match self {
            Self::Queue { .. } => Transport::Queue,
            Self::Inbox { .. } => Transport::Inbox,
            Self::FiksIo(_) => Transport::FiksIo,
        }
    }
}

/// How an adapter gets a bearer token for an agency's inbox at a token endpoint, by one of
/// two grants: the OAuth 2.0 client-credentials grant (`client_secret_env`: the secret is
/// never in the directory, it is read from the environment variable named here), or the
/// JWT-bearer grant of RFC 7523 as Maskinporten takes it (`assertion`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub assertion: Option<Assertion>,
}

/// The JWT-bearer grant (RFC 7523): a short-lived JWT signed (RS256) with the key of the
/// sender's business certificate, the certificate chain in its `x5c` header, as
/// Maskinporten requires; PEM files on the adapters' machine.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// The authorisation server's issuer identifier (Maskinporten: `https://maskinporten.no/`).
    pub audience: String,
    /// The scopes asked for, space-separated.
    pub scope: String,
    /// The certificate chain, leaf first (PEM).
    pub certificate: PathBuf,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1).
    pub key: PathBuf,
}

/// Opening hours of a service, in its local time (an IANA time zone, daylight saving
/// applied).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHours {
    /// ISO weekdays it is open, 1 = Monday.
    pub weekdays: Vec<u8>,
    /// `HH:MM`, local.
    pub open: String,
    /// `HH:MM`, local.
    pub close: String,
    /// The IANA time zone, e.g. `Europe/Oslo`.
    pub time_zone: String,
}

impl OfficeHours {
    /// Whether the service is open at `at` (closed if the time zone is unknown: the
    /// directory is checked for that at load).
    pub fn open_at(&self, at: time::OffsetDateTime) -> bool {
        let Ok(zone) = jiff::tz::TimeZone::get(&self.time_zone) else {
            return false;
        };
        let Ok(instant) = jiff::Timestamp::from_second(at.unix_timestamp()) else {
            return false;
        };
        let local = instant.to_zoned(zone);
        let minutes = |hhmm: &str| -> Option<u16> {
            let (h, m) = hhmm.split_once(':')?;
            Some(h.parse::<u16>().ok()? * 60 + m.parse::<u16>().ok()?)
        };
        let now = local.hour() as u16 * 60 + local.minute() as u16;
        let weekday = local.weekday().to_monday_one_offset() as u8;
        self.weekdays.contains(&weekday)
            && minutes(&self.open).is_some_and(|o| o <= now)
            && minutes(&self.close).is_some_and(|c| now < c)
    }
}

/// One agency of the directory.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    pub country: Country,
    #[serde(rename = "type")]
    pub agency_type: AgencyType,
    pub orgnr: String,
    pub municipality: String,
    /// A group of agencies (a SIG, an SSP or SSPF forum) rather than one agency.
    #[serde(default)]
    pub group: bool,
    /// For a group: the agencies taking part in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<AgencyId>,
    /// Absent for agencies that only send.
    pub delivery: Option<Delivery>,
    /// The agency's public key (a JWK for ECDH-ES on P-256 or X25519), if it takes its
    /// messages sealed end to end; the gateway checks it when it loads the directory.
    #[serde(default)]
    pub public_key: Option<serde_json::Value>,
}

/// All agencies, by id.
#[derive(Debug, Clone)]
pub struct Directory {
    agencies: HashMap<AgencyId, Agency>,
}

/// A directory file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read agency directory {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("agency directory {path} is invalid: {source}")]
    Invalid {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("agency directory {path} lists agency {id} twice")]
    Duplicate { path: PathBuf, id: AgencyId },
    #[error("agency directory {path}: agency {id} is of a type of another country than its own")]
    ForeignType { path: PathBuf, id: AgencyId },
    #[error(
        "agency directory {path}: agency {id}'s on-call service is not an agency of the directory with a receiving queue"
    )]
    OnCall { path: PathBuf, id: AgencyId },
    #[error(
        "agency directory {path}: group {id} names a member that is not an agency of the directory"
    )]
    Member { path: PathBuf, id: AgencyId },
    #[error("agency directory {path}: agency {id}'s office hours name an unknown time zone")]
    TimeZone { path: PathBuf, id: AgencyId },
    #[error(
        "agency directory {path}: agency {id}'s credentials name neither or both of client_secret_env and assertion"
    )]
    Grant { path: PathBuf, id: AgencyId },
    #[error(
        "agency directory {path}: agency {id}'s Fiks IO delivery must name either its account or its organisation number"
    )]
    FiksAccount { path: PathBuf, id: AgencyId },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    agency: Vec<Agency>,
}

impl Directory {
    /// Loads and checks a directory file.
    pub fn load(path: &Path) -> Result<Self, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Read {
            path: path.into(),
            source,
        })?;
        let file: DirectoryFile =
            toml::from_str(&text).map_err(|source| DirectoryError::Invalid {
                path: path.into(),
                source: Box::new(source),
            })?;
        let mut agencies = HashMap::new();
        for agency in file.agency {
            let id = agency.id.clone();
            if agency.agency_type.country() != agency.country {
                return Err(DirectoryError::ForeignType {
                    path: path.into(),
                    id,
                });
            }
            if agencies.insert(id.clone(), agency).is_some() {
                return Err(DirectoryError::Duplicate {
                    path: path.into(),
                    id,
                });
            }
        }
        let directory = Self { agencies };
        for agency in directory.agencies.values() {
            if agency
                .members
                .iter()
                .any(|m| !directory.agencies.contains_key(m))
            {
                let (path, id) = (path.to_path_buf(), agency.id.clone());
                return Err(DirectoryError::Member { path, id });
            }
            let error = |id: &AgencyId| (path.to_path_buf(), id.clone());
            let credentials = match &agency.delivery {
                Some(Delivery::Inbox {
                    credentials: Some(c),
                    ..
                }) => Some(c),
                Some(Delivery::FiksIo(fiks)) => Some(&fiks.credentials),
                _ => None,
            };
            if credentials.is_some_and(|c| c.client_secret_env.is_some() == c.assertion.is_some()) {
                let (path, id) = error(&agency.id);
                return Err(DirectoryError::Grant { path, id });
            }
            if let Some(Delivery::FiksIo(fiks)) = &agency.delivery
                && fiks.account.is_some() == fiks.organisation_number.is_some()
            {
                let (path, id) = error(&agency.id);
                return Err(DirectoryError::FiksAccount { path, id });
            }
            let Some(Delivery::Queue {
                on_call,
                office_hours,
                ..
            }) = &agency.delivery
            else {
                continue;
            };
            if let Some(on_call) = on_call
                && directory.on_call_of(on_call).is_none()
            {
                let (path, id) = error(&agency.id);
                return Err(DirectoryError::OnCall { path, id });
            }
            if office_hours
                .as_ref()
                .is_some_and(|h| jiff::tz::TimeZone::get(&h.time_zone).is_err())
            {
                let (path, id) = error(&agency.id);
                return Err(DirectoryError::TimeZone { path, id });
            }
        }
        Ok(directory)
    }

    /// The on-call service `id` names, if it is an agency with a receiving queue: the
    /// agency and its queue.
    pub fn on_call_of(&self, id: &AgencyId) -> Option<(&Agency, &str)> {
        let agency = self.agencies.get(id)?;
        match &agency.delivery {
            Some(Delivery::Queue {
                receiving_queue, ..
            }) => Some((agency, receiving_queue.as_str())),
            _ => None,
        }
    }

    /// Every agency.
    pub fn agencies(&self) -> impl Iterator<Item = &Agency> {
        self.agencies.values()
    }

    /// The agency with id `id`.
    pub fn get(&self, id: &str) -> Option<&Agency> {
        self.agencies.get(&AgencyId(id.to_string()))
    }

    /// The agency whose case system uses `broker_user`.
    pub fn by_broker_user(&self, broker_user: &str) -> Option<&Agency> {
        self.agencies.values().find(|a| {
            matches!(&a.delivery, Some(Delivery::Queue { broker_user: Some(u), .. }) if u == broker_user)
        })
    }

    /// The AMQP receiving queues (directory names) of every agency that has one, sorted.
    pub fn receiving_queues(&self) -> Vec<String> {
        let mut queues: Vec<String> = self
            .agencies
            .values()
            .filter_map(|a| match &a.delivery {
                Some(Delivery::Queue {
                    receiving_queue, ..
                }) => Some(receiving_queue.clone()),
                _ => None,
            })
            .collect();
        queues.sort();
        queues.dedup();
        queues
    }
}

#[cfg(test)]
mod tests {
    use super::{Directory, DirectoryError, OfficeHours};
    use time::macros::datetime;

    #[test]
    fn inbox_credentials_name_exactly_one_grant() {
        let dir = std::env::temp_dir().join(format!("directory-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let load = |grant: &str| {
            let path = dir.join("directory.toml");
            let agency = format!(
                r#"[[agency]]
id = "no-oslo-politikontakt"
name = "Politikontakt Oslo"
type = "police"
country = "NO"
orgnr = "974590003"
municipality = "0301"
delivery = {{ transport = "inbox", inbox_url = "https://inbox.test.invalid/", credentials = {{ token_url = "https://token.test.invalid/", client_id = "gateway"{grant} }} }}
"#
            );
            std::fs::write(&path, agency).unwrap();
            Directory::load(&path)
        };
        let assertion = r#", assertion = { audience = "https://maskinporten.no/", scope = "s:t", certificate = "c.pem", key = "k.pem" }"#;
        let secret = load(r#", client_secret_env = "SECRET""#);
        assert!(secret.is_ok(), "{secret:?}");
        assert!(load(assertion).is_ok());
        for wrong in ["", &format!(r#", client_secret_env = "SECRET"{assertion}"#)] {
            assert!(matches!(load(wrong), Err(DirectoryError::Grant { .. })));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn office_hours_follow_local_time_with_daylight_saving() {
        let oslo = OfficeHours {
            weekdays: vec![1, 2, 3, 4, 5],
            open: "08:00".into(),
            close: "15:30".into(),
            time_zone: "Europe/Oslo".into(),
        };
        // Monday in winter (UTC+1): 07:30 UTC is 08:30 in Oslo.
        assert!(oslo.open_at(datetime!(2026-01-05 07:30 UTC)));
        assert!(!oslo.open_at(datetime!(2026-01-05 06:30 UTC)));
        // Monday in summer (UTC+2): 06:30 UTC is 08:30 in Oslo; 14:00 UTC is 16:00.
        assert!(oslo.open_at(datetime!(2026-06-01 06:30 UTC)));
        assert!(!oslo.open_at(datetime!(2026-06-01 14:00 UTC)));
        assert!(oslo.open_at(datetime!(2026-06-01 13:00 UTC)));
        // Saturday, and the night the clocks go forward.
        assert!(!oslo.open_at(datetime!(2026-06-06 09:00 UTC)));
        assert!(!oslo.open_at(datetime!(2026-03-29 01:30 UTC)));
        let nowhere = OfficeHours {
            time_zone: "Europe/Nowhere".into(),
            ..oslo
        };
        assert!(!nowhere.open_at(datetime!(2026-01-05 07:30 UTC)));
    }
}
