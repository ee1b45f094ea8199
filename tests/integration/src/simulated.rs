//! Realistic Stripe events for the webhook tests: one simulated account's
//! engine events, the customers they name and the time they imply.

use crate::webhook::{engine_types, is_engine_event};
use kustiq::domain::ids::{StripeCustomerId, StripeEventId};
use kustiq::domain::time::Timestamp;
use serde_json::Value;
use std::collections::BTreeSet;
use stripe_sim::{SimConfig, Simulator};

/// A simulated account with 60 days of activity.
pub struct Simulated {
    /// The simulator (kept alive for the account's objects).
    pub sim: Simulator,
    /// The account's id.
    pub account: String,
    /// Its events of the types the engine reads, oldest first.
    pub events: Vec<Value>,
}

/// An `invoice.payment_failed` event with its customer and id.
pub struct PaymentFailure {
    /// The event JSON.
    pub event: Value,
    /// The customer it names.
    pub customer: StripeCustomerId,
    /// Its id.
    pub id: StripeEventId,
}

impl Simulated {
    /// `customers` customers from `seed`, 60 days on, every engine type present at least once.
    pub async fn new(customers: usize, seed: u64) -> Self {
        let sim = Simulator::new(SimConfig {
            seed,
            customers,
            years: 1,
            accounts: 1,
            ..SimConfig::default()
        });
        sim.advance_days(60).await;
        let account = sim
            .accounts()
            .first()
            .map(|a| a.id.clone())
            .unwrap_or_default();
        let seen: BTreeSet<String> = sim
            .events(&account)
            .iter()
            .filter_map(|e| e["type"].as_str().map(str::to_owned))
            .collect();
        let customers = sim.customers(&account);
        for t in engine_types().iter().filter(|t| !seen.contains(*t)) {
            for c in &customers {
                let id = c["id"].as_str().unwrap_or_default();
                if sim.emit(&account, t, id).await.is_ok() {
                    break;
                }
            }
        }
        // Only the types the engine reads: the rest are acknowledged and
        // ignored (a test of its own).
        let events = sim
            .events(&account)
            .into_iter()
            .filter(is_engine_event)
            .collect();
        Self {
            sim,
            account,
            events,
        }
    }

    /// Every customer an event names.
    pub fn customers(&self) -> BTreeSet<String> {
        self.events.iter().filter_map(customer_of).collect()
    }

    /// An hour after the newest event: when the tests receive them.
    pub fn now(&self) -> Timestamp {
        let newest = self
            .events
            .iter()
            .filter_map(|e| e["created"].as_i64())
            .max()
            .unwrap_or(0);
        Timestamp::from_unix(newest + 3_600)
    }

    /// The first `invoice.payment_failed` event.
    pub fn payment_failure(&self) -> PaymentFailure {
        let event = self
            .events
            .iter()
            .find(|e| e["type"] == "invoice.payment_failed")
            .cloned()
            .unwrap_or_else(|| panic!("no failure event"));
        let customer = StripeCustomerId::parse(customer_of(&event).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let id = StripeEventId::parse(event["id"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        PaymentFailure {
            event,
            customer,
            id,
        }
    }
}

/// The customer an event is about: the object itself, or the customer it names.
pub fn customer_of(event: &Value) -> Option<String> {
    let o = &event["data"]["object"];
    match o["object"].as_str() {
        Some("customer") => o["id"].as_str().map(str::to_owned),
        _ => o["customer"].as_str().map(str::to_owned),
    }
}

/// At least `wanted` engine events of one simulated account (`seed`, `customers`),
/// oldest first: the simulator runs a month at a time until there are.
pub async fn engine_events(seed: u64, customers: usize, wanted: usize) -> (String, Vec<Value>) {
    let sim = Simulator::new(SimConfig {
        seed,
        customers,
        years: 1,
        accounts: 1,
        ..SimConfig::default()
    });
    let account = sim
        .accounts()
        .first()
        .map(|a| a.id.clone())
        .unwrap_or_else(|| panic!("the simulator made no account"));
    let mut events = Vec::new();
    for _ in 0..36 {
        sim.advance_days(30).await;
        events = sim
            .events(&account)
            .into_iter()
            .filter(is_engine_event)
            .collect();
        if events.len() >= wanted {
            break;
        }
    }
    events.sort_by_key(|e| e["created"].as_i64().unwrap_or(0));
    events.truncate(wanted);
    (account, events)
}
