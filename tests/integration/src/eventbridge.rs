//! Stripe's Amazon EventBridge deliveries as AWS sends them, and the events ingress
//! over a webhook [`Bench`]'s table, so one test can feed both ingresses.

use crate::webhook::Bench;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::PlatformSources;
use kustiq::events_ingress::{EventSourceName, StripeEvents};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

/// The partner event source the tests' deployment accepts.
pub const SOURCE: &str = "aws.partner/stripe.com/ed_test_61RkUVGS0Iib8wNqU16RkT";

/// EventBridge's envelope around Stripe `event`, from `source`, as a rule target
/// receives it: `detail-type` is the event type, `time` its creation.
pub fn envelope(event: &Value, source: &str) -> Value {
    static N: AtomicU32 = AtomicU32::new(0);
    let created = event["created"].as_i64().unwrap_or(0);
    let time = chrono::DateTime::from_timestamp(created, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    json!({
        "version": "0",
        "id": format!("5f6b0e8c-2f3a-4d0e-9c1b-{:012x}", N.fetch_add(1, Ordering::Relaxed)),
        "detail-type": event["type"],
        "source": source,
        "account": "123456789012",
        "time": time,
        "region": "eu-central-1",
        "resources": [],
        "detail": event,
    })
}

/// The events function's handler over `bench`'s table, reading nothing from Stripe
/// (like a bench without `with_stripe`).
pub fn ingress(bench: &Bench) -> StripeEvents<DynamoStore, Option<PlatformSources<Secrets>>> {
    StripeEvents {
        store: bench.store.clone(),
        sources: None,
        engine: bench.settings.engine.clone(),
        source: EventSourceName::parse(SOURCE).unwrap_or_else(|e| panic!("{e}")),
    }
}
