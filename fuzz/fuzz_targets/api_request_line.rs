//! `cargo fuzz run api_request_line`: route segments of a path and the at-risk cursor.
#![no_main]

#[path = "../bodies.rs"]
#[allow(dead_code)]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::api_request_line(data));
