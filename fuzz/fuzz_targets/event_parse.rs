//! `cargo fuzz run event_parse`: Stripe event parsing.
#![no_main]

#[path = "../bodies.rs"]
#[allow(dead_code)]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::event_parse(data);
});
