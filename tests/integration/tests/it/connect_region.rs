//! Region pinning at connect: a Stripe account of the other region is refused
//! unless the user consents, which is recorded and shown; an EU connect writes
//! nothing to the US table and its ciphertext does not open with the US key.

use crate::connect_bench::{ConnectBench, key_body, wsid};
use kustiq::adapters::kms::KmsSealer;
use kustiq::domain::region::Region;
use kustiq::ports::connections::GrantStore;
use kustiq::ports::keys::{SealContext, SealPurpose, Sealer};
use kustiq_tests::snapshot::TableSnapshot;
use kustiq_tests::{Engine, TestStore, moto};
use serde_json::json;

#[tokio::test]
async fn an_account_of_the_other_region_needs_consent() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    assert!(bench.sim.sim.set_country(&acct.id, "US"));
    let before = bench.snapshot().await;
    let refused = bench
        .api_key("ws_rg1", key_body(&acct.restricted_key))
        .await;
    refused.assert_refused(421, "ERR_REGION_MISMATCH");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("cross_region=accept")
    );
    bench
        .assert_nothing_stored(&before, "a refused cross-region connect")
        .await;
    let oauth = bench.connect_oauth("ws_rg1", "mode=test").await;
    oauth.assert_refused(421, "ERR_REGION_MISMATCH");
    assert!(bench.connection("ws_rg1").await.is_none());

    let consented = bench
        .connect_oauth("ws_rg1", "mode=test&cross_region=accept")
        .await;
    assert_eq!(consented.status, 200, "{:?}", consented.body);
    let status = bench.status("ws_rg1").await;
    assert_eq!(status["cross_region"], json!(true), "{status}");
    assert_eq!(status["region"], json!("eu"));
    // An account of the workspace's own region records no consent, even if offered.
    let own = bench.account(1);
    let body = json!({"api_key": own.restricted_key, "mode": "test", "cross_region": "accept"});
    assert_eq!(bench.api_key("ws_rg2", body).await.status, 200);
    assert_eq!(bench.status("ws_rg2").await["cross_region"], json!(false));
}

#[tokio::test]
async fn an_eu_connect_writes_nothing_to_the_us_table_and_its_ciphertext_stays_in_the_eu() {
    let us_table = TestStore::new(Engine::DynamoDbLocal, Region::Us.aws_region()).await;
    let (us_config, us_key) = moto::create_kms_key(Region::Us.aws_region()).await;
    let us_sealer = KmsSealer::new(&us_config, us_key);
    let us_before = TableSnapshot::take(&us_table.store).await;

    let bench = ConnectBench::new().await;
    let acct = bench.account(1);
    let answer = bench
        .api_key("ws_eu1", key_body(&acct.restricted_key))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(TableSnapshot::take(&us_table.store).await, us_before);

    let (grant, _) = bench
        .store
        .grant(&wsid("ws_eu1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no grant"));
    let blob = grant.credential.blobs()[0].clone();
    assert!(blob.key_id().contains("eu-central-1"), "{}", blob.key_id());
    let ctx = SealContext::for_account(
        wsid("ws_eu1"),
        grant.account_id.clone(),
        SealPurpose::RestrictedKey,
    );
    assert!(
        us_sealer.open(&ctx, &blob).await.is_err(),
        "the US key opened an EU blob"
    );
    // The EU key opens it, only with the right account in the context.
    let plain = bench
        .sealer
        .open(&ctx, &blob)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.expose(), acct.restricted_key);
    let other = SealContext::for_account(
        wsid("ws_eu1"),
        kustiq::domain::ids::StripeAccountId::parse("acct_other").unwrap_or_else(|e| panic!("{e}")),
        SealPurpose::RestrictedKey,
    );
    assert!(bench.sealer.open(&other, &blob).await.is_err());
}
