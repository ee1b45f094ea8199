//! Ports: small traits, one per capability. Each states its error contract.
//! Use cases depend on these, never on an adapter.

pub mod clock;
pub mod stripe;
pub mod keys;
pub mod secrets;
