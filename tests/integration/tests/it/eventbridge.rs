//! Stripe's Amazon EventBridge destination, in process, on DynamoDB Local: the same
//! pipe as the webhook (same billing states, same routing and mode checks), the same
//! idempotency on the Stripe event id across both ingresses, and envelopes from any
//! other source refused without storing anything.

use kustiq::domain::connection::Mode;
use kustiq::domain::error_code::ErrorCode;
use kustiq::domain::ids::StripeAccountId;
use kustiq::events_ingress::IngressError;
use kustiq::ports::connections::ConnectionStore;
use kustiq_tests::eventbridge::{SOURCE, envelope, ingress};
use kustiq_tests::simulated::Simulated;
use kustiq_tests::webhook::{Bench, NowTs};
use lambda_http::lambda_runtime::Diagnostic;
use serde_json::Value;

/// Delivers `event` through the EventBridge ingress; the outcome label, or the error.
async fn deliver(bench: &Bench, event: &Value) -> Result<String, IngressError> {
    ingress(bench)
        .receive(envelope(event, SOURCE), bench.clock.now_ts())
        .await
        .map(|v| v["outcome"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn eventbridge_deliveries_leave_the_same_billing_states_and_scores_as_signed_webhooks() {
    let given = Simulated::new(12, 21).await;
    let (by_webhook, ws) = Bench::matched(&given, "ws_eb_same", Mode::Test).await;
    let (by_eventbridge, ws2) = Bench::matched(&given, "ws_eb_same", Mode::Test).await;
    for e in &given.events {
        let hook = by_webhook.post_event(e).await;
        assert_eq!(hook.status, 200, "{}: {:?}", e["id"], hook.body);
        let bridged = deliver(&by_eventbridge, e)
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", e["id"]));
        assert_eq!(
            Some(bridged.as_str()),
            hook.outcome(),
            "{} {}",
            e["type"],
            e["id"]
        );
    }
    let customers = given.customers();
    let states = by_webhook.states(&ws, &customers).await;
    assert!(
        states.values().any(|s| *s != Default::default()),
        "something was applied"
    );
    assert_eq!(by_eventbridge.states(&ws2, &customers).await, states);
    assert_eq!(
        by_eventbridge.scores(&ws2, customers.len()).await,
        by_webhook.scores(&ws, customers.len()).await
    );
}

#[tokio::test]
async fn an_event_delivered_by_both_ingresses_is_applied_once_whichever_comes_first() {
    let given = Simulated::new(6, 22).await;
    let (bench, ws) = Bench::matched(&given, "ws_eb_dup", Mode::Test).await;
    let failure = given.payment_failure();

    // EventBridge first, then the webhook.
    assert_eq!(
        deliver(&bench, &failure.event).await.ok().as_deref(),
        Some("applied")
    );
    let (state, version) = bench.billing(&ws, &failure.customer).await;
    bench
        .post_event(&failure.event)
        .await
        .assert_acknowledged("duplicate");
    assert_eq!(
        bench.billing(&ws, &failure.customer).await,
        (state, version)
    );

    // Both at once, for every other event: each is applied by exactly one of them.
    let rest: Vec<&Value> = given
        .events
        .iter()
        .filter(|e| e["id"] != failure.event["id"])
        .collect();
    for e in rest {
        let (hook, bridged) = tokio::join!(bench.post_event(e), deliver(&bench, e));
        assert_eq!(hook.status, 200, "{:?}", hook.body);
        let bridged = bridged.unwrap_or_else(|err| panic!("{}: {err}", e["id"]));
        let outcomes = [hook.outcome().unwrap_or_default(), bridged.as_str()];
        let recorded = outcomes
            .iter()
            .filter(|o| matches!(**o, "applied" | "deferred"))
            .count();
        let duplicates = outcomes.iter().filter(|o| **o == "duplicate").count();
        // One records it (applied, or deferred for a retry) and the other sees a
        // duplicate; or neither records it (ignored) and both say why alike.
        assert!(
            (recorded, duplicates) == (1, 1)
                || ((recorded, duplicates) == (0, 0) && outcomes[0] == outcomes[1]),
            "{} {}: {outcomes:?}",
            e["type"],
            e["id"]
        );
    }
}

#[tokio::test]
async fn eventbridge_routes_by_account_and_checks_the_mode_like_the_webhook() {
    let given = Simulated::new(4, 23).await;
    let (bench, ws) = Bench::matched(&given, "ws_eb_mode", Mode::Live).await;
    let mut event = given.payment_failure().event;
    // A test-mode event for a live connection: ignored and flagged on the status.
    assert_eq!(
        deliver(&bench, &event).await.ok().as_deref(),
        Some("mode_mismatch")
    );
    let (conn, _) = bench
        .store
        .connection(&ws)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no connection"));
    assert_eq!(
        conn.error.map(|e| e.code),
        Some(ErrorCode::ERR_MODE_MISMATCH)
    );
    // Another region's (or nobody's) account: acknowledged, nothing stored.
    event["account"] = "acct_1NotConnectedHere".into();
    event["id"] = "evt_1EventBridgeOtherAccount".into();
    let before = bench.snapshot().await;
    assert_eq!(
        deliver(&bench, &event).await.ok().as_deref(),
        Some("unknown_account")
    );
    bench
        .assert_nothing_stored(&before, "an unknown account's event")
        .await;
    assert!(
        bench
            .store
            .connection_for_account(
                &StripeAccountId::parse("acct_1NotConnectedHere").unwrap_or_else(|e| panic!("{e}"))
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

#[tokio::test]
async fn envelopes_from_another_source_or_without_a_stripe_event_are_refused_and_store_nothing() {
    let given = Simulated::new(4, 24).await;
    let (bench, _) = Bench::matched(&given, "ws_eb_refuse", Mode::Test).await;
    let event = &given.payment_failure().event;
    let before = bench.snapshot().await;
    let now = bench.clock.now_ts();
    let cases = [
        (
            "another partner",
            envelope(event, "aws.partner/stripe.com/ed_test_someone_else"),
            "NotRetryable.Source",
        ),
        (
            "a custom source",
            envelope(event, "com.example.forged"),
            "NotRetryable.Source",
        ),
        (
            "no detail",
            serde_json::json!({"id": "1", "source": SOURCE}),
            "NotRetryable.Envelope",
        ),
        (
            "not an event",
            {
                let mut e = envelope(event, SOURCE);
                e["detail"] = serde_json::json!({"object": "customer", "id": "cus_1"});
                e
            },
            "NotRetryable.NotAnEvent",
        ),
    ];
    for (what, payload, kind) in cases {
        let err = ingress(&bench)
            .receive(payload, now)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what} was accepted"));
        assert!(!err.retryable(), "{what}: {err}");
        assert_eq!(Diagnostic::from(err).error_type, kind, "{what}");
    }
    bench
        .assert_nothing_stored(&before, "refused envelopes")
        .await;
}
