//! Webhook ingest end to end through the HTTP handler, on DynamoDB Local,
//! with the simulator's realistic events.

use kustiq::domain::billing_state::BillingState;
use kustiq::domain::connection::Mode;
use kustiq::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use kustiq::domain::profile::Profile;
use kustiq::domain::time::Timestamp;
use kustiq::ports::billing::BillingStore;
use kustiq::ports::events::EventLog;
use kustiq::ports::profiles::ProfileStore;
use kustiq_tests::Engine;
use kustiq_tests::faults::FaultProxy;
use kustiq_tests::webhook::{Bench, NowTs, dynamodb_local, engine_types};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use stripe_sim::{SimConfig, Simulator};

/// A simulated account with 60 days of activity, and its events oldest first.
async fn simulated(customers: usize, seed: u64) -> (Simulator, String, Vec<Value>) {
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
    let mut events = sim.events(&account);
    // Make sure every engine type occurs at least once.
    let seen: BTreeSet<String> = events
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
    // Only the types the engine reads: the rest are acknowledged and ignored
    // (a test of its own below).
    events = sim
        .events(&account)
        .into_iter()
        .filter(kustiq_tests::webhook::is_engine_event)
        .collect();
    (sim, account, events)
}

/// The first `invoice.payment_failed` event, its customer and its id.
fn payment_failure(
    events: &[Value],
) -> (Value, StripeCustomerId, kustiq::domain::ids::StripeEventId) {
    let e = events
        .iter()
        .find(|e| e["type"] == "invoice.payment_failed")
        .cloned()
        .unwrap_or_else(|| panic!("no failure event"));
    let customer = StripeCustomerId::parse(customer_of(&e).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let id = kustiq::domain::ids::StripeEventId::parse(e["id"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    (e, customer, id)
}

fn customer_of(event: &Value) -> Option<String> {
    let o = &event["data"]["object"];
    match o["object"].as_str() {
        Some("customer") => o["id"].as_str().map(str::to_owned),
        _ => o["customer"].as_str().map(str::to_owned),
    }
}

async fn match_all(bench: &Bench, ws: &WorkspaceId, customers: &BTreeSet<String>) {
    for (i, c) in customers.iter().enumerate() {
        let profile = Profile {
            profile_id: ProfileId::parse(format!("p{i}")).unwrap_or_else(|e| panic!("{e}")),
            email: None,
            domain: None,
            name: None,
            stripe_customer_id: Some(
                StripeCustomerId::parse(c.as_str()).unwrap_or_else(|e| panic!("{e}")),
            ),
            families: BTreeMap::new(),
            classifier_churn_risk: Some(10.0),
        };
        bench
            .store
            .put_profile(ws, &profile)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

async fn states(
    bench: &Bench,
    ws: &WorkspaceId,
    customers: &BTreeSet<String>,
) -> BTreeMap<String, BillingState> {
    let mut out = BTreeMap::new();
    for c in customers {
        let id = StripeCustomerId::parse(c.as_str()).unwrap_or_else(|e| panic!("{e}"));
        let (s, _) = bench
            .store
            .load(ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        out.insert(c.clone(), s);
    }
    out
}

async fn scores(bench: &Bench, ws: &WorkspaceId, n: usize) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = ProfileId::parse(format!("p{i}")).unwrap_or_else(|e| panic!("{e}"));
        out.push(
            bench
                .store
                .score(ws, &id)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|(s, _)| s.score.score),
        );
    }
    out
}

fn now_of(events: &[Value]) -> Timestamp {
    let newest = events
        .iter()
        .filter_map(|e| e["created"].as_i64())
        .max()
        .unwrap_or(0);
    Timestamp::from_unix(newest + 3_600)
}

#[tokio::test]
async fn every_engine_event_type_is_applied_and_rescores_the_matched_profile() {
    let (_sim, account, events) = simulated(30, 7).await;
    let bench = Bench::new(Engine::DynamoDbLocal, now_of(&events)).await;
    let ws = bench.connect("ws_types", &account, Mode::Test).await;
    let customers: BTreeSet<String> = events.iter().filter_map(customer_of).collect();
    match_all(&bench, &ws, &customers).await;

    let mut applied_types = BTreeSet::new();
    for e in &events {
        let answer = bench.post_signed(&e.to_string()).await;
        assert_eq!(
            answer.status, 200,
            "{} {}: {:?}",
            e["type"], e["id"], answer.body
        );
        if answer.body["outcome"] == "applied" {
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
    let s = scores(&bench, &ws, customers.len()).await;
    assert!(
        s.iter().all(Option::is_some),
        "every matched profile is scored: {s:?}"
    );
    let churn = bench
        .send(bench.authed("GET", "/api/v1/profiles/p0/churn", "ws_types", None))
        .await;
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
    let (_sim, account, events) = simulated(25, 11).await;
    let now = now_of(&events);
    let customers: BTreeSet<String> = events.iter().filter_map(customer_of).collect();

    let in_order = Bench::new(Engine::DynamoDbLocal, now).await;
    let ws_a = in_order.connect("ws_order", &account, Mode::Test).await;
    match_all(&in_order, &ws_a, &customers).await;
    for e in &events {
        assert_eq!(in_order.post_signed(&e.to_string()).await.status, 200);
    }

    let shuffled = Bench::new(Engine::DynamoDbLocal, now).await;
    let ws_b = shuffled.connect("ws_shuffled", &account, Mode::Test).await;
    match_all(&shuffled, &ws_b, &customers).await;
    let mut rng = fastrand_like(42);
    let mut duplicates = 0;
    let mut recorded = 0;
    for round in 0..3 {
        let mut batch = events.clone();
        shuffle(&mut batch, &mut rng);
        for e in &batch {
            let answer = shuffled.post_signed(&e.to_string()).await;
            assert_eq!(answer.status, 200);
            if round == 0
                && matches!(
                    answer.body["outcome"].as_str(),
                    Some("applied" | "deferred")
                )
            {
                recorded += 1;
            }
            if round > 0 && answer.body["outcome"] == "duplicate" {
                duplicates += 1;
            }
        }
    }
    // A dispute that arrives before the invoice naming its charge is deferred;
    // the retry sweep applies it once the owner is known.
    for bench in [&in_order, &shuffled] {
        for delay in [60, 300] {
            bench.clock.advance(delay);
            let cfg = bench.settings.engine.clone();
            kustiq::app::ingest::retry_due(&bench.store, &cfg, bench.clock.now_ts(), 100)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
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
        states(&in_order, &ws_a, &customers).await,
        states(&shuffled, &ws_b, &customers).await,
    );
    for (c, sa) in &a {
        assert_eq!(Some(sa), b.get(c), "billing state of {c} differs");
    }
    assert_eq!(
        scores(&in_order, &ws_a, customers.len()).await,
        scores(&shuffled, &ws_b, customers.len()).await
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
    let (_sim, account, events) = simulated(10, 3).await;
    let bench = Bench::new(Engine::DynamoDbLocal, now_of(&events)).await;
    let ws = bench.connect("ws_live", &account, Mode::Live).await;
    let customers: BTreeSet<String> = events.iter().filter_map(customer_of).collect();
    match_all(&bench, &ws, &customers).await;
    for e in events.iter().take(20) {
        let answer = bench.post_signed(&e.to_string()).await;
        assert_eq!(
            (answer.status, answer.body["outcome"].as_str()),
            (200, Some("mode_mismatch"))
        );
    }
    assert!(
        states(&bench, &ws, &customers)
            .await
            .values()
            .all(|s| s.newest.is_none()),
        "nothing applied"
    );
    assert!(
        scores(&bench, &ws, customers.len())
            .await
            .iter()
            .all(Option::is_none),
        "no score moved"
    );
    let status = bench
        .send(bench.authed("GET", "/api/v1/integrations/stripe", "ws_live", None))
        .await;
    assert_eq!(
        status.body["error"]["code"], "ERR_MODE_MISMATCH",
        "{:?}",
        status.body
    );
}

#[tokio::test]
async fn events_of_an_unknown_account_are_acknowledged_and_not_stored() {
    let (_sim, _account, events) = simulated(10, 5).await;
    let bench = Bench::new(Engine::DynamoDbLocal, now_of(&events)).await;
    let ws = bench
        .connect("ws_other", "acct_someoneelse", Mode::Test)
        .await;
    let (e, _, id) = payment_failure(&events);
    let answer = bench.post_signed(&e.to_string()).await;
    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (200, Some("unknown_account"))
    );
    assert!(
        bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

#[tokio::test]
async fn rejected_deliveries_store_nothing() {
    let (_sim, account, events) = simulated(10, 9).await;
    let bench = Bench::new(Engine::DynamoDbLocal, now_of(&events)).await;
    let ws = bench.connect("ws_reject", &account, Mode::Test).await;
    let (e, _, id) = payment_failure(&events);
    let body = e.to_string();
    let now = bench.clock.now_ts();
    let sign = |b: &str, secret: &str, t: Timestamp| {
        kustiq::stripe::signature::sign(
            b.as_bytes(),
            &kustiq::domain::secret::Secret::new(secret),
            t,
        )
    };

    let missing = bench.post(&body, None).await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (400, Some("ERR_WEBHOOK_SIG"))
    );
    let wrong = bench
        .post(&body, Some(&sign(&body, "whsec_not_ours", now)))
        .await;
    assert_eq!(
        (wrong.status, wrong.body["error"]["code"].as_str()),
        (400, Some("ERR_WEBHOOK_SIG"))
    );
    let tampered = bench
        .post(
            &body.replace("payment_failed", "payment_succeeded"),
            Some(&sign(&body, "whsec_bench_new", now)),
        )
        .await;
    assert_eq!(tampered.status, 400);
    let stale = bench
        .post(
            &body,
            Some(&sign(&body, "whsec_bench_new", now.plus_secs(-301))),
        )
        .await;
    assert_eq!(
        (stale.status, stale.body["error"]["code"].as_str()),
        (400, Some("ERR_WEBHOOK_STALE"))
    );
    let garbage = "not json at all";
    let not_json = bench
        .post(garbage, Some(&sign(garbage, "whsec_bench_new", now)))
        .await;
    assert_eq!(not_json.status, 400);
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    let too_big = bench
        .post(&huge, Some(&sign(&huge, "whsec_bench_new", now)))
        .await;
    assert_eq!(too_big.status, 413);
    let header = "t=abc,v1=zz,,,=";
    assert_eq!(
        bench.post(&body, Some(header)).await.status,
        400,
        "malformed header is a 400, not a panic"
    );

    assert!(
        bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "nothing recorded"
    );

    // The old secret still verifies during a rotation, and the event is then recorded.
    let accepted = bench
        .post(&body, Some(&sign(&body, "whsec_bench_old", now)))
        .await;
    assert_eq!(accepted.status, 200);
    assert!(
        bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
    );
}

#[tokio::test]
async fn types_outside_the_engine_are_acknowledged_and_not_stored() {
    let bench = Bench::new(Engine::DynamoDbLocal, Timestamp::from_unix(1_767_225_600)).await;
    let ws = bench
        .connect("ws_types_other", "acct_1Other", Mode::Test)
        .await;
    let body = json!({
        "id": "evt_1Payout", "object": "event", "type": "payout.paid", "created": 1_767_225_000,
        "livemode": false, "account": "acct_1Other", "api_version": "2025-03-31.basil",
        "data": {"object": {"id": "po_1", "object": "payout", "amount": 100}}
    })
    .to_string();
    let answer = bench.post_signed(&body).await;
    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (200, Some("ignored_type"))
    );
    let id =
        kustiq::domain::ids::StripeEventId::parse("evt_1Payout").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

#[tokio::test]
async fn a_store_failure_answers_5xx_writes_nothing_and_the_retry_succeeds() {
    let (_sim, account, events) = simulated(10, 13).await;
    let proxy = FaultProxy::start(&dynamodb_local()).await;
    let bench = Bench::through(proxy.endpoint(), now_of(&events)).await;
    let ws = bench.connect("ws_fault", &account, Mode::Test).await;
    let (e, customer, id) = payment_failure(&events);

    proxy.fail(&["TransactWriteItems", "PutItem"]);
    let answer = bench.post_signed(&e.to_string()).await;
    assert!(
        answer.status >= 500,
        "Stripe must retry: {} {:?}",
        answer.status,
        answer.body
    );
    assert!(proxy.failed() > 0);
    proxy.heal();
    assert!(
        bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "no event half-written"
    );
    assert_eq!(
        bench
            .store
            .load(&ws, &customer)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .1,
        0,
        "no billing state half-written"
    );

    let retry = bench.post_signed(&e.to_string()).await;
    assert_eq!(
        (retry.status, retry.body["outcome"].as_str()),
        (200, Some("applied"))
    );
    assert!(
        bench
            .store
            .load(&ws, &customer)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .0
            .newest
            .is_some()
    );
}

#[tokio::test]
async fn failures_after_acknowledgement_are_retried_then_listed_and_replayable() {
    let (_sim, account, events) = simulated(10, 17).await;
    let proxy = FaultProxy::start(&dynamodb_local()).await;
    let bench = Bench::through(proxy.endpoint(), now_of(&events)).await;
    let ws = bench.connect("ws_retry", &account, Mode::Test).await;
    let (e, customer, id) = payment_failure(&events);

    // Applying fails (the transaction), recording alone works: acknowledged and deferred.
    proxy.fail(&["TransactWriteItems"]);
    let answer = bench.post_signed(&e.to_string()).await;
    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (200, Some("deferred")),
        "{:?}",
        answer.body
    );
    let cfg = bench.settings.engine.clone();

    // Retries follow 1 m, 5 m, 30 m, 2 h, 12 h; still failing, the event ends failed.
    let mut waited = 0;
    for delay in [60, 300, 1_800, 7_200, 43_200] {
        bench.clock.advance(delay - 1);
        let early = kustiq::app::ingest::retry_due(&bench.store, &cfg, bench.clock.now_ts(), 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(early, 0);
        let (rec, _) = bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("recorded"));
        bench.clock.advance(1);
        waited += delay;
        let _ = kustiq::app::ingest::retry_due(&bench.store, &cfg, bench.clock.now_ts(), 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (after, _) = bench
            .store
            .event(&ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("recorded"));
        assert_eq!(
            after.attempts,
            rec.attempts + 1,
            "one attempt at +{waited}s"
        );
    }
    let status = bench
        .send(bench.authed("GET", "/api/v1/integrations/stripe", "ws_retry", None))
        .await;
    let failed = status.body["failed_events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed.len(), 1, "{:?}", status.body);
    assert_eq!(failed[0]["event_id"], e["id"]);
    assert_eq!(failed[0]["type"], "invoice.payment_failed");
    assert_eq!(failed[0]["attempts"], 6);

    proxy.heal();
    let path = format!(
        "/api/v1/integrations/stripe/failed-events/{}/replay",
        e["id"].as_str().unwrap_or_default()
    );
    let replay = bench
        .send(bench.authed("POST", &path, "ws_retry", None))
        .await;
    assert_eq!(replay.status, 200, "{:?}", replay.body);
    assert!(
        bench
            .store
            .load(&ws, &customer)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .0
            .newest
            .is_some()
    );
    let status = bench
        .send(bench.authed("GET", "/api/v1/integrations/stripe", "ws_retry", None))
        .await;
    assert_eq!(status.body["failed_events"], json!([]));
    let unknown = bench
        .send(bench.authed(
            "POST",
            "/api/v1/integrations/stripe/failed-events/evt_nope/replay",
            "ws_retry",
            None,
        ))
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn deauthorization_revokes_the_connection_and_keeps_history() {
    let (_sim, account, events) = simulated(10, 19).await;
    let bench = Bench::new(Engine::DynamoDbLocal, now_of(&events)).await;
    let ws = bench.connect("ws_deauth", &account, Mode::Test).await;
    let customers: BTreeSet<String> = events.iter().filter_map(customer_of).collect();
    match_all(&bench, &ws, &customers).await;
    let half = events.len() / 2;
    for e in &events[..half] {
        assert_eq!(bench.post_signed(&e.to_string()).await.status, 200);
    }
    let before = scores(&bench, &ws, customers.len()).await;
    let deauth = json!({
        "id": "evt_1Deauth", "object": "event", "type": "account.application.deauthorized",
        "created": bench.clock.now_ts().unix(), "livemode": false, "account": account,
        "api_version": "2025-03-31.basil",
        "data": {"object": {"id": "ca_sim", "object": "application", "name": "Kustiq"}}
    });
    let answer = bench.post_signed(&deauth.to_string()).await;
    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (200, Some("deauthorized"))
    );
    let status = bench
        .send(bench.authed("GET", "/api/v1/integrations/stripe", "ws_deauth", None))
        .await;
    assert_eq!(status.body["connected"], false);
    assert_eq!(status.body["error"]["code"], "ERR_ST_401");
    for e in &events[half..] {
        let a = bench.post_signed(&e.to_string()).await;
        assert_eq!(
            (a.status, a.body["outcome"].as_str()),
            (200, Some("not_connected"))
        );
    }
    assert_eq!(
        scores(&bench, &ws, customers.len()).await,
        before,
        "past scores stay"
    );
}
