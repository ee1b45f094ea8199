//! The one DynamoDB store adapter, for every environment: AWS, DynamoDB Local
//! in tests, and the embedded dynoxide engine of `kustiq-local`.
//!
//! Single-table design (see `docs/tables.md`): every item has `pk`/`sk`,
//! optional sparse GSI keys `gsi1pk`/`gsi1sk` and `gsi2pk`/`gsi2sk`, an
//! optional `ttl` (epoch seconds), a `ver` counter for optimistic concurrency
//! and the entity as JSON in `data`. The entity ports are implemented on
//! [`DynamoStore`] in the modules next to this one.

mod billing;
mod capacity;
mod catalog;
mod connections;
mod cursor;
mod erase;
mod errors;
pub mod events;
pub mod item;
pub mod keys;
mod matches;
mod outbound;
mod profiles;
mod route_cache;
pub mod schema;
pub mod state_codec;
mod sync;

use crate::adapters::aws::{AwsTarget, sdk_config};
use crate::ports::store::{Page, StoreCursor, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
pub use capacity::Consumed;
use errors::map_sdk_error;
pub use item::{Item, Key};
use std::collections::HashMap;

/// A DynamoDB table and the client that reaches it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    routes: std::sync::Arc<route_cache::RouteCache>,
    capacity: std::sync::Arc<capacity::CapacityMeter>,
}

/// When a write may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    None,
    /// Only if no item has this key (idempotent inserts).
    Absent,
    /// Only if the stored item's `ver` equals this (optimistic concurrency).
    Version(u64),
    /// Only if the item is absent, or present with this `ver`.
    AbsentOrVersion(u64),
}

/// One write inside a transaction. All succeed or none does.
#[derive(Debug, Clone)]
pub enum TxOp {
    /// Put an item under a condition.
    Put(Item, Condition),
    /// Delete an item under a condition.
    Delete(Key, Condition),
    /// Write nothing; hold only if the item's `data` is exactly this string.
    CheckData(Key, String),
}

/// Which key a query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// The table's `pk`/`sk`.
    Table,
    /// GSI `gsi1` on `gsi1pk`/`gsi1sk`.
    Gsi1,
    /// GSI `gsi2` on `gsi2pk`/`gsi2sk`.
    Gsi2,
}

impl Index {
    fn names(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Self::Table => ("pk", "sk", None),
            Self::Gsi1 => ("gsi1pk", "gsi1sk", Some(schema::GSI1)),
            Self::Gsi2 => ("gsi2pk", "gsi2sk", Some(schema::GSI2)),
        }
    }
}

/// How a query narrows the sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// Every item of the partition.
    Any,
    /// Sort keys starting with this prefix.
    Prefix(String),
    /// Sort keys between these two, inclusive.
    Between(String, String),
    /// Sort keys up to this one, inclusive.
    AtMost(String),
}

/// A key-condition query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The index to query.
    pub index: Index,
    /// The partition key value.
    pub partition: String,
    /// The sort-key condition.
    pub sort: SortKey,
    /// Ascending sort-key order when true.
    pub forward: bool,
    /// At most this many items per page (DynamoDB also stops at 1 MB).
    pub limit: Option<i32>,
    /// Where to resume: a cursor from a previous page.
    pub cursor: Option<StoreCursor>,
}

impl Query {
    /// All items of a partition, ascending.
    pub fn partition(index: Index, partition: impl Into<String>) -> Self {
        Self {
            index,
            partition: partition.into(),
            sort: SortKey::Any,
            forward: true,
            limit: None,
            cursor: None,
        }
    }
}

impl DynamoStore {
    /// A store over `table` with an existing client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            routes: Default::default(),
            capacity: Default::default(),
        }
    }

    /// Builds the client from an [`AwsTarget`] (region pinning and endpoint override).
    pub async fn connect(target: &AwsTarget, table: impl Into<String>) -> Self {
        let config = sdk_config(target).await;
        Self::new(Client::new(&config), table)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The capacity units DynamoDB reported for this store's requests since the
    /// last call (every request asks for them); starts over.
    pub fn take_consumed(&self) -> Consumed {
        self.capacity.take()
    }

    /// The underlying client, for schema management and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Reads one item (strongly consistent).
    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.to_attributes()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.capacity.read(out.consumed_capacity.as_slice());
        out.item.map(Item::from_attributes).transpose()
    }

    /// Writes one item under `condition`; `ver` becomes the stored version + 1
    /// (or 1 for a new item). Returns the written version.
    pub async fn put(&self, item: &Item, condition: Condition) -> Result<u64, StoreError> {
        let (expr, names, values) = condition_expression(condition);
        let written = next_version(condition);
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.to_attributes(written)))
            .set_condition_expression(expr)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.capacity.write(out.consumed_capacity.as_slice());
        Ok(written)
    }

    /// Deletes one item under `condition`.
    pub async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let (expr, names, values) = condition_expression(condition);
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.to_attributes()))
            .set_condition_expression(expr)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.capacity.write(out.consumed_capacity.as_slice());
        Ok(())
    }

    /// Writes all of `ops` or none of them (TransactWriteItems, at most 100 ops).
    pub async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(ops.len());
        for op in ops {
            items.push(self.tx_item(op)?);
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match res {
            Ok(out) => {
                self.capacity.write(out.consumed_capacity());
                Ok(())
            }
            Err(err) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                // Keep the per-item reasons so callers can tell which condition failed.
                if let Some(TransactWriteItemsError::TransactionCanceledException(e)) =
                    err.as_service_error()
                {
                    let reasons = e
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_owned())
                        .collect::<Vec<_>>();
                    if !reasons.is_empty() {
                        return Err(StoreError::TransactionCancelled {
                            reasons: reasons.join(","),
                        });
                    }
                }
                Err(map_sdk_error(err))
            }
        }
    }

    /// Reads up to 100 items by key in one request (strongly consistent),
    /// following `UnprocessedKeys`. Missing items are absent from the result.
    pub async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut pending: Vec<HashMap<String, AttributeValue>> =
            keys.iter().map(Key::to_attributes).collect();
        let mut found = Vec::new();
        for _ in 0..10 {
            if pending.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(map_sdk_error)?;
            self.capacity.read(out.consumed_capacity());
            if let Some(mut responses) = out.responses {
                for item in responses.remove(&self.table).unwrap_or_default() {
                    found.push(Item::from_attributes(item)?);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Err(StoreError::Unavailable(
            "batch_get: keys still unprocessed after 10 rounds".into(),
        ))
    }

    fn tx_item(&self, op: TxOp) -> Result<TransactWriteItem, StoreError> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(e.to_string());
        let item = match op {
            TxOp::Put(item, condition) => {
                let (expr, names, values) = condition_expression(condition);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.to_attributes(next_version(condition))))
                    .set_condition_expression(expr)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::None,
                    )
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Delete(key, condition) => {
                let (expr, names, values) = condition_expression(condition);
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.to_attributes()))
                    .set_condition_expression(expr)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            TxOp::CheckData(key, data) => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.to_attributes()))
                    .condition_expression("#data = :data")
                    .expression_attribute_names("#data", "data")
                    .expression_attribute_values(":data", AttributeValue::S(data))
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }

    /// Runs one page of a key-condition query.
    pub async fn query(&self, q: &Query) -> Result<Page<Item>, StoreError> {
        let (pk_name, sk_name, index_name) = q.index.names();
        let mut names = HashMap::from([("#pk".to_owned(), pk_name.to_owned())]);
        let mut values =
            HashMap::from([(":pk".to_owned(), AttributeValue::S(q.partition.clone()))]);
        let mut expr = "#pk = :pk".to_owned();
        match &q.sort {
            SortKey::Any => {}
            SortKey::Prefix(p) => {
                names.insert("#sk".into(), sk_name.into());
                values.insert(":sk".into(), AttributeValue::S(p.clone()));
                expr.push_str(" AND begins_with(#sk, :sk)");
            }
            SortKey::Between(a, b) => {
                names.insert("#sk".into(), sk_name.into());
                values.insert(":a".into(), AttributeValue::S(a.clone()));
                values.insert(":b".into(), AttributeValue::S(b.clone()));
                expr.push_str(" AND #sk BETWEEN :a AND :b");
            }
            SortKey::AtMost(b) => {
                names.insert("#sk".into(), sk_name.into());
                values.insert(":b".into(), AttributeValue::S(b.clone()));
                expr.push_str(" AND #sk <= :b");
            }
        }
        let start = match &q.cursor {
            Some(c) => Some(cursor::decode(c.as_str(), q.index)?),
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name.map(str::to_owned))
            .key_condition_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(q.forward)
            .set_limit(q.limit)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.capacity.read(out.consumed_capacity.as_slice());
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Item::from_attributes)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match out.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(StoreCursor::new(cursor::encode(&k)?)),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    /// Runs a query to the end, following cursors.
    pub async fn query_all(&self, q: &Query) -> Result<Vec<Item>, StoreError> {
        let mut q = q.clone();
        let mut all = Vec::new();
        loop {
            let page = self.query(&q).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return Ok(all),
            }
        }
    }
}

fn next_version(condition: Condition) -> u64 {
    match condition {
        Condition::Version(v) | Condition::AbsentOrVersion(v) => v + 1,
        _ => 1,
    }
}

type Expr = (
    Option<String>,
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
);

fn condition_expression(condition: Condition) -> Expr {
    let pk = || Some(HashMap::from([("#pk".to_owned(), "pk".to_owned())]));
    let ver = |v: u64| {
        (
            Some(HashMap::from([
                ("#pk".to_owned(), "pk".to_owned()),
                ("#ver".to_owned(), "ver".to_owned()),
            ])),
            Some(HashMap::from([(
                ":ver".to_owned(),
                AttributeValue::N(v.to_string()),
            )])),
        )
    };
    match condition {
        Condition::None => (None, None, None),
        Condition::Absent => (Some("attribute_not_exists(#pk)".into()), pk(), None),
        Condition::Version(v) => {
            let (n, vals) = ver(v);
            (
                Some("attribute_exists(#pk) AND #ver = :ver".into()),
                n,
                vals,
            )
        }
        Condition::AbsentOrVersion(v) => {
            let (n, vals) = ver(v);
            (
                Some("attribute_not_exists(#pk) OR #ver = :ver".into()),
                n,
                vals,
            )
        }
    }
}
