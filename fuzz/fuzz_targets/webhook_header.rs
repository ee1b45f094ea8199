//! `cargo fuzz run webhook_header`: the Stripe-Signature parser and verifier.
#![no_main]

#[path = "../bodies.rs"]
#[allow(dead_code)]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::webhook_header(data));
