//! Faults: the store stops in the middle of a stream of webhooks arriving at
//! the local runner's HTTP front. The store is DynamoDB Local behind a TCP
//! relay ([`TcpGate`]) that is really taken down — its port closed, its open
//! connections cut — because the shared DynamoDB Local itself cannot be stopped
//! under the other tests. While it is down every delivery answers a 5xx (so
//! Stripe keeps it); once it is back, Stripe's redelivery of those brings the
//! store to exactly the state of an uninterrupted run.

use kustiq::domain::connection::Mode;
use kustiq::domain::ids::{StripeCustomerId, StripeEventId, WorkspaceId};
use kustiq::domain::secret::Secret;
use kustiq_local::server::Limits;
use kustiq_tests::faults::TcpGate;
use kustiq_tests::simulated::Simulated;
use kustiq_tests::webhook::{Bench, NowTs, SECRETS, dynamodb_local};
use kustiq_tests::{Answer, local};
use serde_json::Value;
use std::collections::BTreeMap;

/// Delivers `event` to the runner at `base` as Stripe does: signed now.
async fn deliver(base: &str, bench: &Bench, event: &Value) -> Answer {
    let body = event.to_string();
    let signature = kustiq::stripe::signature::sign(
        body.as_bytes(),
        &Secret::new(SECRETS[1]),
        bench.clock.now_ts(),
    );
    let resp = kustiq_tests::http()
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the runner did not answer: {e}"));
    let status = resp.status().as_u16();
    Answer {
        status,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

/// Every customer's billing state (as stored JSON) and the profiles' scores.
async fn state(bench: &Bench, ws: &WorkspaceId, given: &Simulated) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in given.customers() {
        let id = StripeCustomerId::parse(c.as_str()).unwrap_or_else(|e| panic!("{e}"));
        let billing = serde_json::to_string(&bench.billing(ws, &id).await.0)
            .unwrap_or_else(|e| panic!("{e}"));
        out.insert(c, billing);
    }
    out
}

#[tokio::test]
async fn a_store_outage_mid_stream_answers_5xx_and_redelivery_loses_nothing() {
    let given = Simulated::new(12, 29).await;
    let events: Vec<&Value> = given.events.iter().take(36).collect();
    let gate = TcpGate::start(&dynamodb_local()).await;
    let bench = Bench::through(&gate.endpoint(), given.now()).await;
    let ws = bench.connect("ws_outage", &given.account, Mode::Test).await;
    bench.match_all(&ws, &given.customers()).await;
    let base = local::front(bench.router.clone(), Limits::default()).await;

    let (outage_from, outage_to) = (events.len() / 3, events.len() / 3 + 8);
    let mut redeliver = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if i == outage_from {
            gate.down();
        }
        if i == outage_to {
            gate.up().await;
        }
        let a = deliver(&base, &bench, event).await;
        if (outage_from..outage_to).contains(&i) {
            assert!(
                a.status >= 500 && a.code() == Some("ERR_INTERNAL"),
                "delivery {i} while the store is down must ask Stripe to retry: {} {:?}",
                a.status,
                a.body
            );
            redeliver.push(*event);
        } else {
            assert_eq!(a.status, 200, "delivery {i}: {:?}", a.body);
        }
    }
    assert_eq!(redeliver.len(), outage_to - outage_from);
    for event in &redeliver {
        let id = StripeEventId::parse(event["id"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            bench.event(&ws, &id).await.is_none(),
            "{id}: refused while down, yet stored"
        );
    }

    // Stripe redelivers what was not acknowledged, after the other events.
    for event in &redeliver {
        let a = deliver(&base, &bench, event).await;
        assert_eq!(a.status, 200, "redelivery: {:?}", a.body);
    }
    for event in &events {
        let id = StripeEventId::parse(event["id"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let recorded = bench.event(&ws, &id).await;
        assert!(recorded.is_some(), "{id} lost");
    }

    // The same events, in order, with no outage.
    let clean = Bench::new(kustiq_tests::Engine::DynamoDbLocal, given.now()).await;
    let clean_ws = clean.connect("ws_outage", &given.account, Mode::Test).await;
    clean.match_all(&clean_ws, &given.customers()).await;
    for event in &events {
        assert_eq!(clean.post_event(event).await.status, 200);
    }
    assert_eq!(
        state(&bench, &ws, &given).await,
        state(&clean, &clean_ws, &given).await,
        "billing states after the outage and redelivery"
    );
    let n = given.customers().len();
    let scores = bench.scores(&ws, n).await;
    assert!(scores.iter().any(Option::is_some), "no profile was scored");
    assert_eq!(scores, clean.scores(&clean_ws, n).await, "scores");
}
