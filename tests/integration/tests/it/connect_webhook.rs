//! A restricted-key connection's own webhook endpoint: events verified with the
//! secrets the user set (two during a rotation), nothing applied after disconnect.

use crate::connect_bench::{ConnectBench, key_body};
use serde_json::{Value, json};

/// The first customer event of `account`, without `account` (as a direct endpoint sends it).
fn direct_event(bench: &ConnectBench, account: &str, i: usize) -> Value {
    let mut e = bench.customer_events(account).remove(i);
    if let Some(o) = e.as_object_mut() {
        o.remove("account");
    }
    e
}

#[tokio::test]
async fn a_restricted_key_connection_receives_events_signed_with_its_own_secrets() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(1);
    let answer = bench
        .api_key("ws_wh1", key_body(&acct.restricted_key))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let path = format!(
        "/webhooks/stripe/c/{}",
        answer.body["connection_id"].as_str().unwrap_or_default()
    );

    // No secret yet: nothing verifies.
    let e0 = direct_event(&bench, &acct.id, 0).to_string();
    let before = bench.snapshot().await;
    bench
        .post_signed(&path, &e0, "whsec_a")
        .await
        .assert_refused(400, "ERR_WEBHOOK_SIG");
    bench
        .assert_nothing_stored(&before, "an event before any secret")
        .await;

    let put = |secrets: Value| {
        bench.pro(
            "PUT",
            "/api/v1/integrations/stripe/webhook-secret",
            "ws_wh1",
            Some(json!({"secrets": secrets})),
        )
    };
    let set = put(json!(["whsec_a"])).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["webhook_path"], json!(path));
    let ok = bench.post_signed(&path, &e0, "whsec_a").await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_ne!(ok.outcome(), Some("unknown_account"), "{:?}", ok.body);

    // The platform secret does not sign for this endpoint, nor a stranger's.
    let e1 = direct_event(&bench, &acct.id, 1).to_string();
    let before = bench.snapshot().await;
    for wrong in [crate::connect_bench::PLATFORM_WEBHOOK_SECRET, "whsec_b"] {
        bench
            .post_signed(&path, &e1, wrong)
            .await
            .assert_refused(400, "ERR_WEBHOOK_SIG");
    }
    bench
        .post_signed("/webhooks/stripe/c/kc_unknown", &e1, "whsec_a")
        .await
        .assert_refused(400, "ERR_WEBHOOK_SIG");
    bench
        .assert_nothing_stored(&before, "wrongly signed events")
        .await;

    // Rotation: both verify while two are set, then only the new one.
    assert_eq!(put(json!(["whsec_a", "whsec_b"])).await.status, 200);
    assert_eq!(bench.post_signed(&path, &e1, "whsec_b").await.status, 200);
    let e2 = direct_event(&bench, &acct.id, 2).to_string();
    assert_eq!(bench.post_signed(&path, &e2, "whsec_a").await.status, 200);
    assert_eq!(put(json!(["whsec_b"])).await.status, 200);
    let e3 = direct_event(&bench, &acct.id, 3).to_string();
    bench
        .post_signed(&path, &e3, "whsec_a")
        .await
        .assert_refused(400, "ERR_WEBHOOK_SIG");
    assert_eq!(bench.status("ws_wh1").await["webhook_secrets"], json!(1));
    assert!(
        !bench.table_text().await.contains("whsec_"),
        "secrets are sealed"
    );

    // Bad bodies.
    put(json!([])).await.assert_refused(400, "ERR_BAD_REQUEST");
    put(json!(["a", "b", "c"]))
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    put(json!(["not-a-secret"]))
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");

    // After disconnect nothing is applied.
    assert_eq!(
        bench
            .pro("DELETE", "/api/v1/integrations/stripe", "ws_wh1", None)
            .await
            .status,
        200
    );
    let before = bench.snapshot().await;
    bench
        .post_signed(&path, &e3, "whsec_b")
        .await
        .assert_refused(400, "ERR_WEBHOOK_SIG");
    bench
        .assert_nothing_stored(&before, "an event after disconnect")
        .await;
}

#[tokio::test]
async fn oauth_connections_have_no_endpoint_secret_of_their_own() {
    let bench = ConnectBench::new().await;
    assert_eq!(bench.connect_oauth("ws_wh2", "mode=test").await.status, 200);
    bench
        .pro(
            "PUT",
            "/api/v1/integrations/stripe/webhook-secret",
            "ws_wh2",
            Some(json!({"secrets": ["whsec_x"]})),
        )
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    bench
        .pro(
            "PUT",
            "/api/v1/integrations/stripe/webhook-secret",
            "ws_none",
            Some(json!({"secrets": ["whsec_x"]})),
        )
        .await
        .assert_refused(404, "ERR_NOT_FOUND");
}
