//! Counts the DynamoDB requests a store sends, by operation: the figure behind
//! "store requests per event", in tests and benches alike.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use kustiq::adapters::dynamo::DynamoStore;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts the requests the SDK transmits, by operation (`X-Amz-Target`), retries included.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "count-requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or("?")
            .to_owned();
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op)
            .or_default() += 1;
        Ok(())
    }
}

impl RequestCounter {
    /// The counts since the last call, by operation; starts over.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// `store` with every request it sends counted here (same table, same client
    /// settings; a store of its own, so its route cache starts cold).
    pub fn wrap(&self, store: &DynamoStore) -> DynamoStore {
        let counted = store
            .client()
            .config()
            .to_builder()
            .interceptor(self.clone())
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(counted), store.table())
    }
}
