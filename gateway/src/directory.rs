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

/// Agency types: the vocabulary of the legal-basis catalog (domain.md § 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
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
    // Sweden
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
    Skole,
    Kommune,
    Politi,
    Ssp,
}

/// An agency id as used in tokens (`org`) and envelopes (`recipient`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct AgencyId(pub String);

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The adapter that delivers to an agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    Barnevern,
    Politikontakt,
    Sspf,
}

impl AdapterKind {
    /// Every adapter; each has its own work queue.
    pub const ALL: [AdapterKind; 3] = [Self::Barnevern, Self::Politikontakt, Self::Sspf];

    /// The adapter's name in queue names and routing keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Barnevern => "barnevern",
            Self::Politikontakt => "politikontakt",
            Self::Sspf => "sspf",
        }
    }
}

/// How an agency receives messages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "adapter", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delivery {
    /// Into an AMQP queue that the agency's case system consumes.
    Barnevern { receiving_queue: String },
    /// POSTed to the police contact's HTTPS inbox.
    Politikontakt { inbox_url: String },
    /// POSTed to the SSPF/SIG coordinator's inbox.
    Sspf { inbox_url: String },
}

impl Delivery {
    /// The adapter this delivery goes through.
    pub fn adapter(&self) -> AdapterKind {
        match self {
            Self::Barnevern { .. } => AdapterKind::Barnevern,
            Self::Politikontakt { .. } => AdapterKind::Politikontakt,
            Self::Sspf { .. } => AdapterKind::Sspf,
        }
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
    /// Absent for agencies that only send.
    pub delivery: Option<Delivery>,
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
            if agencies.insert(id.clone(), agency).is_some() {
                return Err(DirectoryError::Duplicate {
                    path: path.into(),
                    id,
                });
            }
        }
        Ok(Self { agencies })
    }

    /// The agency with this id.
    pub fn get(&self, id: &str) -> Option<&Agency> {
        self.agencies.get(&AgencyId(id.to_string()))
    }

    /// The AMQP receiving queues (directory names) of every barnevern service, sorted.
    pub fn receiving_queues(&self) -> Vec<String> {
        let mut queues: Vec<String> = self
            .agencies
            .values()
            .filter_map(|a| match &a.delivery {
                Some(Delivery::Barnevern { receiving_queue }) => Some(receiving_queue.clone()),
                _ => None,
            })
            .collect();
        queues.sort();
        queues
    }
}
