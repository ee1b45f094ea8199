//! The dashboard API function's routes: integration status and failed-event
//! replay, profiles, explained scores, the at-risk segment.

use crate::domain::region::Region;
use crate::http::Settings;
use crate::http::auth::{Gate, Identity};
use crate::http::router::{Reply, Routes, method_not_allowed};
use crate::http::{dashboard, integration};
use crate::ports::billing::BillingStore;
use crate::ports::clock::Clock;
use crate::ports::connections::{ConnectionStore, GrantStore};
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use crate::ports::profiles::ProfileStore;
use crate::ports::secrets::SecretSource;
use futures::future::BoxFuture;
use lambda_http::Request;
use std::sync::Arc;

/// What the API function builds: the store, the secrets (the cursor key), the clock.
pub struct ApiRoutes<S, K> {
    /// The table.
    pub store: S,
    /// Operator secrets (the cursor signing key).
    pub secrets: K,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub settings: Settings,
}

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/integrations/stripe"),
    (
        "POST",
        "/api/v1/integrations/stripe/failed-events/{event_id}/replay",
    ),
    ("PUT", "/api/v1/profiles/{profile_id}"),
    ("POST", "/api/v1/profiles:batch"),
    ("GET", "/api/v1/profiles/{profile_id}"),
    ("GET", "/api/v1/profiles/{profile_id}/churn"),
    ("GET", "/api/v1/churn/at-risk"),
];

impl<S, K> ApiRoutes<S, K> {
    /// The caller, checked for this deployment's region and the route's plan gate.
    pub(crate) fn caller(
        &self,
        req: &Request,
        gate: Gate,
    ) -> Result<Identity, crate::http::error::ApiError> {
        Ok(Identity::authorize(req, self.region(), gate)?)
    }

    fn region(&self) -> Region {
        self.settings.region
    }
}

impl<S, K> Routes for ApiRoutes<S, K>
where
    S: ConnectionStore
        + GrantStore
        + EventLog
        + IngestStore
        + ProfileStore
        + BillingStore
        + crate::ports::matches::MatchStore
        + 'static,
    K: SecretSource + Send + Sync + 'static,
{
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>> {
        let method = req.method().as_str();
        let reply: BoxFuture<'a, Reply> = match path {
            ["api", "v1", "integrations", "stripe"] => match method {
                "GET" => Box::pin(integration::status(self, req)),
                // Disconnect is the disconnect function's (`DisconnectRoutes`).
                "DELETE" => return None,
                _ => return method_not_allowed(req),
            },
            [
                "api",
                "v1",
                "integrations",
                "stripe",
                "failed-events",
                id,
                "replay",
            ] => match method {
                "POST" => Box::pin(integration::replay(self, req, id)),
                _ => return method_not_allowed(req),
            },
            // One segment with a colon (Google's custom-method style): no
            // profile id can hold `:`, so it never shadows `profiles/{id}`.
            ["api", "v1", "profiles:batch"] => match method {
                "POST" => Box::pin(dashboard::put_batch(self, req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "profiles", id] => match method {
                "PUT" => Box::pin(dashboard::put_profile(self, req, id)),
                "GET" => Box::pin(dashboard::get_profile(self, req, id)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "profiles", id, "churn"] => match method {
                "GET" => Box::pin(dashboard::churn(self, req, id)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "churn", "at-risk"] => match method {
                "GET" => Box::pin(dashboard::at_risk(self, req)),
                _ => return method_not_allowed(req),
            },
            _ => return None,
        };
        Some(reply)
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
}
