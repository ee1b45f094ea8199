//! The webhook-endpoints routes (outbound churn events): parse, call
//! `app::outbound::endpoints`, map. Pro plan, like every churn-engine route.

use crate::app::outbound::endpoints::{self as uc, Fresh, Registration};
use crate::domain::region::Region;
use crate::http::Settings;
use crate::http::auth::{Gate, Identity};
use crate::http::error::{ApiError, json_response, ok};
use crate::http::router::{Reply, Routes, method_not_allowed};
use crate::ports::clock::Clock;
use crate::ports::keys::Sealer;
use crate::ports::outbound::{
    Delivery, Endpoint, EndpointId, EndpointStore, EventType, OutboxStore, Sender,
};
use futures::future::BoxFuture;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest registration body.
pub const MAX_ENDPOINT_BODY_BYTES: usize = 8 * 1024;

/// Deliveries listed by default, and at most.
const DELIVERIES_DEFAULT: u16 = 50;
const DELIVERIES_MAX: u16 = 100;

/// The outbound routes: the table, the sealer of endpoint secrets, the guarded sender.
pub struct OutboundRoutes<S, K, H> {
    /// The table.
    pub store: S,
    /// Seals endpoint secrets.
    pub sealer: K,
    /// Checks endpoint URLs (the SSRF guard).
    pub sender: H,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings (the served region).
    pub settings: Settings,
}

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/webhook-endpoints"),
    ("GET", "/api/v1/webhook-endpoints"),
    ("DELETE", "/api/v1/webhook-endpoints/{id}"),
    ("GET", "/api/v1/webhook-endpoints/{id}/deliveries"),
    (
        "POST",
        "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    url: String,
    events: Vec<String>,
}

fn endpoint_id(raw: &str) -> Result<EndpointId, ApiError> {
    EndpointId::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn endpoint_json(e: &Endpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "created": e.created_at.unix(),
    })
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "type": d.event_type,
        "profile_id": d.profile_id,
        "status": d.status,
        "attempts": d.attempts.iter().map(|a| json!({
            "at": a.at.unix(),
            "status": a.status,
            "error": a.error,
        })).collect::<Vec<_>>(),
        "next_attempt_at": (d.status == crate::ports::outbound::DeliveryStatus::Pending).then_some(d.next_at.unix()),
        "created": d.created.unix(),
    })
}

fn parse_registration(body: &[u8]) -> Result<Registration, ApiError> {
    if body.len() > MAX_ENDPOINT_BODY_BYTES {
        return Err(ApiError::too_large(format!(
            "a webhook endpoint body is at most {MAX_ENDPOINT_BODY_BYTES} bytes"
        )));
    }
    let b: RegisterBody = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "the body must be a JSON object {\"url\": string, \"events\": [event type, …]}",
        )
    })?;
    let events = b
        .events
        .iter()
        .map(|e| {
            EventType::parse(e).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown event type: expected one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Registration { url: b.url, events })
}

/// A fresh endpoint id and signing secret from the OS RNG.
fn fresh() -> Result<Fresh, ApiError> {
    let random = || {
        crate::adapters::kms::random_secret().map_err(|e| {
            tracing::error!(error = %e, "no randomness for a webhook endpoint");
            ApiError::unavailable()
        })
    };
    let id_hex = random()?;
    let secret_hex = random()?;
    Ok(Fresh {
        id: EndpointId::parse(format!("we_{}", &id_hex.expose()[..24]))
            .map_err(|_| ApiError::unavailable())?,
        secret: crate::domain::secret::Secret::new(format!("whsec_{}", secret_hex.expose())),
    })
}

impl<S, K, H> OutboundRoutes<S, K, H>
where
    S: EndpointStore + OutboxStore,
    K: Sealer,
    H: Sender,
{
    fn caller(&self, req: &Request) -> Result<Identity, ApiError> {
        Ok(Identity::authorize(req, self.region(), Gate::Pro)?)
    }

    fn region(&self) -> Region {
        self.settings.region
    }

    async fn register(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        let reg = parse_registration(req.body().as_ref())?;
        let (endpoint, secret) = uc::register(
            &self.store,
            &self.sealer,
            &self.sender,
            self.clock.now(),
            &who.workspace_id,
            reg,
            fresh()?,
        )
        .await?;
        let mut body = endpoint_json(&endpoint);
        // The only time the secret leaves: the caller stores it to verify our signatures.
        body["secret"] = json!(secret.expose());
        Ok(json_response(201, &body))
    }

    async fn list(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        let all = uc::list(&self.store, &who.workspace_id).await?;
        Ok(ok(
            &json!({"data": all.iter().map(endpoint_json).collect::<Vec<_>>()}),
        ))
    }

    async fn delete(&self, req: &Request, id: &str) -> Reply {
        let who = self.caller(req)?;
        let id = endpoint_id(id)?;
        uc::delete(&self.store, &who.workspace_id, &id).await?;
        Ok(ok(&json!({"id": id, "deleted": true})))
    }

    async fn deliveries(&self, req: &Request, id: &str) -> Reply {
        let who = self.caller(req)?;
        let id = endpoint_id(id)?;
        let limit = match req.query_string_parameters().first("limit") {
            None => Some(DELIVERIES_DEFAULT),
            Some(l) => l
                .parse::<u16>()
                .ok()
                .filter(|l| (1..=DELIVERIES_MAX).contains(l)),
        }
        .ok_or_else(|| {
            ApiError::bad_request(format!("limit must be between 1 and {DELIVERIES_MAX}"))
        })?;
        let list = uc::deliveries(&self.store, &who.workspace_id, &id, limit).await?;
        Ok(ok(
            &json!({"data": list.iter().map(delivery_json).collect::<Vec<_>>()}),
        ))
    }

    async fn replay(&self, req: &Request, id: &str, delivery: &str) -> Reply {
        let who = self.caller(req)?;
        let id = endpoint_id(id)?;
        if !uc::is_delivery_id(delivery) {
            return Err(ApiError::bad_request(
                "a delivery id is `dlv_` followed by letters and digits",
            ));
        }
        let d = uc::replay(
            &self.store,
            &who.workspace_id,
            &id,
            delivery,
            self.clock.now(),
        )
        .await?;
        Ok(json_response(202, &delivery_json(&d)))
    }
}

impl<S, K, H> Routes for OutboundRoutes<S, K, H>
where
    S: EndpointStore + OutboxStore + 'static,
    K: Sealer + 'static,
    H: Sender + 'static,
{
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>> {
        let method = req.method().as_str();
        let reply: BoxFuture<'a, Reply> = match path {
            ["api", "v1", "webhook-endpoints"] => match method {
                "POST" => Box::pin(self.register(req)),
                "GET" => Box::pin(self.list(req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "webhook-endpoints", id] => match method {
                "DELETE" => Box::pin(self.delete(req, id)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "webhook-endpoints", id, "deliveries"] => match method {
                "GET" => Box::pin(self.deliveries(req, id)),
                _ => return method_not_allowed(req),
            },
            [
                "api",
                "v1",
                "webhook-endpoints",
                id,
                "deliveries",
                delivery,
                "replay",
            ] => match method {
                "POST" => Box::pin(self.replay(req, id, delivery)),
                _ => return method_not_allowed(req),
            },
            _ => return None,
        };
        Some(reply)
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
}
