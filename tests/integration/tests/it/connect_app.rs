//! Stripe Apps OAuth: one-hour access tokens refreshed before expiry with the
//! rotating refresh token; concurrent refreshes serialized; `invalid_grant` shows
//! ERR_ST_401; the credential job refreshes and re-seals.

use crate::connect_bench::{ConnectBench, wsid};
use futures::future::join_all;
use kustiq::app::connect::rotate_all;
use kustiq::ports::connections::{Credential, GrantStore};
use kustiq::ports::stripe::StripeError;
use serde_json::json;

/// The stored Apps credential's sealed refresh and access tokens, as stored.
async fn blobs(bench: &ConnectBench, ws: &str) -> (String, String) {
    let (grant, _) = bench
        .store
        .grant(&wsid(ws))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("{ws} has no grant"));
    match grant.credential {
        Credential::App {
            access_token,
            refresh_token,
            ..
        } => (refresh_token.to_string(), access_token.to_string()),
        other => panic!("not an Apps grant: {other:?}"),
    }
}

/// An hour passes on both clocks: the simulator's tokens expire, ours are due.
fn an_hour_passes(bench: &ConnectBench) {
    bench.sim.sim.expire_access_tokens();
    bench.clock.advance(3_600);
}

#[tokio::test]
async fn an_app_connection_refreshes_its_token_before_it_expires() {
    let bench = ConnectBench::new().await;
    let answer = bench.connect_oauth("ws_app1", "mode=test&method=app").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let status = bench.status("ws_app1").await;
    assert_eq!(status["method"], json!("app"));
    assert_eq!(bench.customers_read("ws_app1").await.ok(), Some(20));
    let (refresh_before, access_before) = blobs(&bench, "ws_app1").await;

    an_hour_passes(&bench);
    assert_eq!(bench.customers_read("ws_app1").await.ok(), Some(20));
    let (refresh_after, access_after) = blobs(&bench, "ws_app1").await;
    assert_ne!(
        refresh_before, refresh_after,
        "the rotated refresh token is stored"
    );
    assert_ne!(access_before, access_after);
    // A second hour: the stored (rotated) refresh token is the one that works.
    an_hour_passes(&bench);
    assert_eq!(bench.customers_read("ws_app1").await.ok(), Some(20));
    let table = bench.table_text().await;
    for plain in ["rt_", "rk_test_app_"] {
        assert!(!table.contains(plain), "{plain} stored in plaintext");
    }
    assert_eq!(bench.status("ws_app1").await["error"], json!(null));
}

#[tokio::test]
async fn concurrent_refreshes_never_lose_the_new_refresh_token() {
    let bench = ConnectBench::new().await;
    let answer = bench.connect_oauth("ws_app2", "mode=test&method=app").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    for round in 0..3 {
        an_hour_passes(&bench);
        // Without serialization, all but one refresh would present a refresh token
        // Stripe already rotated away and get invalid_grant.
        let reads = join_all((0..8).map(|_| bench.customers_read("ws_app2"))).await;
        for r in &reads {
            assert_eq!(r.as_ref().ok(), Some(&20), "round {round}: {reads:?}");
        }
        assert_eq!(bench.status("ws_app2").await["error"], json!(null));
    }
}

#[tokio::test]
async fn a_refused_refresh_token_shows_err_st_401() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let answer = bench.connect_oauth("ws_app3", "mode=test&method=app").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // Stripe forgets every grant of the account (as a revoke from its dashboard does).
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/deauthorize", bench.sim.base_url))
        .bearer_auth(stripe_sim::PLATFORM_KEY)
        .form(&[
            ("client_id", stripe_sim::CLIENT_ID),
            ("stripe_user_id", acct.id.as_str()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(resp.status().is_success());
    an_hour_passes(&bench);
    let read = bench.customers_read("ws_app3").await;
    assert!(
        matches!(read, Err(StripeError::Unauthorized { .. })),
        "{read:?}"
    );
    let status = bench.status("ws_app3").await;
    assert_eq!(status["error"]["code"], json!("ERR_ST_401"), "{status}");
    assert_eq!(status["error"]["doc"], json!("/docs/stripe#ERR_ST_401"));
}

#[tokio::test]
async fn the_credential_job_refreshes_apps_tokens_and_reseals_every_credential() {
    let bench = ConnectBench::new().await;
    let app = bench.connect_oauth("ws_job1", "mode=test&method=app").await;
    assert_eq!(app.status, 200, "{:?}", app.body);
    let key = bench
        .api_key(
            "ws_job2",
            crate::connect_bench::key_body(&bench.account(1).restricted_key),
        )
        .await;
    assert_eq!(key.status, 200, "{:?}", key.body);
    let store = bench.store.clone();
    let stored = |ws: &'static str| {
        let store = store.clone();
        async move {
            let (g, _) = store
                .grant(&wsid(ws))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("{ws}"));
            g
        }
    };
    let (app_before, key_before) = (stored("ws_job1").await, stored("ws_job2").await);

    let run = rotate_all(&bench.readers, bench.clock_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (run.refreshed, run.resealed, run.failed),
        (1, 2, 0),
        "{run:?}"
    );
    let (app_after, key_after) = (stored("ws_job1").await, stored("ws_job2").await);
    assert_ne!(app_before.credential, app_after.credential);
    assert_ne!(
        key_before.credential, key_after.credential,
        "a fresh data key"
    );
    // Both still read.
    assert_eq!(bench.customers_read("ws_job1").await.ok(), Some(20));
    assert!(bench.customers_read("ws_job2").await.is_ok_and(|n| n > 0));
}
