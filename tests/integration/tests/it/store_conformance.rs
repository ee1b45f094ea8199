//! The store adapter behaves the same on DynamoDB Local and on the embedded
//! dynoxide engine: every case runs on both.

use kustiq::adapters::dynamo::{Condition, Index, Item, Key, Query, SortKey, TxOp};
use kustiq::ports::store::{StoreCursor, StoreError};
use kustiq_tests::snapshot::{TableSnapshot, assert_nothing_stored};
use kustiq_tests::{Engine, TestStore};
use serde_json::json;

on_both_engines!(
    conditional_put_conflict_changes_nothing,
    binary_items_round_trip_and_a_data_check_guards_a_transaction,
    version_condition_detects_lost_updates,
    transaction_is_cancelled_as_a_whole,
    gsi_query_returns_sort_key_order_both_ways,
    query_paginates_past_one_megabyte,
    ttl_attribute_is_written_and_enabled,
    forged_cursor_is_rejected,
);

fn item(pk: &str, sk: &str, v: serde_json::Value) -> Item {
    Item::json(Key::new(pk, sk), &v).unwrap_or_else(|e| panic!("{e}"))
}

/// Puts `item` under `condition`, which must hold; the new version.
async fn put(t: &TestStore, item: &Item, condition: Condition) -> u64 {
    t.store
        .put(item, condition)
        .await
        .unwrap_or_else(|e| panic!("put {:?}: {e}", item.key))
}

/// The item at `key`, if any.
async fn get(t: &TestStore, key: &Key) -> Option<Item> {
    t.store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key:?}: {e}"))
}

/// The sort keys `q` returns, every page.
async fn sort_keys(t: &TestStore, q: &Query) -> Vec<String> {
    let items = t.store.query_all(q).await.unwrap_or_else(|e| panic!("{e}"));
    items.into_iter().map(|i| i.key.sk).collect()
}

/// The sort keys of each page, walking `q`'s cursor to the end.
async fn pages(t: &TestStore, mut q: Query) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    loop {
        let page = t.store.query(&q).await.unwrap_or_else(|e| panic!("{e}"));
        out.push(page.items.into_iter().map(|i| i.key.sk).collect());
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

async fn conditional_put_conflict_changes_nothing(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    let first = item("EVT#acct_1#evt_1", "EVT", json!({"n": 1}));
    put(&t, &first, Condition::Absent).await;
    let before = TableSnapshot::take(&t.store).await;
    let dup = item("EVT#acct_1#evt_1", "EVT", json!({"n": 2}));
    let err = t.store.put(&dup, Condition::Absent).await;
    assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
    assert_nothing_stored(&t.store, &before, "a conflicting put").await;
    let stored = get(&t, &first.key).await;
    assert_eq!(stored.map(|i| i.data), Some(first.data));
}

async fn version_condition_detects_lost_updates(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    let a = item("WS#w", "BILL#cus_1", json!({"v": "a"}));
    let v1 = put(&t, &a, Condition::AbsentOrVersion(0)).await;
    assert_eq!(v1, 1);
    let b = item("WS#w", "BILL#cus_1", json!({"v": "b"}));
    let v2 = put(&t, &b, Condition::Version(v1)).await;
    assert_eq!(v2, 2);
    // A writer that read version 1 loses.
    let stale = item("WS#w", "BILL#cus_1", json!({"v": "stale"}));
    assert!(matches!(
        t.store.put(&stale, Condition::Version(v1)).await,
        Err(StoreError::Conflict)
    ));
    let stored = get(&t, &a.key).await;
    assert_eq!(stored.as_ref().map(|i| i.version), Some(2));
    assert_eq!(stored.map(|i| i.data), Some(b.data));
}

async fn transaction_is_cancelled_as_a_whole(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    let existing = item("ACCT#acct_1", "CONN", json!({"workspace": "w1"}));
    put(&t, &existing, Condition::Absent).await;
    let before = TableSnapshot::take(&t.store).await;
    let conn = item("WS#w2", "CONN#stripe", json!({"account": "acct_1"}));
    let route = item("ACCT#acct_1", "CONN", json!({"workspace": "w2"}));
    let res = t
        .store
        .transact(vec![
            TxOp::Put(conn.clone(), Condition::Absent),
            TxOp::Put(route, Condition::Absent),
        ])
        .await;
    assert!(
        matches!(res, Err(StoreError::TransactionCancelled { .. })),
        "{res:?}"
    );
    // Neither the new item nor a change to the existing one.
    assert_nothing_stored(&t.store, &before, "a cancelled transaction").await;
    let kept = get(&t, &existing.key).await;
    assert_eq!(kept.map(|i| i.data), Some(existing.data));

    // The same transaction without the conflict writes both.
    let route_free = item("ACCT#acct_2", "CONN", json!({"workspace": "w2"}));
    t.store
        .transact(vec![
            TxOp::Put(conn.clone(), Condition::Absent),
            TxOp::Put(route_free.clone(), Condition::Absent),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(get(&t, &conn.key).await.is_some());
    assert!(get(&t, &route_free.key).await.is_some());
}

async fn gsi_query_returns_sort_key_order_both_ways(engine: Engine) {
    let t = TestStore::new(engine, "us-east-1").await;
    // Scores stored so that the sort key orders them; inserted out of order.
    for (profile, score) in [("p3", 55), ("p1", 91), ("p4", 70), ("p2", 78), ("p5", 12)] {
        let it = item("WS#w", &format!("PROF#{profile}"), json!({"score": score}))
            .with_gsi1("WS#w#SCORE", format!("{score:03}#{profile}"));
        put(&t, &it, Condition::None).await;
    }
    // An item of another workspace never shows up.
    let other = item("WS#x", "PROF#p9", json!({"score": 99})).with_gsi1("WS#x#SCORE", "099#p9");
    put(&t, &other, Condition::None).await;

    let mut q = Query::partition(Index::Gsi1, "WS#w#SCORE");
    q.forward = false;
    let desc: Vec<String> = sort_keys(&t, &q).await;
    assert_eq!(
        desc,
        ["PROF#p1", "PROF#p2", "PROF#p4", "PROF#p3", "PROF#p5"]
    );

    q.forward = true;
    q.sort = SortKey::Between("050".into(), "080".into());
    let mid: Vec<String> = sort_keys(&t, &q).await;
    assert_eq!(mid, ["PROF#p3", "PROF#p4", "PROF#p2"]);

    // Limit + cursor walk the same order page by page.
    let mut q = Query::partition(Index::Gsi1, "WS#w#SCORE");
    q.forward = false;
    q.limit = Some(2);
    let walked = pages(&t, q).await;
    assert!(walked.iter().all(|p| p.len() <= 2), "{walked:?}");
    assert_eq!(
        walked.concat(),
        ["PROF#p1", "PROF#p2", "PROF#p4", "PROF#p3", "PROF#p5"]
    );
}

async fn query_paginates_past_one_megabyte(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    // 48 items of ~30 KB: about 1.4 MB in one partition, more than one page.
    let filler = "x".repeat(30_000);
    for i in 0..48 {
        let it = item(
            "WS#big",
            &format!("HIST#{i:04}"),
            json!({"i": i, "filler": filler}),
        );
        put(&t, &it, Condition::None).await;
    }
    let mut q = Query::partition(Index::Table, "WS#big");
    q.sort = SortKey::Prefix("HIST#".into());
    let walked = pages(&t, q).await;
    let pages = walked.len();
    assert!(pages >= 2, "1.4 MB came back in {pages} page(s)");
    let expected: Vec<String> = (0..48).map(|i| format!("HIST#{i:04}")).collect();
    assert_eq!(
        walked.concat(),
        expected,
        "every item exactly once, in order"
    );
}

async fn ttl_attribute_is_written_and_enabled(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    assert_eq!(
        t.store
            .ttl_attribute()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .as_deref(),
        Some("ttl")
    );
    let it = item("EVT#acct_1#evt_9", "EVT", json!({})).with_ttl(1_900_000_000);
    put(&t, &it, Condition::Absent).await;
    let raw = t
        .store
        .client()
        .get_item()
        .table_name(t.store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("EVT#acct_1#evt_9".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("EVT".into()),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ttl = raw.item.and_then(|mut i| i.remove("ttl"));
    assert_eq!(
        ttl,
        Some(aws_sdk_dynamodb::types::AttributeValue::N(
            "1900000000".into()
        ))
    );
}

async fn forged_cursor_is_rejected(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    let mut q = Query::partition(Index::Table, "WS#w");
    q.cursor = Some(StoreCursor::new("not-a-cursor!".into()));
    assert!(matches!(
        t.store.query(&q).await,
        Err(StoreError::BadCursor)
    ));
}

async fn binary_items_round_trip_and_a_data_check_guards_a_transaction(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3_000).collect();
    let state = Item::binary(Key::new("WS#w", "BILL#cus_1"), bytes.clone());
    put(&t, &state, Condition::Absent).await;
    let stored = get(&t, &state.key)
        .await
        .unwrap_or_else(|| panic!("stored"));
    assert_eq!(stored.bin.as_deref(), Some(bytes.as_slice()));
    assert!(stored.data.is_empty());

    let route = item("ACCT#acct_1", "ROUTE", json!({"workspace_id": "w"}));
    put(&t, &route, Condition::Absent).await;
    let next = item("WS#w", "SCORE#p1", json!({"score": 1}));
    t.store
        .transact(vec![
            TxOp::Put(next.clone(), Condition::None),
            TxOp::CheckData(route.key.clone(), route.data.clone()),
        ])
        .await
        .unwrap_or_else(|e| panic!("the route is as read: {e}"));
    put(
        &t,
        &item("ACCT#acct_1", "ROUTE", json!({"workspace_id": "x"})),
        Condition::None,
    )
    .await;
    let before = TableSnapshot::take(&t.store).await;
    let changed = t
        .store
        .transact(vec![
            TxOp::Put(
                item("WS#w", "SCORE#p1", json!({"score": 2})),
                Condition::None,
            ),
            TxOp::CheckData(route.key.clone(), route.data.clone()),
        ])
        .await;
    assert!(
        matches!(&changed, Err(StoreError::TransactionCancelled { reasons }) if reasons.ends_with("ConditionalCheckFailed")),
        "{changed:?}"
    );
    assert_nothing_stored(&t.store, &before, "a transaction whose route changed").await;
}
