//! A connection's life after connect: revoked by Stripe, mode separation,
//! disconnect and reconnect keeping history, and erase leaving no Stripe-derived item.

use crate::connect_bench::{ConnectBench, key_body, wsid};
use kustiq::app::connect::erase;
use kustiq::domain::ids::{StripeAccountId, StripeObjectId};
use kustiq::domain::mrr::{CouponDuration, DiscountValue, Ratio};
use kustiq::ports::catalog::CatalogStore;
use kustiq::ports::readers::ConnectionReaders;
use kustiq::ports::stripe::StripeError;
use kustiq::stripe::catalog::{Catalog, CouponTerms, DiscountTerms};
use kustiq_tests::faults::DiesAfterWrites;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An `account.application.deauthorized` event for `account`.
fn deauthorized(account: &str, n: u32) -> Value {
    json!({
        "id": format!("evt_deauth{n}"), "object": "event", "api_version": "2025-03-31.basil",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": "account.application.deauthorized", "account": account,
        "data": {"object": {"id": "ca_sim", "object": "application", "name": "Kustiq"}}
    })
}

#[tokio::test]
async fn a_grant_revoked_at_stripe_stops_the_connection_with_err_st_401() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let answer = bench.connect_oauth("ws_rv1", "mode=test").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    bench
        .post_platform(&deauthorized(&acct.id, 1))
        .await
        .assert_acknowledged("deauthorized");
    let status = bench.status("ws_rv1").await;
    assert_eq!(status["connected"], json!(false), "{status}");
    assert_eq!(status["error"]["code"], json!("ERR_ST_401"));
    let conn = bench
        .connection("ws_rv1")
        .await
        .unwrap_or_else(|| panic!("gone"));
    let read = bench.readers.for_connection(&conn).await;
    assert!(matches!(read, Err(StripeError::Unauthorized { .. })));
    // Reconnecting restores it.
    let again = bench.connect_oauth("ws_rv1", "mode=test").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(bench.status("ws_rv1").await["connected"], json!(true));
}

#[tokio::test]
async fn events_of_the_other_mode_never_move_scores() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    assert_eq!(bench.connect_oauth("ws_md1", "mode=test").await.status, 200);
    let mut event = bench.customer_events(&acct.id).remove(0);
    event["account"] = json!(acct.id);
    event["livemode"] = json!(true);
    bench
        .post_platform(&event)
        .await
        .assert_acknowledged("mode_mismatch");
    let status = bench.status("ws_md1").await;
    assert_eq!(status["error"]["code"], json!("ERR_MODE_MISMATCH"));
}

#[tokio::test]
async fn disconnect_keeps_history_and_a_reconnect_restores_the_billing_family() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    assert_eq!(bench.connect_oauth("ws_dc1", "mode=test").await.status, 200);
    let events = bench.customer_events(&acct.id);
    let mut event = events[0].clone();
    event["account"] = json!(acct.id);
    let customer = kustiq_tests::simulated::customer_of(&event).unwrap_or_default();
    assert_eq!(
        bench
            .put_profile("ws_dc1", "p1", Some(&customer))
            .await
            .status,
        200
    );
    bench
        .post_platform(&event)
        .await
        .assert_acknowledged("applied");
    let churn = bench.churn("ws_dc1", "p1").await;
    assert!(churn["families"]["billing"].is_object(), "{churn}");
    let history_before = churn["history"].as_array().map_or(0, Vec::len);

    let d = bench
        .pro("DELETE", "/api/v1/integrations/stripe", "ws_dc1", None)
        .await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(
        d.body["revoked_at_stripe"],
        json!(true),
        "Connect deauthorize"
    );
    let status = bench.status("ws_dc1").await;
    assert_eq!(status["connected"], json!(false));
    assert_eq!(status["status"], json!("disconnected"));
    assert!(
        !bench.table_text().await.contains("GRANT#"),
        "credentials deleted"
    );
    // Idempotent.
    let again = bench
        .pro("DELETE", "/api/v1/integrations/stripe", "ws_dc1", None)
        .await;
    assert_eq!(
        (again.status, &again.body["was_connected"]),
        (200, &json!(false))
    );
    // New events are no longer applied.
    let mut later = events[1].clone();
    later["account"] = json!(acct.id);
    bench
        .post_platform(&later)
        .await
        .assert_acknowledged("unknown_account");
    // History stays; the next score has no billing family.
    bench.clock.advance(60);
    assert_eq!(
        bench
            .put_profile("ws_dc1", "p1", Some(&customer))
            .await
            .status,
        200
    );
    let churn = bench.churn("ws_dc1", "p1").await;
    assert!(churn["families"]["billing"].is_null(), "{churn}");
    assert!(churn["history"].as_array().map_or(0, Vec::len) > history_before);

    // Reconnect: the billing family is back, from the kept billing state.
    assert_eq!(bench.connect_oauth("ws_dc1", "mode=test").await.status, 200);
    bench.clock.advance(60);
    assert_eq!(
        bench
            .put_profile("ws_dc1", "p1", Some(&customer))
            .await
            .status,
        200
    );
    let churn = bench.churn("ws_dc1", "p1").await;
    assert!(churn["families"]["billing"].is_object(), "{churn}");
    assert!(churn["history"].as_array().map_or(0, Vec::len) > history_before + 1);
}

/// `ws` connected to account 1 by key, five of its customers' events applied to
/// profiles `p0`..`p4`, a discount and its coupon in the account's catalog cache, then
/// disconnected: ready for an erase. The Stripe ids the table holds (account,
/// customers, events, discount, coupon), all present.
async fn disconnected_with_billing(bench: &ConnectBench, ws: &str) -> Vec<String> {
    let acct = bench.account(1);
    let answer = bench.api_key(ws, key_body(&acct.restricted_key)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let events = bench.customer_events(&acct.id);
    let mut ids: Vec<String> = vec![acct.id.clone()];
    for (i, e) in events.iter().take(5).enumerate() {
        let mut e = e.clone();
        e["account"] = json!(acct.id);
        let customer = kustiq_tests::simulated::customer_of(&e).unwrap_or_default();
        let profile = format!("p{i}");
        assert_eq!(
            bench
                .put_profile(ws, &profile, Some(&customer))
                .await
                .status,
            200
        );
        let a = bench.post_platform(&e).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        ids.push(customer);
        ids.push(e["id"].as_str().unwrap_or_default().to_owned());
    }
    // The account's catalog cache, as a discounted subscription's event leaves it.
    let coupon = "ERASE20".to_owned();
    let catalog = Catalog {
        prices: Default::default(),
        discounts: BTreeMap::from([(
            StripeObjectId::parse("di_erase").unwrap_or_else(|e| panic!("{e}")),
            DiscountTerms {
                coupon: coupon.clone(),
                end: None,
            },
        )]),
        coupons: BTreeMap::from([(
            coupon.clone(),
            CouponTerms {
                value: DiscountValue::PercentOff(Ratio::int(20)),
                duration: CouponDuration::Forever,
            },
        )]),
    };
    let account = StripeAccountId::parse(acct.id.clone()).unwrap_or_else(|e| panic!("{e}"));
    bench
        .store
        .remember(&account, &catalog)
        .await
        .unwrap_or_else(|e| panic!("remember: {e}"));
    ids.extend(["di_erase".to_owned(), coupon]);
    let before = bench.table_text().await;
    assert!(ids.iter().all(|id| before.contains(id.as_str())));
    let d = bench
        .pro("DELETE", "/api/v1/integrations/stripe", ws, None)
        .await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    ids
}

/// No item holds any of `ids`, `ws`'s profiles kept every family but billing, and its
/// connection is gone.
async fn assert_erased(bench: &ConnectBench, ws: &str, ids: &[String]) {
    let after = bench.table_text().await;
    for id in ids {
        let holders: Vec<&str> = after.lines().filter(|l| l.contains(id.as_str())).collect();
        assert!(
            !after.contains(id.as_str()),
            "{id} survived the erase in {holders:?}"
        );
    }
    for i in 0..5 {
        let churn = bench.churn(ws, &format!("p{i}")).await;
        assert!(churn["families"]["billing"].is_null(), "{churn}");
        assert!(
            churn["families"]["crm"].is_object(),
            "other families stay: {churn}"
        );
    }
    let status = bench.status(ws).await;
    assert_eq!(status["connected"], json!(false));
    assert!(bench.connection(ws).await.is_none());
}

#[tokio::test]
async fn erase_leaves_no_stripe_derived_item_and_scores_lose_the_billing_family() {
    let bench = ConnectBench::new().await;
    let ids = disconnected_with_billing(&bench, "ws_er1").await;
    for _ in 0..2 {
        let e = bench
            .pro("POST", "/api/v1/integrations/stripe/erase", "ws_er1", None)
            .await;
        assert_eq!(e.status, 200, "{:?}", e.body);
    }
    assert_erased(&bench, "ws_er1", &ids).await;
}

/// Erase is many writes; a process may die after any of them. For every `n`, an erase
/// dies after its `n`th write and is asked again: the second leaves nothing behind.
#[tokio::test]
async fn an_erase_dying_after_any_write_and_asked_again_leaves_no_stripe_derived_item() {
    let bench = ConnectBench::new().await;
    let engine = kustiq::http::Settings::new(bench.region).engine;
    for n in 0.. {
        let name = format!("ws_ed{n}");
        let ids = disconnected_with_billing(&bench, &name).await;
        let ws = wsid(&name);
        let dies = DiesAfterWrites::after(n);
        let first = erase(&dies.wrap(&bench.store), &engine, &ws, bench.clock_now()).await;
        let died = dies.died();
        let done = if died {
            erase(&bench.store, &engine, &ws, bench.clock_now()).await
        } else {
            first
        };
        done.unwrap_or_else(|e| panic!("the erase after {n} writes: {e}"));
        assert_erased(&bench, &name, &ids).await;
        if !died {
            assert!(n >= 10, "an erase is more than {n} writes");
            break;
        }
        assert!(n < 500, "the erase never ended");
    }
}

#[tokio::test]
async fn an_owed_deauthorization_is_retried_by_the_credential_job_and_a_reconnect_cancels_it() {
    use kustiq::app::connect::rotate_all;
    use kustiq::domain::ids::StripeAccountId;
    use kustiq::ports::connections::GrantStore;
    let bench = ConnectBench::new().await;
    let (a0, a1) = (bench.account(0), bench.account(1));
    let id = |s: &str| StripeAccountId::parse(s).unwrap_or_else(|e| panic!("{e}"));
    // As a disconnect whose deauthorize failed leaves them.
    for a in [&a0, &a1] {
        bench
            .store
            .queue_deauthorization(&id(&a.id))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Connecting a0 again (the simulator's consent picks the first account) cancels
    // what was owed for it.
    assert_eq!(bench.connect_oauth("ws_ow1", "mode=test").await.status, 200);
    let owed = bench
        .store
        .owed_deauthorizations()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        owed,
        vec![id(&a1.id)],
        "a connect of a0 cancelled its owed deauthorization"
    );
    let run = rotate_all(&bench.readers, bench.clock_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.deauthorized, 1, "{run:?}");
    assert!(
        bench
            .store
            .owed_deauthorizations()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    // Stripe revoked a1: its key no longer reads.
    let key = bench.api_key("ws_ow2", key_body(&a1.restricted_key)).await;
    key.assert_refused(409, "ERR_ST_401");
}
