//! No token, key or secret in any log line: every line written (at trace level,
//! every crate) during connect (Connect, Apps, restricted key) → reads → refresh →
//! webhook secret → credential job → disconnect is captured and searched.

use crate::connect_bench::{ConnectBench, key_body};
use kustiq::app::connect::rotate_all;
use kustiq::ports::connections::{Credential, GrantStore};
use kustiq::ports::keys::{SealContext, SealPurpose, Sealer};
use kustiq_tests::logs::LogSink as Sink;
use serde_json::json;

#[tokio::test]
async fn no_token_key_or_secret_reaches_a_log_line() {
    use tracing_subscriber::util::SubscriberInitExt;
    let sink = Sink::default();
    let writer = sink.clone();
    let _guard = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .finish()
        .set_default();

    let bench = ConnectBench::new().await;
    let rk = bench.account(1).restricted_key.clone();
    assert_eq!(bench.connect_oauth("ws_lg1", "mode=test").await.status, 200);
    // The Apps connection needs its own account: the first is the Connect one's.
    let app = ConnectBench::new().await;
    assert_eq!(
        app.connect_oauth("ws_lg2", "mode=test&method=app")
            .await
            .status,
        200
    );
    assert_eq!(bench.api_key("ws_lg3", key_body(&rk)).await.status, 200);
    let secret = bench
        .pro(
            "PUT",
            "/api/v1/integrations/stripe/webhook-secret",
            "ws_lg3",
            Some(json!({"secrets": ["whsec_logtest_old", "whsec_logtest_new"]})),
        )
        .await;
    assert_eq!(secret.status, 200, "{:?}", secret.body);
    // A refused key is not logged either.
    bench
        .api_key("ws_lg4", key_body("rk_test_refusedkeylogtest"))
        .await;

    // Sync: reads through each credential; an Apps refresh; the credential job.
    assert!(bench.customers_read("ws_lg1").await.is_ok());
    assert!(bench.customers_read("ws_lg3").await.is_ok());
    app.sim.sim.expire_access_tokens();
    app.clock.advance(3_600);
    assert!(app.customers_read("ws_lg2").await.is_ok());
    rotate_all(&bench.readers, bench.clock_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rotate_all(&app.readers, app.clock_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Every plaintext this flow held: the Apps tokens now stored (opened here,
    // outside the capture's meaning: the test reads them to search for them).
    let (grant, _) = app
        .store
        .grant(&crate::connect_bench::wsid("ws_lg2"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no grant"));
    let Credential::App {
        access_token,
        refresh_token,
        ..
    } = &grant.credential
    else {
        panic!("not an Apps grant");
    };
    let ctx = |p| SealContext::for_account(grant.workspace_id.clone(), grant.account_id.clone(), p);
    let access = app
        .sealer
        .open(&ctx(SealPurpose::AccessToken), access_token)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refresh = app
        .sealer
        .open(&ctx(SealPurpose::OauthRefreshToken), refresh_token)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for b in [&bench, &app] {
        for ws in ["ws_lg1", "ws_lg2", "ws_lg3"] {
            let d = b
                .pro("DELETE", "/api/v1/integrations/stripe", ws, None)
                .await;
            assert_eq!(d.status, 200, "{:?}", d.body);
        }
    }

    let logs = String::from_utf8_lossy(&sink.bytes()).into_owned();
    assert!(
        logs.contains("Stripe connected"),
        "the capture saw the flow"
    );
    assert!(logs.contains("Stripe Apps token refreshed"));
    for (what, secret) in [
        ("restricted key", rk.as_str()),
        ("refused key", "rk_test_refusedkeylogtest"),
        ("Apps access token", access.expose()),
        ("Apps refresh token", refresh.expose()),
        ("webhook secret", "whsec_logtest"),
        ("platform key", stripe_sim::PLATFORM_KEY),
        ("OAuth state key", "bench-state-key"),
        ("any Apps token", "rk_test_app_"),
        ("any Connect access token", "sk_test_oauth_"),
        ("any refresh token", "\"rt_"),
    ] {
        assert!(!logs.contains(secret), "the {what} reached a log line");
    }
}
