//! Stripe's wire formats: webhook signatures and the typed objects we read.

pub mod models;
