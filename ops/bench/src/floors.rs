//! The floors: intakes that do less than the gateway, served and loaded the same way, so
//! that the benchmark shows where the gateway's time goes and how far any intake gets on
//! the machine it runs on. [`Floor::Publish`] answers 202 once the broker confirmed the body
//! (HTTP and the confirm, nothing else); [`Floor::Store`] also records it in the gateway's
//! own store first, as the gateway does (sealed at rest, group commit, the queued mark in
//! the next batch), with none of the token check, contract, decision or rendering.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use contract::directory::AgencyId;
use contract::message::{Kind, MessageId};
use contract::plumbing::broker::publish_confirmed;
use gateway::keys::KeyRing;
use gateway::record::{NewMessage, Recorded, Store, gateway_id};
use lapin::{BasicProperties, Channel};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a floor does for each body.
#[derive(Debug, Clone, Copy)]
pub enum Floor {
    /// Publish it with a confirm.
    Publish,
    /// Record it in the store, publish it with a confirm, mark it queued.
    Store,
}

impl Floor {
    /// The floor's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Publish => "http+publish",
            Self::Store => "http+store+publish",
        }
    }
}

/// What the floors' handler holds.
struct Served {
    channel: Channel,
    exchange: String,
    /// The store and keys of [`Floor::Store`].
    store: Option<(Arc<dyn Store>, KeyRing)>,
}

/// The route every body is published to (barnevern Oslo's, as the gateway routes the
/// bench's bodies).
const ROUTING_KEY: &str = "queue.no-oslo-barnevern";

/// Serves a floor on a port of its own until the process ends: [`Floor::Store`] given a
/// `store` to record in, [`Floor::Publish`] given none; each publishing to `exchange` on
/// `channel`. Its address.
pub async fn serve(
    channel: Channel,
    exchange: String,
    store: Option<Arc<dyn Store>>,
) -> anyhow::Result<SocketAddr> {
    let served = Arc::new(Served {
        channel,
        exchange,
        store: store.map(|store| (store, KeyRing::generate(None))),
    });
    let app = Router::new()
        .route("/v1/messages", post(take))
        .with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// One body: 202 once recorded (if the floor records) and confirmed.
async fn take(State(served): State<Arc<Served>>, body: Bytes) -> StatusCode {
    let recorded = match &served.store {
        None => None,
        Some((store, keys)) => match record(store.as_ref(), keys, &body).await {
            Some(id) => Some((store, id)),
            None => return StatusCode::SERVICE_UNAVAILABLE,
        },
    };
    if !publish(&served.channel, &served.exchange, &body).await {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if let Some((store, id)) = recorded
        && store.mark_queued_soon(&id).await.is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::ACCEPTED
}

/// Publishes `body` persistent to `exchange` on `channel` as the gateway routes the bench's
/// bodies; whether the broker confirmed it within five seconds.
pub async fn publish(channel: &Channel, exchange: &str, body: &[u8]) -> bool {
    let properties = BasicProperties::default().with_delivery_mode(2);
    let timeout = Duration::from_secs(5);
    publish_confirmed(channel, exchange, ROUTING_KEY, body, properties, timeout)
        .await
        .is_ok()
}

/// Records `body` as a new message from Hasle skole to barnevern Oslo; its id, if new.
async fn record(store: &dyn Store, keys: &KeyRing, body: &[u8]) -> Option<MessageId> {
    let sender = AgencyId("no-oslo-hasle-skole".into());
    let client_id = MessageId(uuid::Uuid::new_v4());
    let id = gateway_id(&sender, &client_id);
    let new = NewMessage {
        id,
        client_id,
        sender,
        supplier: None,
        recipient: AgencyId("no-oslo-barnevern".into()),
        kind: Kind::NoBekymringsmelding,
        legal_basis: "no.bvl2021.13-2".into(),
        body_hash: hex::encode(Sha256::digest(body)),
        routing_key: ROUTING_KEY.into(),
        routed: keys.lock(body, id.to_string().as_bytes()),
        consent_ref: None,
        subject_hashes: Vec::new(),
        trace_id: None,
    };
    let lease_until = time::OffsetDateTime::now_utc() + Duration::from_secs(10);
    match store.record(&new, lease_until).await {
        Ok(Recorded::New) => Some(id),
        _ => None,
    }
}
