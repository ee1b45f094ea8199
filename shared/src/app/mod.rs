//! Use cases: domain + ports, nothing else.

pub mod apply;
pub mod catalog;
pub mod connect;
pub mod cursor;
pub mod dashboard;
pub mod ingest;
pub mod matching;
pub mod optimistic;
pub mod score;
pub mod sync;
pub mod worker;
