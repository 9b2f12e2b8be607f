//! Control messages from the gateway: a consent was withdrawn, so the messages listed must
//! not be delivered; those already delivered get a withdrawal notice to their recipient, and
//! so do those an attempt whose outcome is unknown may have reached.

use super::{Adapter, Entry, Ledger, Outcome, Stopped};
use contract::control::Withdrawal;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions};

/// Handles every control message waiting in `queue`, before any work is taken.
pub async fn drain<A: Adapter>(
    adapter: &A,
    channel: &Channel,
    queue: &str,
    ledger: &dyn Ledger,
) -> Result<(), lapin::Error> {
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await?
    {
        handle(adapter, ledger, message.delivery).await;
    }
    Ok(())
}

/// Handles one control message; acks it once every message it lists is stopped or its
/// recipient told, and requeues it otherwise.
pub async fn handle<A: Adapter>(adapter: &A, ledger: &dyn Ledger, delivery: Delivery) {
    let done = match serde_json::from_slice::<Withdrawal>(&delivery.data) {
        Ok(w) => withdraw(adapter, ledger, &w).await,
        Err(_) => {
            tracing::warn!(
                adapter = adapter.kind().as_str(),
                "unreadable control message dropped"
            );
            true
        }
    };
    let acted = if done {
        delivery.ack(BasicAckOptions::default()).await
    } else {
        super::requeue(&delivery).await
    };
    if let Err(error) = acted {
        tracing::warn!(%error, "control message not settled; the broker will redeliver it");
    }
}

async fn withdraw<A: Adapter>(adapter: &A, ledger: &dyn Ledger, w: &Withdrawal) -> bool {
    let name = adapter.kind().as_str();
    let mut done = true;
    for id in &w.message_ids {
        // A delivery in flight may still reach the recipient: wait for its outcome (then
        // the recipient is told, or the message stopped), at most as long as its claim holds.
        let deadline = tokio::time::Instant::now() + ledger.lease();
        let mut found = ledger.withdraw(id).await;
        while matches!(found, Ok(Stopped::Not(Entry::Delivering)))
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            found = ledger.withdraw(id).await;
        }
        let tell = match found {
            Ok(Stopped::Not(Entry::Delivered { recipient })) => Some(recipient),
            Ok(Stopped::AfterUnknown) => match w.recipients.get(id) {
                Some(recipient) => Some(recipient.0.clone()),
                None => {
                    tracing::warn!(message_id = %id, adapter = name, "an attempt may have delivered it, but the notice names no recipient; not told");
                    None
                }
            },
            Ok(Stopped::Not(Entry::Delivering)) => {
                tracing::warn!(message_id = %id, adapter = name, "a delivery in flight did not end; will retry");
                done = false;
                None
            }
            Ok(_) => {
                tracing::info!(message_id = %id, consent_ref = %w.consent_ref, adapter = name, "message stopped: consent withdrawn");
                None
            }
            Err(error) => {
                tracing::warn!(message_id = %id, adapter = name, %error, "ledger failed");
                done = false;
                None
            }
        };
        if let Some(recipient) = tell {
            match adapter.notify_withdrawn(id, &recipient).await {
                Outcome::Delivered { .. } => {
                    tracing::info!(message_id = %id, consent_ref = %w.consent_ref, adapter = name, "recipient told of the withdrawal")
                }
                outcome => {
                    tracing::warn!(message_id = %id, adapter = name, ?outcome, "withdrawal notice not delivered; will retry");
                    done = false;
                }
            }
        }
    }
    done
}
