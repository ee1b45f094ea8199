//! lambda_http requests ⇄ use cases. The one place errors become status codes.

pub mod app;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod integration;
pub mod webhook;

pub use app::{App, Settings, handle};
