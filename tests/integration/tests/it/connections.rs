//! The connection store keeps one route per Stripe account and moves it on reconnect.

use kustiq::domain::connection::Mode;
use kustiq::domain::ids::{StripeAccountId, WorkspaceId};
use kustiq::domain::time::Timestamp;
use kustiq::ports::connections::ConnectionStore;
use kustiq::ports::store::StoreError;
use kustiq_tests::Engine;
use kustiq_tests::webhook::Bench;

fn acct(s: &str) -> StripeAccountId {
    StripeAccountId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_account_routes_to_one_workspace_only() {
    let bench = Bench::new(Engine::Dynoxide, Timestamp::from_unix(1_767_225_600)).await;
    bench.connect("ws_a", "acct_1Shared", Mode::Live).await;
    let (mut other, _) = {
        let ws = WorkspaceId::parse("ws_b").unwrap_or_else(|e| panic!("{e}"));
        let base = bench
            .store
            .connection(&WorkspaceId::parse("ws_a").unwrap_or_else(|e| panic!("{e}")))
            .await;
        let (mut c, v) = base
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("saved"));
        c.workspace_id = ws;
        (c, v)
    };
    let res = bench.store.save_connection(&other, 0).await;
    assert!(matches!(res, Err(StoreError::Conflict)), "{res:?}");
    let routed = bench
        .store
        .connection_for_account(&acct("acct_1Shared"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        routed.map(|c| c.workspace_id.to_string()),
        Some("ws_a".to_owned())
    );
    other.account_id = acct("acct_1Own");
    assert!(bench.store.save_connection(&other, 0).await.is_ok());
}

#[tokio::test]
async fn reconnecting_another_account_retires_the_old_route() {
    let bench = Bench::new(Engine::Dynoxide, Timestamp::from_unix(1_767_225_600)).await;
    let ws = bench.connect("ws_move", "acct_1Old", Mode::Test).await;
    let (mut c, v) = bench
        .store
        .connection(&ws)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("saved"));
    c.account_id = acct("acct_1New");
    let v2 = bench
        .store
        .save_connection(&c, v)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v2, v + 1);
    assert!(
        bench
            .store
            .connection_for_account(&acct("acct_1Old"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    assert!(
        bench
            .store
            .connection_for_account(&acct("acct_1New"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
    );
    // A writer holding the old version loses.
    assert!(bench.store.save_connection(&c, v).await.is_err());
}
