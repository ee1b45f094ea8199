//! The shared stack helper for integration tests: stores on both engines,
//! endpoints of the servers `scripts/stack` started, unique names per test;
//! the webhook [`webhook::Bench`], the [`local::LocalServer`], simulated
//! events ([`simulated::Simulated`]) and the "nothing was stored" check
//! ([`snapshot::assert_nothing_stored`]).

use kustiq::adapters::aws::AwsTarget;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq_local::embedded::EmbeddedDynamo;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

pub mod moto;

/// The endpoint a test server published through `scripts/stack`, or a panic
/// that says how to start it. Tests never skip silently.
pub fn require_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: run the tests through ./scripts/test (or `scripts/stack up && source .cache/stack.env`)"
        ),
    }
}

/// A name unique to this process and call, for tables and workspaces.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Which DynamoDB engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// AWS's DynamoDB Local (from `scripts/stack`).
    DynamoDbLocal,
    /// dynoxide, embedded in-process (no port), as `kustiq-local` runs it.
    Dynoxide,
}

/// A store on a fresh table. Holds the embedded engine alive when there is one.
pub struct TestStore {
    /// The store adapter under test.
    pub store: DynamoStore,
    _embedded: Option<EmbeddedDynamo>,
}

impl TestStore {
    /// A fresh table with the production schema on `engine`, in `region`.
    pub async fn new(engine: Engine, region: &str) -> Self {
        let (store, embedded) = match engine {
            Engine::DynamoDbLocal => {
                let endpoint = require_env("KUSTIQ_TEST_DYNAMODB_ENDPOINT");
                let target = AwsTarget::local(region, &endpoint);
                (
                    DynamoStore::connect(&target, unique("kustiq-test")).await,
                    None,
                )
            }
            Engine::Dynoxide => {
                let e =
                    EmbeddedDynamo::in_memory().unwrap_or_else(|e| panic!("embedded store: {e}"));
                (e.store(region, unique("kustiq-test")), Some(e))
            }
        };
        store
            .ensure_table()
            .await
            .unwrap_or_else(|e| panic!("ensure_table on {engine:?}: {e}"));
        Self {
            store,
            _embedded: embedded,
        }
    }
}

pub mod api;
pub mod counting;
pub mod emulator;
pub mod eventbridge;
pub mod faults;
pub mod flood;
pub mod local;
pub mod logs;
pub mod measure;
pub mod openapi;
pub mod outbound;
pub mod simulated;
pub mod snapshot;
pub mod sync;
pub mod template;
pub mod webhook;

/// One answer from the handler or a server: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body (Null if not JSON).
    pub body: Value,
}

impl Answer {
    /// The webhook outcome (`applied`, `duplicate` …), if the body names one.
    pub fn outcome(&self) -> Option<&str> {
        self.body["outcome"].as_str()
    }

    /// The API error code (`ERR_WEBHOOK_SIG` …), if the body is an error.
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// Asserts a webhook acknowledged (200) with `outcome`.
    #[track_caller]
    pub fn assert_acknowledged(&self, outcome: &str) {
        assert_eq!(
            (self.status, self.outcome()),
            (200, Some(outcome)),
            "{:?}",
            self.body
        );
    }

    /// Asserts the API's JSON error: `status` with error code `code`.
    #[track_caller]
    pub fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "{:?}",
            self.body
        );
    }
}

/// A reqwest client with the workspace's TLS setup (rustls on ring).
pub fn http() -> reqwest::Client {
    kustiq::adapters::stripe::http_builder()
        .and_then(|b| {
            b.build()
                .map_err(|e| kustiq::ports::stripe::StripeError::Config(e.to_string()))
        })
        .unwrap_or_else(|e| panic!("http client: {e}"))
}
