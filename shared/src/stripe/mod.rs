//! Stripe's wire formats: webhook signatures and the typed objects we read.

pub mod catalog;
pub mod models;
pub mod observe;
pub mod signature;
pub mod webhook;

pub use webhook::{VerifiedEvent, WebhookError, verify_and_parse};
