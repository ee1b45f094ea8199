//! Ports: small traits, one per capability. Each states its error contract.
//! Use cases depend on these, never on an adapter.

pub mod billing;
pub mod catalog;
pub mod clock;
pub mod connections;
pub mod events;
pub mod ingest;
pub mod keys;
pub mod matches;
pub mod oauth;
pub mod profiles;
pub mod readers;
pub mod secrets;
pub mod store;
pub mod stripe;
pub mod sync;
