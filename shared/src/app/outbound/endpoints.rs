//! The webhook-endpoints routes' use cases: register (the secret is shown
//! once and stored sealed), list, delete, list deliveries, replay one.

use crate::app::outbound::{MAX_ENDPOINTS, OutboundError};
use crate::domain::ids::WorkspaceId;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::ports::keys::{SealContext, SealPurpose, Sealer};
use crate::ports::outbound::{
    Delivery, DeliveryStatus, Endpoint, EndpointId, EndpointStore, EventType, OutboxStore, Sender,
};
use crate::ports::store::Committed;

/// What the caller asks to register.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The URL.
    pub url: String,
    /// The event types (at least one; duplicates are dropped).
    pub events: Vec<EventType>,
}

/// Fresh values for a new endpoint, made by the caller's random source.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// The new id.
    pub id: EndpointId,
    /// The new signing secret, `whsec_…`.
    pub secret: Secret,
}

/// The sealing context of a workspace's endpoint secrets.
pub fn secret_context(ws: &WorkspaceId) -> SealContext {
    SealContext::new(ws.clone(), SealPurpose::OutboundSigningSecret)
}

/// Registers an endpoint: checks the URL (resolving its host) against the
/// target policy, seals the secret, stores it. Returns the endpoint and the
/// plaintext secret (the only time it is shown).
pub async fn register<S, K, H>(
    store: &S,
    sealer: &K,
    sender: &H,
    now: Timestamp,
    ws: &WorkspaceId,
    reg: Registration,
    fresh: Fresh,
) -> Result<(Endpoint, Secret), OutboundError>
where
    S: EndpointStore,
    K: Sealer,
    H: Sender,
{
    let mut events = reg.events;
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(OutboundError::Invalid(
            "events must name at least one event type".into(),
        ));
    }
    sender.check(&reg.url).await?;
    if store.endpoints(ws).await?.len() >= MAX_ENDPOINTS {
        return Err(OutboundError::Conflict(format!(
            "a workspace has at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let sealed = sealer.seal(&secret_context(ws), &fresh.secret).await?;
    let endpoint = Endpoint {
        id: fresh.id,
        url: reg.url,
        events,
        secret: sealed,
        created_at: now,
    };
    store.put_endpoint(ws, &endpoint).await?;
    Ok((endpoint, fresh.secret))
}

/// Every endpoint of the workspace.
pub async fn list<S: EndpointStore>(
    store: &S,
    ws: &WorkspaceId,
) -> Result<Vec<Endpoint>, OutboundError> {
    Ok(store.endpoints(ws).await?)
}

/// The workspace's endpoint `id`, or not found.
pub async fn endpoint<S: EndpointStore>(
    store: &S,
    ws: &WorkspaceId,
    id: &EndpointId,
) -> Result<Endpoint, OutboundError> {
    store
        .endpoints(ws)
        .await?
        .into_iter()
        .find(|e| &e.id == id)
        .ok_or_else(|| OutboundError::NotFound(format!("no webhook endpoint {id}")))
}

/// Deletes an endpoint; its pending deliveries fail at their next turn.
pub async fn delete<S: EndpointStore>(
    store: &S,
    ws: &WorkspaceId,
    id: &EndpointId,
) -> Result<(), OutboundError> {
    if store.delete_endpoint(ws, id).await? {
        Ok(())
    } else {
        Err(OutboundError::NotFound(format!("no webhook endpoint {id}")))
    }
}

/// An endpoint's most recent deliveries, newest first.
pub async fn deliveries<S: EndpointStore + OutboxStore>(
    store: &S,
    ws: &WorkspaceId,
    id: &EndpointId,
    limit: u16,
) -> Result<Vec<Delivery>, OutboundError> {
    endpoint(store, ws, id).await?;
    Ok(store.deliveries(ws, id, limit).await?)
}

/// Queues a delivery again (delivered or failed): it is sent at the worker's
/// next run, after the earlier pending deliveries of its profile, with a fresh
/// retry budget.
pub async fn replay<S: EndpointStore + OutboxStore>(
    store: &S,
    ws: &WorkspaceId,
    id: &EndpointId,
    delivery_id: &str,
    now: Timestamp,
) -> Result<Delivery, OutboundError> {
    endpoint(store, ws, id).await?;
    let not_found = || OutboundError::NotFound(format!("no delivery {delivery_id} on {id}"));
    if !is_delivery_id(delivery_id) {
        return Err(not_found());
    }
    let (mut d, version) = store
        .delivery(ws, id, delivery_id)
        .await?
        .ok_or_else(not_found)?;
    d.status = DeliveryStatus::Pending;
    d.tries = 0;
    d.next_at = now;
    match store.save_delivery(ws, &d, version).await? {
        Committed::Done => Ok(d),
        _ => Err(OutboundError::Conflict(
            "the delivery changed concurrently; retry".into(),
        )),
    }
}

/// Whether `raw` has the shape of a delivery id (`dlv_` + digits and hex).
pub fn is_delivery_id(raw: &str) -> bool {
    raw.strip_prefix("dlv_").is_some_and(|r| {
        !r.is_empty() && r.len() <= 64 && r.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}
