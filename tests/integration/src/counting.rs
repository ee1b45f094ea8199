//! Counts the DynamoDB requests a store sends, by operation: the figure behind
//! "store requests per event", in tests and benches alike.

use aws_sdk_dynamodb::config::http::HttpRequest;
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
        let op = operation(context.request()).to_owned();
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
        intercepted(store, self.clone())
    }
}

/// The DynamoDB operation of a request (`X-Amz-Target`'s action).
pub(crate) fn operation(request: &HttpRequest) -> &str {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.split('.').nth(1))
        .unwrap_or("?")
}

/// `store` with `interceptor` on every request: a store of its own on the same table
/// and client settings (so its caches start cold).
pub(crate) fn intercepted(
    store: &DynamoStore,
    interceptor: impl Intercept + 'static,
) -> DynamoStore {
    let config = store
        .client()
        .config()
        .to_builder()
        .interceptor(interceptor)
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), store.table())
}
