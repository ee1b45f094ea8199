//! `stripe-sim` binary.

fn main() {}
