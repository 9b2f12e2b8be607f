//! The broker link: the supervised connection, the consume loop, confirmed publishing
//! (publisher confirms, `mandatory`, returns are failures), and the operators' management
//! API and migration. The names it declares are [`crate::topology`].

mod consume;
mod endpoint;
mod link;
pub mod management;
pub mod migrate;
mod oneshot;

pub use consume::{consume, until_done};
pub use endpoint::{BrokerTls, Endpoint, TlsFileError};
pub use link::{BrokerLink, EndpointError, SETUP_TIMEOUT, connection_properties, within};
pub use management::{Management, ManagementError, vhost_of};
pub use migrate::{MigrateError, Migrated, migrate};
pub use oneshot::{confirming, put_back, take};

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Confirmation};
use std::time::Duration;

/// Why the broker did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("no connection to the broker")]
    Unavailable,
    #[error("broker channel failed: {0}")]
    Channel(#[from] lapin::Error),
    #[error("broker did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("broker returned the message as unroutable")]
    Returned,
    #[error("broker refused the message (nack)")]
    Nacked,
}

/// Publishes `body` as mandatory on a confirming channel and waits at most `timeout` for
/// the confirm; `Ok` only for an ack of a routed (not returned) message.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
    timeout: Duration,
) -> Result<(), PublishError> {
    let confirm = async {
        channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await?
            .await
    };
    match tokio::time::timeout(timeout, confirm).await {
        Err(_) => Err(PublishError::Timeout(timeout)),
        Ok(Err(e)) => Err(PublishError::Channel(e)),
        Ok(Ok(Confirmation::Ack(None))) => Ok(()),
        Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Returned),
        Ok(Ok(Confirmation::Nack(_) | Confirmation::NotRequested)) => Err(PublishError::Nacked),
    }
}
