//! The API's use cases, each answering in domain outcomes the API translates into HTTP:
//! the path of a message ([`Intake`]) and the consent registry ([`Consents`]), over the
//! parts they and the read-only handlers share ([`Shared`]).

mod consents;
mod messages;

pub use consents::{ConsentError, Consents, Withdrawn};
pub use messages::{Assessed, Intake, IntakeError, Outcome};

use crate::catalog::Catalog;
use crate::consent::SubjectKey;
use crate::metrics::Metrics;
use crate::record::Store;
use contract::directory::Directory;
use contract::plumbing::clock::Clock;
use std::sync::Arc;

/// The parts every use case and handler reads: the store, the clock, the catalog, the
/// directory, the subject-hash key and the metrics.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<Clock>,
    pub catalog: Arc<Catalog>,
    pub directory: Arc<Directory>,
    pub subject_key: SubjectKey,
    pub metrics: Arc<Metrics>,
}
