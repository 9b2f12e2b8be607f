//! The link to the broker at start-up: at every connection the queues' settings as
//! policies (when the management API is configured), then the routing topology.

use super::StartError;
use crate::config::Config;
use contract::directory::Directory;
use contract::plumbing::broker::BrokerLink;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The gateway's link to the broker, kept until `cancel`.
pub fn link(
    config: &Config,
    directory: &Directory,
    cancel: &CancellationToken,
) -> Result<Arc<BrokerLink>, StartError> {
    let topology = config.broker.topology();
    // The queues' settings, as policies, before the queues (at every connection: an operator
    // may have changed them; the gateway's are the configured ones).
    let policies = config.broker.management().transpose()?.map(|management| {
        let policies = topology.policies(&directory.receiving_queues());
        (management, Arc::new(policies))
    });
    Ok(BrokerLink::spawn(
        config.broker.endpoint()?,
        "referral-gateway".into(),
        move |channel| {
            let (topology, policies) = (topology.clone(), policies.clone());
            async move {
                if let Some((management, policies)) = policies {
                    management.apply(&policies).await.map_err(|error| {
                        lapin::Error::from(std::io::Error::other(error.to_string()))
                    })?;
                }
                topology.declare_routing(&channel).await
            }
        },
        cancel.clone(),
    ))
}
