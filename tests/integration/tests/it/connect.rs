//! Connecting a workspace (issue 11) end to end: Connect OAuth and restricted keys,
//! state checks, the plan gate, one account per workspace, the local runner's routes.

use crate::connect_bench::{ConnectBench, key_body, wsid};
use kustiq::domain::region::Region;
use kustiq::ports::connections::GrantStore;
use kustiq::ports::stripe::StripeReader;
use serde_json::{Value, json};
use std::collections::HashMap;
use stripe_sim::{AccountInfo, Flag};

#[tokio::test]
async fn connect_oauth_stores_a_sealed_grant_and_queues_the_backfill() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let before = bench.table_text().await;
    assert!(!before.contains("GRANT"));

    let answer = bench
        .connect_oauth("ws_c1", "mode=test&backfill=30d&method=connect")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["account_id"], json!(acct.id));

    let status = bench.status("ws_c1").await;
    assert_eq!(status["connected"], json!(true), "{status}");
    assert_eq!(status["method"], json!("connect"));
    assert_eq!(status["mode"], json!("test"));
    assert_eq!(status["region"], json!("eu"));
    assert_eq!(status["account_id"], json!(acct.id));
    assert_eq!(status["window"], json!("30d"));
    assert_eq!(status["backfill"]["state"], json!("pending"));
    assert_eq!(status["cross_region"], json!(false));
    assert!(status["connected_since"].is_string(), "{status}");
    assert_eq!(status["error"], Value::Null);

    // The refresh token is stored sealed: no plaintext token in any item.
    let table = bench.table_text().await;
    assert!(table.contains("ksv1."), "a sealed blob is stored");
    for plain in ["rt_", "sk_test_oauth_", stripe_sim::PLATFORM_KEY] {
        assert!(!table.contains(plain), "{plain} stored in plaintext");
    }
    // Reads go through the platform key with Stripe-Account.
    assert_eq!(bench.customers_read("ws_c1").await.ok(), Some(20));
}

#[tokio::test]
async fn denied_consent_answers_a_clear_code_and_stores_nothing() {
    let bench = ConnectBench::new().await;
    let before = bench.snapshot().await;
    let start = bench.start("ws_d1", "mode=test&backfill=90d").await;
    let path = bench.authorize(&start, "&deny=1").await;
    assert!(path.contains("error=access_denied"), "{path}");
    bench
        .callback(&path, None)
        .await
        .assert_refused(400, "ERR_OAUTH_DENIED");
    bench
        .assert_nothing_stored(&before, "a denied consent")
        .await;
    assert_eq!(bench.status("ws_d1").await["connected"], json!(false));
}

#[tokio::test]
async fn forged_expired_replayed_and_foreign_states_are_refused() {
    let bench = ConnectBench::new().await;
    let start = bench.start("ws_s1", "mode=test").await;
    let path = bench.authorize(&start, "").await;
    let before = bench.snapshot().await;

    // Forged: the signed body altered (another workspace written in), tag kept.
    let (head, state) = path
        .split_once("state=")
        .unwrap_or_else(|| panic!("{path}"));
    let state = state.split('&').next().unwrap_or_default();
    let decoded: String = url::form_urlencoded::parse(format!("s={state}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (body, tag) = decoded
        .split_once('.')
        .unwrap_or_else(|| panic!("{decoded}"));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = String::from_utf8(b64.decode(body).unwrap_or_default()).unwrap_or_default();
    let forged_body = b64.encode(json.replace("ws_s1", "ws_s2"));
    let forged = format!("{head}state={forged_body}.{tag}");
    bench
        .callback(&forged, None)
        .await
        .assert_refused(400, "ERR_OAUTH_STATE");
    // A state with no signature at all.
    bench
        .callback(&format!("{head}state={forged_body}"), None)
        .await
        .assert_refused(400, "ERR_OAUTH_STATE");
    // Another workspace's identity presenting ws_s1's state.
    let other = bench.callback(&path, Some("ws_s2")).await;
    other.assert_refused(400, "ERR_OAUTH_STATE");
    assert!(
        other.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("another workspace")
    );
    bench
        .assert_nothing_stored(&before, "forged and foreign states")
        .await;

    // The genuine state works once, as its own workspace ...
    let first = bench.callback(&path, Some("ws_s1")).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    // ... and never again.
    let after_first = bench.snapshot().await;
    let replay = bench.callback(&path, None).await;
    replay.assert_refused(400, "ERR_OAUTH_STATE");
    assert!(
        replay.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already used")
    );
    bench
        .assert_nothing_stored(&after_first, "a replayed state")
        .await;

    // Expired: ten minutes after it was issued.
    let start = bench.start("ws_s3", "mode=test").await;
    let path = bench.authorize(&start, "").await;
    bench.clock.advance(600);
    let before = bench.snapshot().await;
    let expired = bench.callback(&path, None).await;
    expired.assert_refused(400, "ERR_OAUTH_STATE");
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired")
    );
    bench
        .assert_nothing_stored(&before, "an expired state")
        .await;
    assert!(bench.connection("ws_s3").await.is_none());
}

#[tokio::test]
async fn only_pro_workspaces_connect() {
    let bench = ConnectBench::new().await;
    let before = bench.snapshot().await;
    for plan in ["free", "insight"] {
        let r = bench.request(
            "GET",
            "/api/v1/integrations/stripe/connect?mode=test",
            Some(("ws_p1", plan)),
            None,
        );
        bench.send(r).await.assert_refused(403, "ERR_PLAN_REQUIRED");
        let r = bench.request(
            "POST",
            "/api/v1/integrations/stripe/api-key",
            Some(("ws_p1", plan)),
            Some(key_body(&bench.account(0).restricted_key)),
        );
        bench.send(r).await.assert_refused(403, "ERR_PLAN_REQUIRED");
    }
    bench
        .assert_nothing_stored(&before, "non-Pro connects")
        .await;
}

#[tokio::test]
async fn a_restricted_key_connects_after_each_read_permission_is_checked() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(1);
    let answer = bench.api_key("ws_k1", key_body(&acct.restricted_key)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let status = bench.status("ws_k1").await;
    assert_eq!(status["method"], json!("api_key"));
    assert_eq!(status["account_id"], json!(acct.id));
    assert_eq!(status["backfill"]["state"], json!("pending"));
    let id = status["connection_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("kc_"), "{status}");
    assert_eq!(
        status["webhook_path"],
        json!(format!("/webhooks/stripe/c/{id}"))
    );
    assert!(!bench.table_text().await.contains(&acct.restricted_key));
    assert!(bench.customers_read("ws_k1").await.is_ok_and(|n| n > 0));
}

#[tokio::test]
async fn a_key_missing_permissions_is_refused_naming_each_one() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    bench
        .sim
        .sim
        .set_flag(&acct.id, Flag::PermissionDenied, true);
    let before = bench.snapshot().await;
    let answer = bench.api_key("ws_k2", key_body(&acct.restricted_key)).await;
    answer.assert_refused(403, "ERR_ST_403");
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    for permission in [
        "rak_customer_read",
        "rak_subscription_read",
        "rak_invoice_read",
        "rak_charge_read",
        "rak_dispute_read",
    ] {
        assert!(
            message.contains(permission),
            "{permission} not named: {message}"
        );
    }
    bench
        .assert_nothing_stored(&before, "a key without permissions")
        .await;
}

#[tokio::test]
async fn bad_keys_secret_keys_and_the_other_mode_are_refused() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let before = bench.snapshot().await;
    bench
        .api_key("ws_k3", key_body("sk_test_something"))
        .await
        .assert_refused(400, "ERR_SECRET_KEY_REFUSED");
    bench
        .api_key("ws_k3", key_body("pk_test_x"))
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    bench
        .api_key(
            "ws_k3",
            json!({"api_key": acct.restricted_key, "mode": "live"}),
        )
        .await
        .assert_refused(400, "ERR_MODE_MISMATCH");
    let unknown = bench.api_key("ws_k3", key_body("rk_test_unknown")).await;
    unknown.assert_refused(409, "ERR_ST_401");
    assert!(!unknown.body.to_string().contains("rk_test_unknown"));
    bench
        .api_key(
            "ws_k3",
            json!({"api_key": acct.restricted_key, "mode": "test", "extra": 1}),
        )
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    bench.assert_nothing_stored(&before, "refused keys").await;
}

#[tokio::test]
async fn an_operator_can_offer_restricted_keys_only_and_allow_secret_keys() {
    let bench = ConnectBench::with(Region::Eu, |s| {
        s.methods = vec![kustiq::domain::connection::ConnectMethod::ApiKey];
        s.allow_secret_key = true;
    })
    .await;
    bench
        .start("ws_o1", "mode=test&method=connect")
        .await
        .assert_refused(403, "ERR_METHOD_DISABLED");
    bench
        .start("ws_o1", "mode=test&method=app")
        .await
        .assert_refused(403, "ERR_METHOD_DISABLED");
    // The simulator accepts only its restricted keys, so an allowed sk_ key gets as
    // far as Stripe, which refuses it.
    bench
        .api_key("ws_o1", key_body("sk_test_unknown"))
        .await
        .assert_refused(409, "ERR_ST_401");
}

#[tokio::test]
async fn one_stripe_account_connects_to_one_workspace() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let first = bench.connect_oauth("ws_a1", "mode=test").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let before = bench.connection("ws_a1").await;

    let second = bench.connect_oauth("ws_a2", "mode=test").await;
    second.assert_refused(409, "ERR_ACCOUNT_ALREADY_CONNECTED");
    bench
        .api_key("ws_a3", key_body(&acct.restricted_key))
        .await
        .assert_refused(409, "ERR_ACCOUNT_ALREADY_CONNECTED");
    assert_eq!(
        bench.connection("ws_a1").await,
        before,
        "the first is untouched"
    );
    assert!(bench.connection("ws_a2").await.is_none());
    assert!(bench.connection("ws_a3").await.is_none());
    assert_eq!(bench.status("ws_a1").await["connected"], json!(true));
}

#[tokio::test]
async fn a_grant_of_the_other_mode_is_refused() {
    let bench = ConnectBench::new().await;
    // The simulator grants test mode only.
    let answer = bench.connect_oauth("ws_m1", "mode=live").await;
    answer.assert_refused(400, "ERR_MODE_MISMATCH");
    assert!(bench.connection("ws_m1").await.is_none());
    assert!(
        bench
            .store
            .grant(&wsid("ws_m1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

#[tokio::test]
async fn a_workspace_connected_to_one_account_must_disconnect_before_another() {
    let bench = ConnectBench::new().await;
    let first = bench.connect_oauth("ws_r1", "mode=test").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    bench
        .api_key("ws_r1", key_body(&bench.account(1).restricted_key))
        .await
        .assert_refused(409, "ERR_CONFLICT");
    // The same account again renews the grant.
    let again = bench.connect_oauth("ws_r1", "mode=test&backfill=all").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(bench.status("ws_r1").await["window"], json!("all"));
}

#[tokio::test]
async fn ingest_reads_what_a_payload_lacks_through_the_connections_own_credentials() {
    use kustiq::adapters::stripe::StripeCredentials;
    use kustiq::domain::ids::StripeAccountId;
    use kustiq::ports::catalog::CatalogSources;
    let bench = ConnectBench::new().await;
    let (keyed, other) = (bench.account(1), bench.account(0));
    assert_eq!(
        bench
            .api_key("ws_cat1", key_body(&keyed.restricted_key))
            .await
            .status,
        200
    );
    let id =
        |a: &AccountInfo| StripeAccountId::parse(a.id.as_str()).unwrap_or_else(|e| panic!("{e}"));
    let source = CatalogSources::for_account(&bench.readers, &id(&keyed))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(source.credentials(), StripeCredentials::Bearer { .. }),
        "a restricted-key connection reads with its key"
    );
    assert!(source.account().await.is_ok());
    // An account without stored credentials reads through the platform key, as before.
    let platform = CatalogSources::for_account(&bench.readers, &id(&other))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        platform.credentials(),
        StripeCredentials::Connect { .. }
    ));
}

#[tokio::test]
async fn the_local_runner_serves_the_connect_and_disconnect_routes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stack = kustiq_local::runner::start_at(dir.path(), Region::Eu, "http://127.0.0.1:18080")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let routes = stack.router.routes();
    for route in [
        ("GET", "/api/v1/integrations/stripe/connect"),
        ("GET", "/api/v1/integrations/stripe/oauth/callback"),
        ("POST", "/api/v1/integrations/stripe/api-key"),
        ("PUT", "/api/v1/integrations/stripe/webhook-secret"),
        ("DELETE", "/api/v1/integrations/stripe"),
        ("POST", "/api/v1/integrations/stripe/erase"),
        ("POST", "/webhooks/stripe/c/{connection_id}"),
        ("GET", "/api/v1/integrations/stripe"),
    ] {
        assert!(routes.contains(&route), "{route:?} not mounted");
    }
    // The connect route answers with Stripe's consent URL, redirecting back to the runner.
    let bench = ConnectBench::new().await;
    let req = bench.request(
        "GET",
        "/api/v1/integrations/stripe/connect?mode=test&backfill=30d",
        Some(("ws_local", "pro")),
        None,
    );
    let resp = stack.router.handle(req).await;
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let url = url::Url::parse(&location).unwrap_or_else(|e| panic!("{location}: {e}"));
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("scope").map(String::as_str), Some("read_only"));
    assert_eq!(
        q.get("redirect_uri").map(String::as_str),
        Some("http://127.0.0.1:18080/api/v1/integrations/stripe/oauth/callback")
    );
    assert!(q.get("state").is_some_and(|s| s.contains('.')));
    // DELETE on the status path is the disconnect route, GET still the status.
    let del = bench.request(
        "DELETE",
        "/api/v1/integrations/stripe",
        Some(("ws_local", "pro")),
        None,
    );
    assert_eq!(stack.router.handle(del).await.status().as_u16(), 200);
    let get = bench.request(
        "GET",
        "/api/v1/integrations/stripe",
        Some(("ws_local", "pro")),
        None,
    );
    assert_eq!(stack.router.handle(get).await.status().as_u16(), 200);
}

#[tokio::test]
async fn connect_rotate_webhook_disconnect_and_erase_work_on_the_embedded_engine() {
    use kustiq_tests::Engine;
    let bench = ConnectBench::on(Engine::Dynoxide, Region::Eu, |_| {}).await;
    let acct = bench.account(1);
    let answer = bench
        .api_key("ws_dx1", key_body(&acct.restricted_key))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(bench.connect_oauth("ws_dx2", "mode=test").await.status, 200);
    let set = bench
        .pro(
            "PUT",
            "/api/v1/integrations/stripe/webhook-secret",
            "ws_dx1",
            Some(json!({"secrets": ["whsec_dx"]})),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let run = kustiq::app::connect::rotate_all(&bench.readers, bench.clock_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((run.resealed, run.failed), (2, 0), "{run:?}");
    assert!(bench.customers_read("ws_dx1").await.is_ok_and(|n| n > 0));
    for ws in ["ws_dx1", "ws_dx2"] {
        let d = bench
            .pro("DELETE", "/api/v1/integrations/stripe", ws, None)
            .await;
        assert_eq!(d.status, 200, "{:?}", d.body);
        let e = bench
            .pro("POST", "/api/v1/integrations/stripe/erase", ws, None)
            .await;
        assert_eq!(e.status, 200, "{:?}", e.body);
        assert!(bench.connection(ws).await.is_none());
    }
    assert!(!bench.table_text().await.contains(&acct.id));
}
