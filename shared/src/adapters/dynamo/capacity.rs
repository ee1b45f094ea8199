//! The capacity units DynamoDB reports for every request the store sends
//! (`ReturnConsumedCapacity = TOTAL`), summed per store: what an on-demand
//! table is billed for, read and write apart (docs/benchmarks.md, "Cost").

use aws_sdk_dynamodb::types::ConsumedCapacity;
use std::sync::atomic::{AtomicU64, Ordering};

/// Capacity units consumed, as DynamoDB reported them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Consumed {
    /// Read units (GetItem, BatchGetItem, Query).
    pub read_units: f64,
    /// Write units (PutItem, DeleteItem, TransactWriteItems; a transaction's
    /// condition checks count here, as DynamoDB bills them with the transaction).
    pub write_units: f64,
}

/// Sums reported units; shared by a store's clones. Units are kept in
/// thousandths (DynamoDB reports halves for eventually consistent reads).
#[derive(Debug, Default)]
pub struct CapacityMeter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

fn milli(reported: &[ConsumedCapacity]) -> u64 {
    let units: f64 = reported.iter().filter_map(|c| c.capacity_units()).sum();
    (units * 1000.0).round().max(0.0) as u64
}

impl CapacityMeter {
    /// Adds what a read request reported.
    pub fn read(&self, reported: &[ConsumedCapacity]) {
        self.read_milli
            .fetch_add(milli(reported), Ordering::Relaxed);
    }

    /// Adds what a write request reported.
    pub fn write(&self, reported: &[ConsumedCapacity]) {
        self.write_milli
            .fetch_add(milli(reported), Ordering::Relaxed);
    }

    /// The units since the last call; starts over.
    pub fn take(&self) -> Consumed {
        Consumed {
            read_units: self.read_milli.swap(0, Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milli.swap(0, Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}
