//! Outbound churn events end to end: a score change commits its events with
//! it, the worker fans them out and POSTs them signed (Stripe's scheme, checked
//! with Stripe's own library), retries with backoff, keeps each profile's order,
//! and the SSRF guard refuses forbidden targets at delivery time too.

use kustiq::app::outbound::deliver::Backoff;
use kustiq::app::outbound::target::TargetPolicy;
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::outbound::{EventType, OutboxStore};
use kustiq_tests::Engine;
use kustiq_tests::outbound::{OutboundBench, Receiver, verify_with_stripe_library};
use kustiq_tests::simulated::Simulated;
use kustiq_tests::webhook::Bench;

const T0: Timestamp = Timestamp::from_unix(1_790_000_000);
const AT_RISK: [&str; 2] = ["profile.entered_at_risk", "profile.left_at_risk"];

async fn at_risk_endpoint(engine: Engine) -> (OutboundBench, Receiver, String, String) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    let (id, secret) = b.register("ws_out", &r.url, &AT_RISK).await;
    (b, r, id, secret)
}

async fn a_profile_entering_the_segment_is_posted_once_signed_with_the_endpoint_secret(
    engine: Engine,
) {
    let (b, r, id, secret) = at_risk_endpoint(engine).await;
    b.score("ws_out", "p1", 30.0).await;
    assert_eq!(
        b.outbox("ws_out", "p1").await.len(),
        1,
        "committed with the score"
    );

    let report = b.deliver().await;
    assert_eq!((report.fanned_out, report.delivered), (1, 1));
    let got = r.received();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["type"], "profile.entered_at_risk");
    assert_eq!(body["workspace_id"], "ws_out");
    assert_eq!(body["data"]["profile_id"], "p1");
    assert_eq!(body["data"]["score"], 80.0);
    assert_eq!(body["data"]["previous_score"], serde_json::Value::Null);
    assert!(body["id"].as_str().is_some_and(|i| i.starts_with("kev_")));
    kustiq::stripe::signature::verify(
        &got[0].signature,
        got[0].body.as_bytes(),
        &[Secret::new(secret.as_str())],
        b.now(),
        300,
    )
    .unwrap_or_else(|e| panic!("our own verifier: {e}"));
    assert!(b.outbox("ws_out", "p1").await.is_empty());

    // Nothing more to send: a second run posts nothing.
    b.deliver().await;
    assert_eq!(r.received().len(), 1);
    let deliveries = b.deliveries("ws_out", &id).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["attempts"][0]["status"], 200);
    assert_eq!(deliveries[0]["event_id"], body["id"]);
}

/// Stripe's official library (PyPI `stripe`, pinned in scripts/requirements-verify.txt)
/// accepts a delivery we captured, and refuses it with another secret or body.
#[tokio::test]
async fn stripes_own_library_verifies_a_captured_delivery() {
    let (b, r, _, secret) = at_risk_endpoint(Engine::Dynoxide).await;
    // Stripe's library checks the timestamp against the real clock.
    b.bench
        .clock
        .set(Timestamp::from_unix(chrono::Utc::now().timestamp()));
    b.score("ws_out", "p1", 30.0).await;
    b.deliver().await;
    let got = r.received();
    assert_eq!(got.len(), 1);
    let c = &got[0];
    verify_with_stripe_library(&c.body, &c.signature, &secret)
        .unwrap_or_else(|e| panic!("stripe library rejected our signature: {e}"));
    assert!(verify_with_stripe_library(&c.body, &c.signature, "whsec_other").is_err());
    let altered = c.body.replace("entered_at_risk", "left_at_risk");
    assert!(verify_with_stripe_library(&altered, &c.signature, &secret).is_err());
}

async fn a_failing_endpoint_is_retried_with_backoff_until_it_answers(engine: Engine) {
    let (b, r, id, _) = at_risk_endpoint(engine).await;
    r.answer(503);
    b.score("ws_out", "p1", 30.0).await;
    let first = b.deliver().await;
    assert_eq!((first.delivered, first.failed_attempts), (0, 1));
    let d = &b.deliveries("ws_out", &id).await[0];
    assert_eq!(d["status"], "pending");
    let next = d["next_attempt_at"].as_i64().unwrap_or_default();
    // 30 s base, jitter in the upper half.
    assert!((T0.unix() + 15..=T0.unix() + 30).contains(&next), "{next}");

    // Not due yet: no attempt.
    b.deliver().await;
    assert_eq!(r.received().len(), 1);

    r.answer(200);
    b.bench.clock.set(Timestamp::from_unix(next));
    let second = b.deliver().await;
    assert_eq!(second.delivered, 1);
    let got = r.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "a retry sends the same event");
    let d = &b.deliveries("ws_out", &id).await[0];
    assert_eq!(d["status"], "delivered");
    let statuses: Vec<i64> = d["attempts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["status"].as_i64())
        .collect();
    assert_eq!(statuses, [503, 200]);
}

async fn a_delivery_fails_for_good_after_its_attempts_and_the_next_event_goes(engine: Engine) {
    let (mut b, r, id, _) = at_risk_endpoint(engine).await;
    b.backoff = Backoff {
        base_secs: 10,
        cap_secs: 10,
        max_tries: 2,
    };
    r.answer(500);
    b.score("ws_out", "p1", 30.0).await; // entered
    b.score("ws_out", "p1", 0.0).await; // left
    b.deliver().await;
    // In order: the second event waits while the first is pending.
    assert_eq!(r.received().len(), 1);
    // The first fails its last attempt and is given up; the second goes next.
    b.bench.clock.set(T0.plus_secs(60));
    b.deliver().await;
    let types: Vec<String> = r
        .received()
        .iter()
        .map(|c| c.json()["type"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(types, [AT_RISK[0], AT_RISK[0], AT_RISK[1]]);
    r.answer(200);
    b.bench.clock.set(T0.plus_secs(120));
    b.deliver().await;
    let got = r.received();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].json()["type"], "profile.left_at_risk");
    let list = b.deliveries("ws_out", &id).await;
    let status: Vec<(&str, &str)> = list
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap_or(""),
                d["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        status.contains(&("profile.entered_at_risk", "failed")),
        "{status:?}"
    );
    assert!(
        status.contains(&("profile.left_at_risk", "delivered")),
        "{status:?}"
    );
}

async fn each_profile_receives_its_events_in_order(engine: Engine) {
    let (b, r, _, _) = at_risk_endpoint(engine).await;
    for round in 0u32..3 {
        b.score("ws_out", "p1", 30.0).await;
        b.score("ws_out", "p1", 0.0).await;
        b.score(
            "ws_out",
            "p2",
            if round.is_multiple_of(2) { 30.0 } else { 0.0 },
        )
        .await;
    }
    b.deliver().await;
    let got = r.received();
    let of = |p: &str| -> Vec<String> {
        got.iter()
            .filter(|c| c.json()["data"]["profile_id"] == p)
            .map(|c| c.json()["type"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let p1 = of("p1");
    assert_eq!(p1.len(), 6);
    for (i, t) in p1.iter().enumerate() {
        assert_eq!(t, AT_RISK[i % 2], "p1 event {i} out of order: {p1:?}");
    }
    assert_eq!(
        of("p2"),
        [
            "profile.entered_at_risk",
            "profile.left_at_risk",
            "profile.entered_at_risk"
        ]
    );
}

async fn a_replayed_delivery_is_sent_again_with_the_same_event(engine: Engine) {
    let (b, r, id, _) = at_risk_endpoint(engine).await;
    b.score("ws_out", "p1", 30.0).await;
    b.deliver().await;
    let d = b.deliveries("ws_out", &id).await[0].clone();
    let dlv = d["id"].as_str().unwrap_or_default();
    let path = format!("/api/v1/webhook-endpoints/{id}/deliveries/{dlv}/replay");
    let a = b.call("POST", &path, "ws_out", "pro", None).await;
    assert_eq!(a.status, 202, "{:?}", a.body);
    assert_eq!(a.body["status"], "pending");
    b.deliver().await;
    let got = r.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    let again = &b.deliveries("ws_out", &id).await[0];
    assert_eq!(again["status"], "delivered");
    assert_eq!(again["attempts"].as_array().map(Vec::len), Some(2));
}

async fn only_subscribed_types_are_delivered(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    b.register("ws_out", &r.url, &["profile.left_at_risk"])
        .await;
    b.score("ws_out", "p1", 30.0).await;
    b.score("ws_out", "p1", 0.0).await;
    b.deliver().await;
    let got = r.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "profile.left_at_risk");
}

async fn a_deleted_endpoint_gets_nothing_more(engine: Engine) {
    let (b, r, id, _) = at_risk_endpoint(engine).await;
    b.score("ws_out", "p1", 30.0).await;
    b.deliver().await; // fans out to the endpoint and delivers
    b.score("ws_out", "p1", 0.0).await;
    let path = format!("/api/v1/webhook-endpoints/{id}");
    assert_eq!(
        b.call("DELETE", &path, "ws_out", "pro", None).await.status,
        200
    );
    b.deliver().await;
    assert_eq!(r.received().len(), 1);
}

/// A redirect is a failed attempt, never followed: a public endpoint cannot
/// bounce our POST to another address.
async fn a_redirect_is_not_followed(engine: Engine) {
    let (b, r, id, _) = at_risk_endpoint(engine).await;
    let elsewhere = Receiver::start().await;
    r.redirect_to(&elsewhere.url);
    b.score("ws_out", "p1", 30.0).await;
    let report = b.deliver().await;
    assert_eq!((report.delivered, report.failed_attempts), (0, 1));
    assert_eq!(r.received().len(), 1);
    assert!(elsewhere.received().is_empty());
    let d = &b.deliveries("ws_out", &id).await[0];
    assert_eq!(d["attempts"][0]["status"], 307);
    assert_eq!(d["status"], "pending");
}

/// Deliveries still pending when their endpoint is deleted are given up, not sent.
async fn pending_deliveries_of_a_deleted_endpoint_are_given_up(engine: Engine) {
    let (b, r, id, _) = at_risk_endpoint(engine).await;
    r.answer(500);
    b.score("ws_out", "p1", 30.0).await;
    b.deliver().await;
    assert_eq!(r.received().len(), 1);
    let path = format!("/api/v1/webhook-endpoints/{id}");
    assert_eq!(
        b.call("DELETE", &path, "ws_out", "pro", None).await.status,
        200
    );
    r.answer(200);
    b.bench.clock.set(T0.plus_secs(3_600));
    let report = b.deliver().await;
    assert_eq!((report.delivered, report.given_up), (0, 1));
    assert_eq!(r.received().len(), 1, "nothing sent after the delete");
    // Nothing is left due: a later run finds no work.
    b.bench.clock.set(T0.plus_secs(7_200));
    assert_eq!(b.deliver().await, Default::default());
}

/// DNS rebinding: a host that passed registration but now resolves to a
/// forbidden address is refused at connect time; nothing reaches it.
async fn delivery_refuses_a_host_that_resolves_to_a_forbidden_address(engine: Engine) {
    let mut b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    // `localhost` passes the local policy at registration …
    let url = format!("http://localhost:{}/hook", r.port);
    let (id, _) = b.register("ws_out", &url, &AT_RISK).await;
    // … and the worker runs under a policy that forbids the loopback.
    b.deliver_under(TargetPolicy {
        allow_loopback: false,
        require_https: false,
    });
    b.score("ws_out", "p1", 30.0).await;
    let report = b.deliver().await;
    assert_eq!((report.delivered, report.failed_attempts), (0, 1));
    assert!(r.received().is_empty());
    let d = &b.deliveries("ws_out", &id).await[0];
    let error = d["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("refused"), "{error}");
}

/// The apply pipe (webhooks) writes its events in the score's transaction: a
/// new failed payment of a matched customer lands in the outbox with the score,
/// and a duplicate delivery of the same Stripe event adds nothing.
#[tokio::test]
async fn a_payment_failure_webhook_commits_its_event_with_the_score_and_only_once() {
    let sim = Simulated::new(10, 13).await;
    let (bench, ws) =
        Bench::matched(&sim, "ws_apply", kustiq::domain::connection::Mode::Test).await;
    let failure = sim
        .events
        .iter()
        .rev()
        .find(|e| e["type"] == "invoice.payment_failed")
        .cloned()
        .unwrap_or_else(|| panic!("no failure"));
    bench.clock.set(Timestamp::from_unix(
        failure["created"].as_i64().unwrap_or(0) + 60,
    ));
    bench
        .post_event(&failure)
        .await
        .assert_acknowledged("applied");
    let profiles = bench
        .store
        .queued_profiles(100)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(profiles.len(), 1, "{profiles:?}");
    let (qws, profile) = &profiles[0];
    assert_eq!(qws, &ws);
    let events = bench
        .store
        .outbox(&ws, profile)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        events
            .iter()
            .any(|e| e.event_type == EventType::PaymentFailed),
        "{events:?}"
    );
    let (score, version) = kustiq::ports::profiles::ProfileStore::score(&bench.store, &ws, profile)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no score"));
    assert!(
        events
            .iter()
            .all(|e| e.seq.starts_with(&format!("{version:012}.")))
    );
    assert_eq!(events[0].data["score"], score.score.score);

    bench
        .post_event(&failure)
        .await
        .assert_acknowledged("duplicate");
    let again = bench
        .store
        .outbox(&ws, profile)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, events, "a duplicate adds no event");
}

on_both_engines!(
    a_profile_entering_the_segment_is_posted_once_signed_with_the_endpoint_secret,
    a_failing_endpoint_is_retried_with_backoff_until_it_answers,
    a_delivery_fails_for_good_after_its_attempts_and_the_next_event_goes,
    each_profile_receives_its_events_in_order,
    a_replayed_delivery_is_sent_again_with_the_same_event,
    only_subscribed_types_are_delivered,
    a_deleted_endpoint_gets_nothing_more,
    a_redirect_is_not_followed,
    pending_deliveries_of_a_deleted_endpoint_are_given_up,
    delivery_refuses_a_host_that_resolves_to_a_forbidden_address,
);
