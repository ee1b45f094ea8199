//! `GET /api/v1/profiles/{id}/churn` explains a score end to end: the score is
//! the baseline plus each family's (clamped) contribution plus the classifier's;
//! every factor carries its explanation and the Stripe ids behind it; the
//! billing view shows MRR, lifecycle, renewal, churn type, open invoices with
//! their age; the history has one point per change, saying what changed.

use kustiq::domain::connection::Mode;
use kustiq::domain::engine::EngineConfig;
use kustiq::domain::time::Timestamp;
use kustiq_tests::simulated::Simulated;
use kustiq_tests::webhook::Bench;
use serde_json::{Value, json};

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[tokio::test]
async fn the_explained_score_adds_up_and_names_its_evidence() {
    let given = Simulated::new(6, 9).await;
    let (b, ws) = Bench::matched(&given, "ws_explained", Mode::Test).await;
    for e in &given.events {
        assert_eq!(b.post_event(e).await.status, 200);
    }
    // Two payment failures now for the first customer: an open invoice and a billing factor.
    let customers: Vec<String> = given.customers().into_iter().collect();
    let mut newest = given.now().unix();
    for _ in 0..2 {
        let ids = given
            .sim
            .emit(&given.account, "invoice.payment_failed", &customers[0])
            .await
            .unwrap_or_else(|e| panic!("emit: {e:?}"));
        for e in given.sim.events(&given.account) {
            if ids.iter().any(|id| e["id"] == id.as_str()) {
                // Time only moves forward: the simulator's clock may be behind the bench's.
                newest = newest.max(e["created"].as_i64().unwrap_or_default() + 60);
                b.clock.set(Timestamp::from_unix(newest));
                assert_eq!(b.post_event(&e).await.status, 200);
            }
        }
    }
    let put = b
        .put_profile_json(ws.as_str(), "p0", json!({"stripe_customer_id": customers[0],
            "families": {"support": [{"signal": "angry_tickets", "impact": 12.0, "explanation": "3 angry tickets", "evidence": ["tk_1", "tk_2"]}]},
            "classifier_churn_risk": 40.0}))
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let c = b
        .call("GET", "/api/v1/profiles/p0/churn", ws.as_str(), None)
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    let body = &c.body;

    // The arithmetic: baseline + families + classifier, clamped to 0..100.
    let cfg = EngineConfig::default();
    let families = body["families"].as_object().cloned().unwrap_or_default();
    assert!(
        families.contains_key("billing") && families.contains_key("support"),
        "{families:?}"
    );
    let mut sum = cfg.baseline;
    for (name, f) in &families {
        let factors: f64 = f["factors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| num(&x["impact"]))
            .sum();
        let max = num(&f["max_abs"]);
        assert!(
            (num(&f["raw_impact"]) - factors).abs() < 0.05,
            "{name}: raw impact is the factors' sum"
        );
        assert!(
            (num(&f["impact"]) - factors.clamp(-max, max)).abs() < 0.05,
            "{name}: clamped to ±{max}"
        );
        sum += num(&f["impact"]);
    }
    let classifier = &body["classifier"];
    assert_eq!(classifier["churn_risk"], 40.0);
    assert_eq!(
        classifier["weight"],
        cfg.classifier_weight(2),
        "two behavioural families"
    );
    assert!((num(&classifier["impact"]) - 40.0 * num(&classifier["weight"])).abs() < 0.05);
    sum += num(&classifier["impact"]);
    assert!(
        (num(&body["score"]) - sum.clamp(0.0, 100.0)).abs() < 0.11,
        "score {} from {sum}",
        body["score"]
    );

    // Factors: explained, with their evidence ids.
    let billing = body["families"]["billing"]["factors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let failure = billing
        .iter()
        .find(|f| f["signal"] == "stripe_payment_failure")
        .unwrap_or_else(|| panic!("a payment-failure factor: {billing:?}"));
    assert!(num(&failure["impact"]) > 0.0);
    assert!(
        !failure["explanation"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    let evidence: Vec<&str> = failure["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !evidence.is_empty()
            && evidence
                .iter()
                .all(|e| e.starts_with("ch_") || e.starts_with("in_") || e.starts_with("py_")),
        "Stripe ids: {evidence:?}"
    );
    assert_eq!(
        body["families"]["support"]["factors"][0]["evidence"],
        json!(["tk_1", "tk_2"])
    );

    // The billing view.
    let view = &body["billing"];
    assert_eq!(view["stripe_customer_id"], customers[0].as_str());
    assert!(
        view["mrr"]["amount"].is_i64() && view["mrr"]["currency"].is_string(),
        "{view}"
    );
    assert_eq!(view["lifecycle"], "customer");
    assert_eq!(view["involuntary_risk"], true);
    let open = view["open_invoices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!open.is_empty(), "the failed invoice is open: {view}");
    assert!(open.iter().all(|i| i["age_days"].is_i64()
        && i["bucket"].is_string()
        && i["since"].as_str().is_some_and(|d| d.len() == 10)));

    // The history: newest first, one point per change, each saying what changed.
    let history = body["history"].as_array().cloned().unwrap_or_default();
    assert!(history.len() >= 2, "{history:?}");
    assert_eq!(history[0]["reason"], "profile update");
    assert_eq!(history[0]["score"], body["score"]);
    assert!(
        history
            .iter()
            .any(|h| h["reason"].as_str().is_some_and(|r| r.starts_with("evt_"))),
        "events are reasons"
    );
    for pair in history.windows(2) {
        assert!(
            pair[0]["at"].as_str() >= pair[1]["at"].as_str(),
            "newest first"
        );
        assert_eq!(
            pair[0]["previous_score"], pair[1]["score"],
            "each point follows the one before it"
        );
    }
    for h in &history {
        let moved = h["previous_score"] != h["score"];
        let changes = h["changes"].as_array().map(Vec::len).unwrap_or_default();
        assert!(moved || changes > 0, "a point is a change: {h}");
    }
    assert!(
        history[0]["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["family"] == "support" && c["before"].is_null() && c["after"] == 12.0),
        "the profile update added the support factor: {}",
        history[0]
    );
}
