//! Use cases: domain + ports, nothing else.

pub mod catalog;
pub mod ingest;
pub mod score;
pub mod worker;
