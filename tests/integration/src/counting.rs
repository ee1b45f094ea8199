//! Counts the DynamoDB requests a store sends, by operation: the figure behind
//! "store requests per event", in tests and benches alike.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use kustiq::adapters::dynamo::DynamoStore;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts the requests the SDK transmits, by operation, retries included.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "count-requests"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg).to_owned();
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

/// The DynamoDB operation (`PutItem`, `Query`, …) of the request an interceptor sees,
/// from the SDK's operation metadata: the same name in every hook.
pub(crate) fn operation(cfg: &ConfigBag) -> &str {
    cfg.load::<Metadata>().map_or("?", |m| m.name())
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
