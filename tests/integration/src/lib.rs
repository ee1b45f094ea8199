//! The shared stack helper for integration tests.
