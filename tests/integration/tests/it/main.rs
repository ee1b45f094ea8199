//! Every integration test in one binary (one link, one `cargo nextest` target):
//! a module per area, all on the shared stack helper in `kustiq_tests`.
//! Filter by module, e.g. `cargo nextest run -p kustiq-tests webhook_ingest::`.

mod connections;
mod docs;
mod keys;
mod local_hardening;
mod local_runner;
mod localstripe;
mod secrets;
mod store_conformance;
mod stripe_client;
mod webhook_ingest;
