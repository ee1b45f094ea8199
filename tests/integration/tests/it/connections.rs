//! The connection store keeps one route per Stripe account and moves it on reconnect.

use kustiq::domain::connection::{Connection, Mode};
use kustiq::domain::ids::{StripeAccountId, WorkspaceId};
use kustiq::domain::time::Timestamp;
use kustiq::ports::connections::ConnectionStore;
use kustiq::ports::store::StoreError;
use kustiq_tests::Engine;
use kustiq_tests::webhook::Bench;

fn acct(s: &str) -> StripeAccountId {
    StripeAccountId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

async fn bench() -> Bench {
    Bench::new(Engine::Dynoxide, Timestamp::from_unix(1_767_225_600)).await
}

/// `workspace`'s saved connection and its version.
async fn saved(bench: &Bench, workspace: &WorkspaceId) -> (Connection, u64) {
    bench
        .store
        .connection(workspace)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("saved"))
}

/// The connection `account`'s events are routed to, if any.
async fn routed(bench: &Bench, account: &str) -> Option<Connection> {
    bench
        .store
        .connection_for_account(&acct(account))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_account_routes_to_one_workspace_only() {
    let bench = bench().await;
    let ws_a = bench.connect("ws_a", "acct_1Shared", Mode::Live).await;
    let (mut other, _) = saved(&bench, &ws_a).await;
    other.workspace_id = WorkspaceId::parse("ws_b").unwrap_or_else(|e| panic!("{e}"));

    let res = bench.store.save_connection(&other, 0).await;

    assert!(matches!(res, Err(StoreError::Conflict)), "{res:?}");
    assert_eq!(
        routed(&bench, "acct_1Shared")
            .await
            .map(|c| c.workspace_id.to_string()),
        Some("ws_a".to_owned())
    );
    other.account_id = acct("acct_1Own");
    assert!(bench.store.save_connection(&other, 0).await.is_ok());
}

#[tokio::test]
async fn reconnecting_another_account_retires_the_old_route() {
    let bench = bench().await;
    let ws = bench.connect("ws_move", "acct_1Old", Mode::Test).await;
    let (mut c, v) = saved(&bench, &ws).await;
    c.account_id = acct("acct_1New");

    let v2 = bench
        .store
        .save_connection(&c, v)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(v2, v + 1);
    assert!(routed(&bench, "acct_1Old").await.is_none());
    assert!(routed(&bench, "acct_1New").await.is_some());
    // A writer holding the old version loses.
    assert!(bench.store.save_connection(&c, v).await.is_err());
}
