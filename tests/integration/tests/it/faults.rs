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

/// Each simulated customer's billing state (as stored JSON), and the backfill's object count.
async fn backfilled(s: &kustiq_tests::sync::SyncBench) -> (Vec<String>, u64) {
    let mut states = Vec::new();
    for c in s.sim.sim.customers(&s.account) {
        let id = StripeCustomerId::parse(c["id"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let state = s.bench.billing(&s.ws, &id).await.0;
        states.push(format!(
            "{id}: {}",
            serde_json::to_string(&state).unwrap_or_else(|e| panic!("{e}"))
        ));
    }
    (states, s.connection().await.backfill.objects_done)
}

/// Stripe answering a random 25 % of requests with a 500 and another 25 % with a 429
/// (a proxy in front of the simulator): the backfill pauses, retries and resumes
/// until it finishes, in the state of a run that met no error.
#[tokio::test]
async fn a_stripe_answering_random_500s_and_429s_still_completes_the_backfill() {
    use kustiq::app::sync::worker::Outcome;
    use kustiq::domain::connection::BackfillWindow;
    use kustiq::ports::sync::RunKind;
    use kustiq_tests::faults::ChaosProxy;
    use kustiq_tests::sync::{SyncBench, readers, stripe_config};
    use std::time::{Duration, Instant};

    let config = || stripe_sim::SimConfig {
        seed: 41,
        customers: 80,
        years: 1,
        accounts: 1,
        ..stripe_sim::SimConfig::default()
    };
    let calm = SyncBench::new(
        kustiq_tests::Engine::DynamoDbLocal,
        config(),
        BackfillWindow::All,
    )
    .await;
    assert_eq!(calm.run().await, Outcome::Finished(RunKind::Backfill));
    let expected = backfilled(&calm).await;
    assert!(expected.1 > 0, "the backfill read nothing");

    let s = SyncBench::new(
        kustiq_tests::Engine::DynamoDbLocal,
        config(),
        BackfillWindow::All,
    )
    .await;
    let chaos = ChaosProxy::start(&s.sim.base_url, 250, 7).await;
    let through_chaos = readers(stripe_config(&chaos.base_url));
    let mut runs = Vec::new();
    loop {
        let outcome = s
            .worker_with(&through_chaos, Duration::from_secs(600))
            .run_workspace(&s.ws, Instant::now() + Duration::from_secs(600))
            .await;
        let done = matches!(outcome, Ok(Outcome::Finished(RunKind::Backfill)));
        if let Ok(Outcome::Paused { until, .. }) = &outcome {
            // The scheduler runs it again once the pause is over.
            s.bench.clock.set(*until);
        }
        runs.push(format!("{outcome:?}"));
        if done {
            break;
        }
        assert!(runs.len() < 100, "the backfill never finished: {runs:?}");
    }
    let (seen, e500, e429) = chaos.stats();
    eprintln!("{seen} Stripe requests, {e500} answered 500, {e429} answered 429; runs: {runs:?}");
    assert!(e500 > 0 && e429 > 0, "the proxy injected no error");
    assert_eq!(
        backfilled(&s).await,
        expected,
        "the state of a run that met no error"
    );
    let status = s.bench.status(&s.ws).await;
    assert_eq!(
        status.body["backfill"]["state"], "done",
        "{:?}",
        status.body
    );
    assert_eq!(status.body["error"], Value::Null, "{:?}", status.body);
}
