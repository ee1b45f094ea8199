//! Every integration test in one binary (one link, one `cargo nextest` target):
//! a module per area, all on the shared stack helper in `kustiq_tests`.
//! Filter by module, e.g. `cargo nextest run -p kustiq-tests webhook_ingest::`.

/// Runs each named `async fn case(engine: Engine)` of the calling module as two
/// tests, `<module>::dynamodb_local::case` and `<module>::dynoxide::case`, so the
/// store adapter is held to the same behaviour on both engines.
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod dynamodb_local {
            $(#[tokio::test] async fn $case() { super::$case(super::Engine::DynamoDbLocal).await; })*
        }
        mod dynoxide {
            $(#[tokio::test] async fn $case() { super::$case(super::Engine::Dynoxide).await; })*
        }
    };
}

mod at_risk;
mod catalog_store;
mod connect;
mod connect_app;
mod connect_bench;
mod connect_lifecycle;
mod connect_logs;
mod connect_region;
mod connect_webhook;
mod connections;
mod demo;
mod docs;
mod eventbridge;
mod explained;
mod faults;
mod hardening;
mod hostile;
mod keys;
mod kill;
mod leaks;
mod load;
mod local_hardening;
mod local_runner;
mod localstripe;
mod matching;
mod openapi;
mod outbound;
mod outbound_routes;
mod page;
mod profiles_batch;
mod regions;
mod routing;
mod runtime_emulator;
mod secrets;
mod store_conformance;
mod stripe_client;
mod sync;
mod sync_limits;
mod template;
mod tenant_isolation;
mod webhook_catalog;
mod webhook_ingest;
