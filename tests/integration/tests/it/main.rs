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

mod catalog_store;
mod connections;
mod docs;
mod faults;
mod hardening;
mod hostile;
mod keys;
mod load;
mod local_hardening;
mod local_runner;
mod localstripe;
mod page;
mod secrets;
mod store_conformance;
mod stripe_client;
mod webhook_catalog;
mod webhook_ingest;
