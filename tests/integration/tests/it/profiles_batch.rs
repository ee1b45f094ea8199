//! `POST /api/v1/profiles:batch`: each entry stored and scored exactly as its
//! own PUT; bad entries fail alone with clear 400s; a malformed or oversized
//! batch stores nothing. And the history: one point per change, keyed per write.

use kustiq::domain::time::Timestamp;
use kustiq_tests::Engine;
use kustiq_tests::webhook::Bench;
use serde_json::{Value, json};

const NOW: Timestamp = Timestamp::from_unix(1_760_000_000);
const BATCH: &str = "/api/v1/profiles:batch";

fn entry(id: &str, crm: f64) -> Value {
    json!({
        "id": id,
        "email": format!("{id}@acme.io"),
        "domain": "acme.io",
        "name": format!("Profile {id}"),
        "stripe_customer_id": "cus_batch1",
        "families": {"crm": [{"signal": "champion_left", "impact": crm, "explanation": "the champion left", "evidence": ["crm_1"]}],
                     "support": [{"signal": "tickets", "impact": 5.0}]},
        "classifier_churn_risk": 40.0
    })
}

async fn batch(b: &Bench, ws: &str, body: Value) -> kustiq_tests::Answer {
    b.call("POST", BATCH, ws, Some(body)).await
}

#[tokio::test]
async fn a_batch_stores_each_profile_as_its_own_put_would() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let a = batch(
        &b,
        "ws_batch",
        json!({"profiles": [entry("b1", 10.0), entry("b2", 20.0)]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["results"],
        json!([{"index": 0, "id": "b1", "status": 200}, {"index": 1, "id": "b2", "status": 200}])
    );
    // The same profile through PUT in another workspace reads back the same.
    let mut single = entry("b1", 10.0);
    single.as_object_mut().map(|o| o.remove("id"));
    assert_eq!(
        b.put_profile_json("ws_single", "b1", single).await.status,
        200
    );
    let via_batch = b.call("GET", "/api/v1/profiles/b1", "ws_batch", None).await;
    let via_put = b
        .call("GET", "/api/v1/profiles/b1", "ws_single", None)
        .await;
    assert_eq!(via_batch.status, 200);
    assert_eq!(via_batch.body, via_put.body, "stored exactly as a PUT");
    assert_eq!(via_batch.body["stripe_customer_id"], "cus_batch1");
    assert_eq!(
        via_batch.body["families"]["support"][0]["signal"],
        "tickets"
    );
    let churn_batch = b
        .call("GET", "/api/v1/profiles/b1/churn", "ws_batch", None)
        .await;
    let churn_put = b
        .call("GET", "/api/v1/profiles/b1/churn", "ws_single", None)
        .await;
    assert_eq!(
        churn_batch.body["score"], churn_put.body["score"],
        "scored as a PUT"
    );
    assert_eq!(churn_batch.body["classifier"]["churn_risk"], 40.0);
}

#[tokio::test]
async fn bad_entries_fail_alone_with_clear_400s() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let mut bad_email = entry("e1", 1.0);
    bad_email["email"] = json!("not-an-email");
    let mut unknown_family = entry("e2", 1.0);
    unknown_family["families"] = json!({"astrology": [{"signal": "x", "impact": 1.0}]});
    let mut billing_family = entry("e3", 1.0);
    billing_family["families"] = json!({"billing": [{"signal": "x", "impact": 1.0}]});
    let out_of_range = entry("e4", 100.5);
    let too_long = entry(&"p".repeat(256), 1.0);
    let illegal = entry("a#b", 1.0);
    let mut no_id = entry("x", 1.0);
    no_id.as_object_mut().map(|o| o.remove("id"));
    let mut unknown_field = entry("e5", 1.0);
    unknown_field["colour"] = json!("red");
    let mut classifier = entry("e6", 1.0);
    classifier["classifier_churn_risk"] = json!(101);
    let entries = vec![
        entry("ok1", 1.0),
        bad_email,
        unknown_family,
        billing_family,
        out_of_range,
        too_long,
        illegal,
        no_id,
        unknown_field,
        classifier,
        entry("ok1", 2.0),
        json!("a string"),
        entry("ok2", 3.0),
    ];
    let a = batch(&b, "ws_bad", json!({"profiles": entries})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let results = a.body["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 13, "one result per entry");
    let status: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        status,
        [
            200, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 200
        ]
    );
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i, "results keep the batch's order");
        if r["status"] == 400 {
            assert_eq!(r["error"]["code"], "ERR_BAD_REQUEST", "{r}");
        }
    }
    let message = |i: usize| {
        results[i]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(message(1).contains("email"), "{}", message(1));
    assert!(message(2).contains("unknown family"), "{}", message(2));
    assert!(
        message(3).contains("unknown family"),
        "billing comes from Stripe only: {}",
        message(3)
    );
    assert!(
        message(4).contains("families.crm[0].impact"),
        "{}",
        message(4)
    );
    assert!(
        message(9).contains("classifier_churn_risk"),
        "{}",
        message(9)
    );
    assert!(
        message(10).contains("earlier in this batch"),
        "{}",
        message(10)
    );
    for i in [5, 6, 7, 11] {
        assert_eq!(
            results[i]["id"],
            Value::Null,
            "an id that did not parse is not echoed"
        );
    }
    assert!(
        !a.body.to_string().contains(&"p".repeat(256)),
        "no echo of the refused id"
    );
    for (id, want) in [
        ("ok1", 200),
        ("ok2", 200),
        ("e1", 404),
        ("e4", 404),
        ("e6", 404),
    ] {
        let got = b
            .call("GET", &format!("/api/v1/profiles/{id}"), "ws_bad", None)
            .await;
        assert_eq!(got.status, want, "{id}");
    }
    let ok1 = b.call("GET", "/api/v1/profiles/ok1", "ws_bad", None).await;
    assert_eq!(
        ok1.body["families"]["crm"][0]["impact"], 1.0,
        "the first ok1 won; the duplicate was refused"
    );
}

#[tokio::test]
async fn a_malformed_or_oversized_batch_is_refused_whole() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let before = b.snapshot().await;
    let too_many: Vec<Value> = (0..1_001).map(|i| json!({"id": format!("m{i}")})).collect();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "no profiles list",
            json!({"people": []}),
            400,
            "ERR_BAD_REQUEST",
        ),
        (
            "profiles not a list",
            json!({"profiles": {"id": "x"}}),
            400,
            "ERR_BAD_REQUEST",
        ),
        (
            "an extra field",
            json!({"profiles": [{"id": "x"}], "dry_run": true}),
            400,
            "ERR_BAD_REQUEST",
        ),
        (
            "an empty batch",
            json!({"profiles": []}),
            400,
            "ERR_BAD_REQUEST",
        ),
        (
            "1,001 profiles",
            json!({"profiles": too_many}),
            400,
            "ERR_BAD_REQUEST",
        ),
        ("a list", json!([{"id": "x"}]), 400, "ERR_BAD_REQUEST"),
    ];
    for (what, body, status, code) in cases {
        batch(&b, "ws_whole", body)
            .await
            .assert_refused(status, code);
        let _ = what;
    }
    let big = "x".repeat(kustiq::domain::limits::MAX_BATCH_BYTES);
    batch(
        &b,
        "ws_whole",
        json!({"profiles": [{"id": "big", "name": big}]}),
    )
    .await
    .assert_refused(413, "ERR_PAYLOAD_TOO_LARGE");
    let req = b.authed("POST", BATCH, "ws_whole", None);
    let mut req = req;
    *req.body_mut() = lambda_http::Body::Text("{not json".into());
    b.send(req).await.assert_refused(400, "ERR_BAD_REQUEST");
    b.assert_nothing_stored(&before, "refused batches").await;
}

#[tokio::test]
async fn a_batch_of_a_thousand_profiles_is_stored_whole() {
    let b = Bench::new(Engine::Dynoxide, NOW).await;
    let entries: Vec<Value> = (0..1_000)
        .map(|i| json!({"id": format!("k{i}"), "families": {"crm": [{"signal": "s", "impact": 20.0}]}, "classifier_churn_risk": 100.0}))
        .collect();
    let a = batch(&b, "ws_k", json!({"profiles": entries})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let results = a.body["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1_000);
    assert!(
        results.iter().all(|r| r["status"] == 200),
        "every entry stored"
    );
    let (rows, _) = b.at_risk_walk("ws_k", "limit=200").await;
    assert_eq!(rows.len(), 1_000, "every profile scored and listed at risk");
}

#[tokio::test]
async fn two_updates_in_the_same_second_keep_two_history_points() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let body = |crm: f64| json!({"families": {"crm": [{"signal": "champion_left", "impact": crm}]}, "classifier_churn_risk": 30.0});
    for crm in [5.0, 15.0, 15.0] {
        assert_eq!(
            b.put_profile_json("ws_h", "h1", body(crm)).await.status,
            200
        );
    }
    let churn = b
        .call("GET", "/api/v1/profiles/h1/churn", "ws_h", None)
        .await;
    let history = churn.body["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        history.len(),
        2,
        "two changes in one second are two points; the unchanged third PUT adds none: {history:?}"
    );
    assert_eq!(history[0]["score"], churn.body["score"], "newest first");
    assert_eq!(history[0]["previous_score"], history[1]["score"]);
    assert_eq!(
        history[0]["changes"],
        json!([{"family": "crm", "signal": "champion_left", "before": 5.0, "after": 15.0}]),
        "the point says what changed"
    );
    assert_eq!(history[1]["previous_score"], Value::Null, "the first score");
}
