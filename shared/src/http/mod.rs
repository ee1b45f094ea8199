//! lambda_http requests ⇄ use cases. Handlers parse, call `app::…`, and map;
//! `error.rs` is the one place errors become status codes.

pub mod api;
pub mod auth;
pub mod connect;
pub mod dashboard;
pub mod error;
pub mod integration;
pub mod router;
pub mod sync;
pub mod webhook;

pub use api::ApiRoutes;
pub use connect::{ConnectRoutes, DisconnectRoutes};
pub use router::{Router, Routes};
pub use sync::SyncRoutes;
pub use webhook::WebhookRoutes;

use crate::domain::engine::EngineConfig;
use crate::domain::region::Region;

/// Settings an HTTP function reads once at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The region this deployment serves.
    pub region: Region,
    /// Webhook timestamp tolerance.
    pub webhook_tolerance_secs: u64,
    /// Largest webhook body accepted.
    pub max_webhook_bytes: usize,
    /// The churn engine's numbers.
    pub engine: EngineConfig,
}

impl Settings {
    /// Defaults for `region`: 300 s tolerance, 1 MiB bodies, the documented engine config.
    pub fn new(region: Region) -> Self {
        Self {
            region,
            webhook_tolerance_secs: crate::stripe::signature::DEFAULT_TOLERANCE_SECS,
            max_webhook_bytes: 1024 * 1024,
            engine: EngineConfig::default(),
        }
    }
}
