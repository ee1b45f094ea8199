//! "Nothing was stored": every item of a test's table before a rejected
//! request, compared with every item after it. Each test has a table of its
//! own, so a Scan sees only what that test wrote.

use aws_sdk_dynamodb::types::AttributeValue;
use kustiq::adapters::dynamo::DynamoStore;
use std::collections::{BTreeMap, HashMap};

/// One item's attributes, as DynamoDB returns them.
type Attributes = HashMap<String, AttributeValue>;

/// Every item of a table, by `(pk, sk)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSnapshot(BTreeMap<(String, String), Attributes>);

impl TableSnapshot {
    /// Scans the whole table behind `store` (strongly consistent, every page).
    pub async fn take(store: &DynamoStore) -> Self {
        let mut items = BTreeMap::new();
        let mut start = None;
        loop {
            let page = store
                .client()
                .scan()
                .table_name(store.table())
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "Scan {}: {}",
                        store.table(),
                        aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    )
                });
            for item in page.items.unwrap_or_default() {
                items.insert((key_part(&item, "pk"), key_part(&item, "sk")), item);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Self(items)
    }

    /// Only the items whose `(pk, sk)` `keep` accepts (e.g. one workspace's).
    pub fn only(&self, keep: impl Fn(&str, &str) -> bool) -> Self {
        Self(
            self.0
                .iter()
                .filter(|((pk, sk), _)| keep(pk, sk))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every binary attribute (`bin`: the compact billing states), by `pk/sk`.
    pub fn binaries(&self) -> Vec<(String, Vec<u8>)> {
        self.0
            .iter()
            .filter_map(|((pk, sk), attrs)| match attrs.get("bin") {
                Some(AttributeValue::B(b)) => Some((format!("{pk}/{sk}"), b.as_ref().to_vec())),
                _ => None,
            })
            .collect()
    }

    /// Item count and total size (attribute names plus values, as DynamoDB sizes an
    /// item) by kind: the sort key up to its first `#`, or the partition key's when
    /// the sort key starts with a digit (time-ordered entries).
    pub fn sizes_by_kind(&self) -> BTreeMap<String, (usize, usize)> {
        let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for ((pk, sk), attrs) in &self.0 {
            let from = if sk.starts_with(|c: char| c.is_ascii_digit()) {
                pk
            } else {
                sk
            };
            let kind = from.split('#').next().unwrap_or_default().to_owned();
            let size: usize = attrs
                .iter()
                .map(|(name, v)| {
                    name.len()
                        + match v {
                            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                            AttributeValue::B(b) => b.as_ref().len(),
                            _ => 1,
                        }
                })
                .sum();
            let e = out.entry(kind).or_default();
            e.0 += 1;
            e.1 += size;
        }
        out
    }

    /// Whether it holds no item.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys added, removed and changed from `self` to `later`, one per line.
    pub fn changes(&self, later: &Self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, item) in &later.0 {
            match self.0.get(key) {
                None => out.push(format!("added {key:?}")),
                Some(old) if old != item => out.push(format!("changed {key:?}")),
                Some(_) => {}
            }
        }
        for key in self.0.keys().filter(|k| !later.0.contains_key(*k)) {
            out.push(format!("removed {key:?}"));
        }
        out
    }
}

fn key_part(item: &Attributes, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("item without a string {name}: {other:?}"),
    }
}

/// Asserts that the table behind `store` holds exactly what `before` held:
/// `what` (the rejected requests) wrote, changed and deleted nothing.
pub async fn assert_nothing_stored(store: &DynamoStore, before: &TableSnapshot, what: &str) {
    let after = TableSnapshot::take(store).await;
    let changes = before.changes(&after);
    assert!(
        changes.is_empty(),
        "{what} stored something:\n{}",
        changes.join("\n")
    );
}
