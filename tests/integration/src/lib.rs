//! The shared stack helper for integration tests.
pub mod moto;
