//! `cargo fuzz run profile_body`: the body of `PUT /api/v1/profiles/{id}`.
#![no_main]

#[path = "../bodies.rs"]
#[allow(dead_code)]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::profile_body(data);
});
