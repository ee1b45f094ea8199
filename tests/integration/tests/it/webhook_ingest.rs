//! Webhook ingest end to end through the HTTP handler, on DynamoDB Local,
//! with the simulator's realistic events.

use kustiq::domain::connection::Mode;
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq_tests::Engine;
use kustiq_tests::faults::FaultProxy;
use kustiq_tests::simulated::Simulated;
use kustiq_tests::webhook::{Bench, NowTs, dynamodb_local, engine_types};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn every_engine_event_type_is_applied_and_rescores_the_matched_profile() {
    let given = Simulated::new(30, 7).await;
    let (bench, ws) = Bench::matched(&given, "ws_types", Mode::Test).await;
    // Basil disputes name only their charge: its owner is read from the simulator.
    let running = given
        .sim
        .clone()
        .bind(0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bench = bench.with_stripe(&running.base_url);

    let mut applied_types = BTreeSet::new();
    for e in &given.events {
        let answer = bench.post_event(e).await;
        assert_eq!(
            answer.status, 200,
            "{} {}: {:?}",
            e["type"], e["id"], answer.body
        );
        if answer.outcome() == Some("applied") {
            applied_types.insert(e["type"].as_str().unwrap_or_default().to_owned());
        }
    }

    for t in engine_types() {
        assert!(
            applied_types.contains(&t),
            "{t} was never applied; applied: {applied_types:?}"
        );
    }
    // Every matched customer with a billing event got a score with a billing family.
    let s = bench.scores(&ws, given.customers().len()).await;
    assert!(
        s.iter().all(Option::is_some),
        "every matched profile is scored: {s:?}"
    );
    let churn = bench.api("GET", "/api/v1/profiles/p0/churn", &ws).await;
    assert_eq!(churn.status, 200, "{:?}", churn.body);
    assert!(
        churn.body["families"]["billing"].is_object(),
        "{:?}",
        churn.body
    );
    assert!(
        churn.body["history"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
}

#[tokio::test]
async fn shuffled_and_replayed_batches_end_in_the_same_state() {
    let given = Simulated::new(25, 11).await;
    let (events, customers) = (&given.events, given.customers());
    let (in_order, ws_a) = Bench::matched(&given, "ws_order", Mode::Test).await;
    for e in events {
        assert_eq!(in_order.post_event(e).await.status, 200);
    }

    let (shuffled, ws_b) = Bench::matched(&given, "ws_shuffled", Mode::Test).await;
    let mut rng = fastrand_like(42);
    let mut duplicates = 0;
    let mut recorded = 0;
    for round in 0..3 {
        let mut batch = events.clone();
        shuffle(&mut batch, &mut rng);
        for e in &batch {
            let answer = shuffled.post_event(e).await;
            assert_eq!(answer.status, 200);
            if round == 0 && matches!(answer.outcome(), Some("applied" | "deferred")) {
                recorded += 1;
            }
            if round > 0 && answer.outcome() == Some("duplicate") {
                duplicates += 1;
            }
        }
    }
    // A dispute that arrives before the invoice naming its charge is deferred;
    // the retry sweep applies it once the owner is known.
    for bench in [&in_order, &shuffled] {
        for delay in [60, 300] {
            bench.clock.advance(delay);
            bench.retry_due(100).await;
        }
    }

    assert!(
        recorded > events.len() / 2,
        "most events name a customer: {recorded}/{}",
        events.len()
    );
    assert_eq!(
        duplicates,
        2 * recorded,
        "every replay of a recorded event is a duplicate"
    );
    let (a, b) = (
        in_order.states(&ws_a, &customers).await,
        shuffled.states(&ws_b, &customers).await,
    );
    for (c, sa) in &a {
        assert_eq!(Some(sa), b.get(c), "billing state of {c} differs");
    }
    assert_eq!(
        in_order.scores(&ws_a, customers.len()).await,
        shuffled.scores(&ws_b, customers.len()).await
    );
}

/// A tiny deterministic generator for shuffling (xorshift), so the test needs no RNG crate.
fn fastrand_like(seed: u64) -> u64 {
    seed | 1
}

fn shuffle(v: &mut [Value], state: &mut u64) {
    for i in (1..v.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let j = (*state % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[tokio::test]
async fn a_test_event_at_a_live_connection_never_scores_and_flags_mode_mismatch() {
    let given = Simulated::new(10, 3).await;
    let (bench, ws) = Bench::matched(&given, "ws_live", Mode::Live).await;
    let customers = given.customers();

    for e in given.events.iter().take(20) {
        let answer = bench.post_event(e).await;
        answer.assert_acknowledged("mode_mismatch");
    }

    assert!(
        bench
            .states(&ws, &customers)
            .await
            .values()
            .all(|s| s.newest.is_none()),
        "nothing applied"
    );
    assert!(
        bench
            .scores(&ws, customers.len())
            .await
            .iter()
            .all(Option::is_none),
        "no score moved"
    );
    let status = bench.status(&ws).await;
    assert_eq!(
        status.body["error"]["code"], "ERR_MODE_MISMATCH",
        "{:?}",
        status.body
    );
}

#[tokio::test]
async fn events_of_an_unknown_account_are_acknowledged_and_not_stored() {
    let given = Simulated::new(10, 5).await;
    let bench = Bench::new(Engine::DynamoDbLocal, given.now()).await;
    bench
        .connect("ws_other", "acct_someoneelse", Mode::Test)
        .await;
    let before = bench.snapshot().await;

    let answer = bench.post_event(&given.payment_failure().event).await;

    answer.assert_acknowledged("unknown_account");
    bench
        .assert_nothing_stored(&before, "an event of an unknown account")
        .await;
}

#[tokio::test]
async fn rejected_deliveries_store_nothing() {
    let given = Simulated::new(10, 9).await;
    let bench = Bench::new(Engine::DynamoDbLocal, given.now()).await;
    let ws = bench.connect("ws_reject", &given.account, Mode::Test).await;
    let failure = given.payment_failure();
    let body = failure.event.to_string();
    let now = bench.clock.now_ts();
    let sign = |b: &str, secret: &str, t: Timestamp| {
        Some(kustiq::stripe::signature::sign(
            b.as_bytes(),
            &Secret::new(secret),
            t,
        ))
    };
    let before = bench.snapshot().await;

    bench
        .post(&body, None)
        .await
        .assert_refused(400, "ERR_WEBHOOK_SIG");
    bench
        .post(&body, sign(&body, "whsec_not_ours", now).as_deref())
        .await
        .assert_refused(400, "ERR_WEBHOOK_SIG");
    let tampered = bench
        .post(
            &body.replace("payment_failed", "payment_succeeded"),
            sign(&body, "whsec_bench_new", now).as_deref(),
        )
        .await;
    assert_eq!(tampered.status, 400);
    bench
        .post(
            &body,
            sign(&body, "whsec_bench_new", now.plus_secs(-301)).as_deref(),
        )
        .await
        .assert_refused(400, "ERR_WEBHOOK_STALE");
    let garbage = "not json at all";
    let not_json = bench
        .post(garbage, sign(garbage, "whsec_bench_new", now).as_deref())
        .await;
    assert_eq!(not_json.status, 400);
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    let too_big = bench
        .post(&huge, sign(&huge, "whsec_bench_new", now).as_deref())
        .await;
    assert_eq!(too_big.status, 413);
    let header = "t=abc,v1=zz,,,=";
    assert_eq!(
        bench.post(&body, Some(header)).await.status,
        400,
        "malformed header is a 400, not a panic"
    );

    bench
        .assert_nothing_stored(&before, "rejected deliveries")
        .await;

    // The old secret still verifies during a rotation, and the event is then recorded.
    let accepted = bench
        .post(&body, sign(&body, "whsec_bench_old", now).as_deref())
        .await;
    assert_eq!(accepted.status, 200);
    assert!(bench.event(&ws, &failure.id).await.is_some());
}

#[tokio::test]
async fn types_outside_the_engine_are_acknowledged_and_not_stored() {
    let bench = Bench::new(Engine::DynamoDbLocal, Timestamp::from_unix(1_767_225_600)).await;
    bench
        .connect("ws_types_other", "acct_1Other", Mode::Test)
        .await;
    let before = bench.snapshot().await;

    let answer = bench
        .post_event(&json!({
            "id": "evt_1Payout", "object": "event", "type": "payout.paid", "created": 1_767_225_000,
            "livemode": false, "account": "acct_1Other", "api_version": "2025-03-31.basil",
            "data": {"object": {"id": "po_1", "object": "payout", "amount": 100}}
        }))
        .await;

    answer.assert_acknowledged("ignored_type");
    bench
        .assert_nothing_stored(&before, "an event of a type outside the engine")
        .await;
}

#[tokio::test]
async fn a_store_failure_answers_5xx_writes_nothing_and_the_retry_succeeds() {
    let given = Simulated::new(10, 13).await;
    let proxy = FaultProxy::start(&dynamodb_local()).await;
    let bench = Bench::through(proxy.endpoint(), given.now()).await;
    let ws = bench.connect("ws_fault", &given.account, Mode::Test).await;
    let failure = given.payment_failure();
    let before = bench.snapshot().await;

    proxy.fail(&["TransactWriteItems", "PutItem"]);
    let answer = bench.post_event(&failure.event).await;
    assert!(
        answer.status >= 500,
        "Stripe must retry: {} {:?}",
        answer.status,
        answer.body
    );
    assert!(proxy.failed() > 0);
    proxy.heal();
    bench
        .assert_nothing_stored(
            &before,
            "a delivery the store failed (no event, no billing state)",
        )
        .await;

    bench
        .post_event(&failure.event)
        .await
        .assert_acknowledged("applied");
    assert!(
        bench
            .billing(&ws, &failure.customer)
            .await
            .0
            .newest
            .is_some()
    );
}

#[tokio::test]
async fn failures_after_acknowledgement_are_retried_then_listed_and_replayable() {
    let given = Simulated::new(10, 17).await;
    let proxy = FaultProxy::start(&dynamodb_local()).await;
    let bench = Bench::through(proxy.endpoint(), given.now()).await;
    let ws = bench.connect("ws_retry", &given.account, Mode::Test).await;
    let failure = given.payment_failure();
    let recorded = async || {
        bench
            .event(&ws, &failure.id)
            .await
            .unwrap_or_else(|| panic!("recorded"))
            .0
    };

    // Applying fails (the transaction), recording alone works: acknowledged and deferred.
    proxy.fail(&["TransactWriteItems"]);
    let answer = bench.post_event(&failure.event).await;
    answer.assert_acknowledged("deferred");

    // Retries follow 1 m, 5 m, 30 m, 2 h, 12 h; still failing, the event ends failed.
    let mut waited = 0;
    for delay in [60, 300, 1_800, 7_200, 43_200] {
        bench.clock.advance(delay - 1);
        assert_eq!(bench.retry_due(10).await, 0);
        let rec = recorded().await;
        bench.clock.advance(1);
        waited += delay;
        bench.retry_due(10).await;
        assert_eq!(
            recorded().await.attempts,
            rec.attempts + 1,
            "one attempt at +{waited}s"
        );
    }
    let status = bench.status(&ws).await;
    let failed = status.body["failed_events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed.len(), 1, "{:?}", status.body);
    assert_eq!(failed[0]["event_id"], failure.event["id"]);
    assert_eq!(failed[0]["type"], "invoice.payment_failed");
    assert_eq!(failed[0]["attempts"], 6);

    proxy.heal();
    let path = format!(
        "/api/v1/integrations/stripe/failed-events/{}/replay",
        failure.id.as_str()
    );
    let replay = bench.api("POST", &path, &ws).await;
    assert_eq!(replay.status, 200, "{:?}", replay.body);
    assert!(
        bench
            .billing(&ws, &failure.customer)
            .await
            .0
            .newest
            .is_some()
    );
    assert_eq!(bench.status(&ws).await.body["failed_events"], json!([]));
    let unknown = bench
        .api(
            "POST",
            "/api/v1/integrations/stripe/failed-events/evt_nope/replay",
            &ws,
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn deauthorization_revokes_the_connection_and_keeps_history() {
    let given = Simulated::new(10, 19).await;
    let (bench, ws) = Bench::matched(&given, "ws_deauth", Mode::Test).await;
    let customers = given.customers().len();
    let (first_half, second_half) = given.events.split_at(given.events.len() / 2);
    for e in first_half {
        assert_eq!(bench.post_event(e).await.status, 200);
    }
    let before = bench.scores(&ws, customers).await;

    let answer = bench
        .post_event(&json!({
            "id": "evt_1Deauth", "object": "event", "type": "account.application.deauthorized",
            "created": bench.clock.now_ts().unix(), "livemode": false, "account": given.account,
            "api_version": "2025-03-31.basil",
            "data": {"object": {"id": "ca_sim", "object": "application", "name": "Kustiq"}}
        }))
        .await;

    answer.assert_acknowledged("deauthorized");
    let status = bench.status(&ws).await;
    assert_eq!(status.body["connected"], false);
    assert_eq!(status.body["error"]["code"], "ERR_ST_401");
    for e in second_half {
        let a = bench.post_event(e).await;
        a.assert_acknowledged("not_connected");
    }
    assert_eq!(
        bench.scores(&ws, customers).await,
        before,
        "past scores stay"
    );
}
