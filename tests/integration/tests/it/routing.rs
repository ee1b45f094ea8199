//! Routing a webhook to its workspace: a warm process routes from its route cache,
//! so a matched customer's event costs three store requests, and the guard every
//! commit carries keeps a cached route from writing where the account no longer is.

use kustiq::adapters::dynamo::DynamoStore;
use kustiq::domain::connection::{ConnectionStatus, Mode};
use kustiq::domain::ids::{StripeCustomerId, StripeEventId, WorkspaceId};
use kustiq::ports::connections::{ConnectionStore, GrantStore};
use kustiq_tests::counting::RequestCounter;
use kustiq_tests::simulated::{Simulated, customer_of};
use kustiq_tests::webhook::Bench;
use kustiq_tests::{Engine, TestStore};
use serde_json::Value;
use std::collections::BTreeMap;

/// Two "containers" on one table: each a store of its own, so a route cache of its own.
async fn two_processes(given: &Simulated) -> (Bench, Bench, TestStore) {
    let t = TestStore::new(Engine::DynamoDbLocal, "eu-central-1").await;
    let a = Bench::on(second(&t.store), given.now()).await;
    let b = Bench::on(second(&t.store), given.now()).await;
    (a, b, t)
}

fn second(store: &DynamoStore) -> DynamoStore {
    DynamoStore::new(store.client().clone(), store.table())
}

/// Disconnects `ws` through `process`'s store, as the disconnect function would.
async fn disconnect(process: &Bench, ws: &WorkspaceId) {
    let (mut conn, version) = process
        .store
        .connection(ws)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("connected"));
    conn.status = ConnectionStatus::Disconnected;
    process
        .store
        .disconnect(&conn, version)
        .await
        .unwrap_or_else(|e| panic!("disconnect: {e}"));
}

fn event_id(e: &Value) -> StripeEventId {
    StripeEventId::parse(e["id"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Invoice and subscription events of matched customers, oldest first: the events
/// whose cost is the hot path's (customer events also match, disputes find their
/// charge's owner first).
fn billing_events(given: &Simulated) -> Vec<&Value> {
    given
        .events
        .iter()
        .filter(|e| {
            let t = e["type"].as_str().unwrap_or_default();
            (t.starts_with("invoice.") || t.starts_with("customer.subscription."))
                && customer_of(e).is_some()
        })
        .collect()
}

#[tokio::test]
async fn a_matched_customer_s_event_costs_three_store_requests_once_its_route_is_warm() {
    let given = Simulated::new(12, 21).await;
    let t = TestStore::new(Engine::DynamoDbLocal, "eu-central-1").await;
    let counter = RequestCounter::default();
    let bench = Bench::on(counter.wrap(&t.store), given.now()).await;
    let ws = bench.connect("ws_cost", &given.account, Mode::Test).await;
    bench.match_all(&ws, &given.customers()).await;
    let events = billing_events(&given);
    assert!(events.len() > 20, "enough events: {}", events.len());

    counter.take();
    let first = bench.post_event(events[0]).await;
    first.assert_acknowledged("applied");
    let cold = counter.take();
    assert_eq!(
        cold.get("GetItem"),
        Some(&1),
        "the first event reads the route: {cold:?}"
    );

    let want = BTreeMap::from([
        ("BatchGetItem".to_owned(), 2),
        ("TransactWriteItems".to_owned(), 1),
    ]);
    for e in &events[1..] {
        let answer = bench.post_event(e).await;
        answer.assert_acknowledged("applied");
        assert_eq!(counter.take(), want, "{} {}", e["type"], e["id"]);
    }
}

#[tokio::test]
async fn a_cached_route_never_applies_an_event_after_its_account_was_disconnected() {
    let given = Simulated::new(8, 22).await;
    let (a, b, _t) = two_processes(&given).await;
    let ws = a.connect("ws_left", &given.account, Mode::Test).await;
    a.match_all(&ws, &given.customers()).await;
    let events = billing_events(&given);
    a.post_event(events[0]).await.assert_acknowledged("applied");

    // Another process disconnects the workspace; `a` still holds the route in its cache.
    disconnect(&b, &ws).await;
    let before = a.snapshot().await;

    let answer = a.post_event(events[1]).await;

    // As a process that never cached the route answers: the route is gone.
    answer.assert_acknowledged("unknown_account");
    a.assert_nothing_stored(&before, "an event after the disconnect")
        .await;
}

#[tokio::test]
async fn a_cached_route_follows_its_account_to_the_workspace_that_connected_it_since() {
    let given = Simulated::new(8, 23).await;
    let (a, b, _t) = two_processes(&given).await;
    let old = a.connect("ws_old", &given.account, Mode::Test).await;
    a.match_all(&old, &given.customers()).await;
    let events = billing_events(&given);
    a.post_event(events[0]).await.assert_acknowledged("applied");

    // Elsewhere: the old workspace disconnects and a new one connects the account.
    disconnect(&b, &old).await;
    let new: WorkspaceId = b.connect("ws_new", &given.account, Mode::Test).await;
    let customers = given.customers();
    let old_states = a.states(&old, &customers).await;

    let next = events[1];
    a.post_event(next).await.assert_acknowledged("applied");

    assert_eq!(
        a.states(&old, &customers).await,
        old_states,
        "the old workspace is untouched"
    );
    assert!(a.event(&old, &event_id(next)).await.is_none());
    assert!(
        a.event(&new, &event_id(next)).await.is_some(),
        "recorded in the new owner"
    );
    let customer = StripeCustomerId::parse(customer_of(next).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        a.billing(&new, &customer).await.0.newest.is_some(),
        "applied there"
    );
}
