//! The handler every HTTP function and the local runner share: one `App`
//! holding the adapters, one `handle` dispatching on method and path.

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::runtime::Secrets;
use crate::domain::engine::EngineConfig;
use crate::domain::region::Region;
use crate::http::error::ApiError;
use crate::http::{dashboard, integration, webhook};
use crate::ports::clock::Clock;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// Settings read once at start-up.
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

/// Everything a request needs, built once per process.
pub struct App {
    /// The table.
    pub store: DynamoStore,
    /// Secrets (webhook endpoint secrets, platform key).
    pub secrets: Secrets,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub settings: Settings,
}

/// Dispatches one request. Never panics on input; every error is JSON.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let result = match (method.as_str(), segments.as_slice()) {
        ("POST", ["webhooks", "stripe"]) => Ok(webhook::receive(app, &req).await),
        ("GET", ["api", "v1", "integrations", "stripe"]) => integration::status(app, &req).await,
        (
            "POST",
            [
                "api",
                "v1",
                "integrations",
                "stripe",
                "failed-events",
                id,
                "replay",
            ],
        ) => integration::replay(app, &req, id).await,
        ("PUT", ["api", "v1", "profiles", id]) => dashboard::put_profile(app, &req, id).await,
        ("GET", ["api", "v1", "profiles", id]) => dashboard::get_profile(app, &req, id).await,
        ("GET", ["api", "v1", "profiles", id, "churn"]) => dashboard::churn(app, &req, id).await,
        ("GET", ["api", "v1", "churn", "at-risk"]) => dashboard::at_risk(app, &req).await,
        (_, ["webhooks", "stripe"])
        | (_, ["api", "v1", "integrations", "stripe"])
        | (_, ["api", "v1", "profiles", ..])
        | (_, ["api", "v1", "churn", "at-risk"]) => Err(ApiError::new(
            405,
            crate::domain::error_code::ErrorCode::ERR_BAD_REQUEST,
            format!("{method} is not allowed on {path}"),
        )),
        _ => Err(ApiError::not_found(format!("no route for {method} {path}"))),
    };
    result.unwrap_or_else(ApiError::into_response)
}
