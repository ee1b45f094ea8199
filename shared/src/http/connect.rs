//! The connect function's routes (`ConnectRoutes`): start an OAuth flow, its
//! callback, connect by restricted key, and a connection's webhook secrets;
//! and the disconnect function's (`DisconnectRoutes`): disconnect and erase.

use crate::app::connect::{ApiKeyRequest, CallbackParams, ConnectRequest, Connected, Connector};
use crate::domain::connection::{BackfillWindow, ConnectMethod, Mode};
use crate::domain::secret::Secret;
use crate::http::Settings;
use crate::http::auth::{Gate, Identity};
use crate::http::error::{ApiError, json_response, ok};
use crate::http::router::{Reply, Routes, method_not_allowed, once_each};
use crate::ports::clock::Clock;
use crate::ports::connections::{ConnectionStore, GrantStore, StateLedger, StripeDataEraser};
use crate::ports::keys::Sealer;
use crate::ports::oauth::StripePlatform;
use crate::ports::profiles::ProfileStore;
use crate::ports::secrets::SecretSource;
use futures::future::BoxFuture;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Largest JSON body these routes read.
const MAX_BODY_BYTES: usize = 8 * 1024;

/// The connect function's routes over the connect use case.
pub struct ConnectRoutes<S, K, Z, P> {
    /// The use case.
    pub connector: Connector<S, K, Z, P>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings (the region served).
    pub settings: Settings,
}

const CONNECT_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/integrations/stripe/connect"),
    ("GET", "/api/v1/integrations/stripe/oauth/callback"),
    ("POST", "/api/v1/integrations/stripe/api-key"),
    ("PUT", "/api/v1/integrations/stripe/webhook-secret"),
];

impl<S, K, Z, P> Routes for ConnectRoutes<S, K, Z, P>
where
    S: ConnectionStore + GrantStore + StateLedger + 'static,
    K: SecretSource + Send + Sync + 'static,
    Z: Sealer + 'static,
    P: StripePlatform + 'static,
{
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>> {
        let method = req.method().as_str();
        let reply: BoxFuture<'a, Reply> = match path {
            ["api", "v1", "integrations", "stripe", "connect"] => match method {
                "GET" => Box::pin(self.start(req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "integrations", "stripe", "oauth", "callback"] => match method {
                "GET" => Box::pin(self.callback(req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "integrations", "stripe", "api-key"] => match method {
                "POST" => Box::pin(self.api_key(req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "integrations", "stripe", "webhook-secret"] => match method {
                "PUT" => Box::pin(self.webhook_secret(req)),
                _ => return method_not_allowed(req),
            },
            _ => return None,
        };
        Some(reply)
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        CONNECT_ROUTES
    }
}

fn parse_mode(raw: Option<&str>) -> Result<Mode, ApiError> {
    match raw {
        Some("live") => Ok(Mode::Live),
        Some("test") => Ok(Mode::Test),
        _ => Err(ApiError::bad_request("mode must be live or test")),
    }
}

fn parse_window(raw: Option<&str>) -> Result<BackfillWindow, ApiError> {
    match raw {
        None => Ok(BackfillWindow::default()),
        Some(w) => BackfillWindow::parse(w)
            .ok_or_else(|| ApiError::bad_request("backfill must be 30d, 90d or all")),
    }
}

fn parse_cross_region(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None => Ok(false),
        Some("accept") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            "cross_region must be accept when given",
        )),
    }
}

/// A JSON object body of at most [`MAX_BODY_BYTES`], known fields only.
fn json_body<T: serde::de::DeserializeOwned>(req: &Request, what: &str) -> Result<T, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(format!(
            "the body is at most {MAX_BODY_BYTES} bytes"
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("the body is not valid JSON"))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|_| {
        ApiError::bad_request(format!(
            "the {what} body has an unknown or missing field, or one of the wrong type; see docs/openapi.yaml"
        ))
    })
}

fn connected_json(c: &Connected) -> serde_json::Value {
    let conn = &c.connection;
    json!({
        "connected": true,
        "connection_id": c.connection_id,
        "method": crate::app::connect::method_name(conn.method),
        "mode": if conn.mode == Mode::Live { "live" } else { "test" },
        "region": conn.region,
        "account_id": conn.account_id,
        "cross_region": c.cross_region,
        "backfill": conn.backfill,
        "window": conn.window.as_str(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyBody {
    api_key: String,
    mode: String,
    #[serde(default)]
    backfill: Option<String>,
    #[serde(default)]
    cross_region: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSecretBody {
    secrets: Vec<String>,
}

impl<S, K, Z, P> ConnectRoutes<S, K, Z, P>
where
    S: ConnectionStore + GrantStore + StateLedger,
    K: SecretSource + Send + Sync,
    Z: Sealer,
    P: StripePlatform,
{
    fn caller(&self, req: &Request) -> Result<Identity, ApiError> {
        Ok(Identity::authorize(req, self.settings.region, Gate::Pro)?)
    }

    /// `GET …/connect?mode=&backfill=&method=[&cross_region=accept]`: 302 to Stripe.
    async fn start(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        once_each(req, &["method", "mode", "backfill", "cross_region"])?;
        let q = req.query_string_parameters();
        let method = match q.first("method") {
            None | Some("connect") => ConnectMethod::Connect,
            Some("app") => ConnectMethod::App,
            Some(_) => return Err(ApiError::bad_request("method must be connect or app")),
        };
        let request = ConnectRequest {
            method,
            mode: parse_mode(q.first("mode"))?,
            window: parse_window(q.first("backfill"))?,
            cross_region: parse_cross_region(q.first("cross_region"))?,
        };
        let url = self
            .connector
            .start(&who.workspace_id, request, self.clock.now())
            .await?;
        let mut resp = json_response(302, &json!({"redirect_url": url.as_str()}));
        if let Ok(v) = http::HeaderValue::from_str(url.as_str()) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
        Ok(resp)
    }

    /// `GET …/oauth/callback?code=&state=` (or `error=access_denied`).
    async fn callback(&self, req: &Request) -> Reply {
        once_each(req, &["code", "state", "error"])?;
        let q = req.query_string_parameters();
        let params = CallbackParams {
            code: q.first("code").map(str::to_owned),
            state: q.first("state").map(str::to_owned),
            error: q.first("error").map(str::to_owned),
        };
        // Authenticated by the signed state; a caller that also carries a
        // workspace identity must be the state's workspace.
        let caller = Identity::from_request(req).ok().map(|i| i.workspace_id);
        let connected = self
            .connector
            .callback(caller.as_ref(), params, self.clock.now())
            .await?;
        Ok(ok(&connected_json(&connected)))
    }

    /// `POST …/api-key` `{"api_key", "mode", "backfill"?, "cross_region"?}`.
    async fn api_key(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        let b: ApiKeyBody = json_body(req, "api-key")?;
        let request = ApiKeyRequest {
            key: Secret::new(b.api_key),
            mode: parse_mode(Some(&b.mode))?,
            window: parse_window(b.backfill.as_deref())?,
            cross_region: parse_cross_region(b.cross_region.as_deref())?,
        };
        let connected = self
            .connector
            .api_key(&who.workspace_id, request, self.clock.now())
            .await?;
        Ok(ok(&connected_json(&connected)))
    }

    /// `PUT …/webhook-secret` `{"secrets": ["whsec_…"]}`.
    async fn webhook_secret(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        let b: WebhookSecretBody = json_body(req, "webhook-secret")?;
        let count = b.secrets.len();
        let secrets = b.secrets.into_iter().map(Secret::new).collect();
        let id = self
            .connector
            .set_webhook_secrets(&who.workspace_id, secrets)
            .await?;
        Ok(ok(&json!({
            "connection_id": id,
            "webhook_path": format!("/webhooks/stripe/c/{id}"),
            "secrets": count,
        })))
    }
}

/// The disconnect function's routes: disconnect and erase.
pub struct DisconnectRoutes<S, P> {
    /// The table.
    pub store: S,
    /// Stripe (Connect's deauthorize).
    pub platform: P,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings (the region served, the engine for rescoring).
    pub settings: Settings,
}

const DISCONNECT_ROUTES: &[(&str, &str)] = &[
    ("DELETE", "/api/v1/integrations/stripe"),
    ("POST", "/api/v1/integrations/stripe/erase"),
];

impl<S, P> Routes for DisconnectRoutes<S, P>
where
    S: ConnectionStore + GrantStore + StripeDataEraser + ProfileStore + 'static,
    P: StripePlatform + 'static,
{
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>> {
        let method = req.method().as_str();
        let reply: BoxFuture<'a, Reply> = match path {
            // `GET` on this path is the API function's status route.
            ["api", "v1", "integrations", "stripe"] => match method {
                "DELETE" => Box::pin(self.disconnect(req)),
                _ => return None,
            },
            ["api", "v1", "integrations", "stripe", "erase"] => match method {
                "POST" => Box::pin(self.erase(req)),
                _ => return method_not_allowed(req),
            },
            _ => return None,
        };
        Some(reply)
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        DISCONNECT_ROUTES
    }
}

impl<S, P> DisconnectRoutes<S, P>
where
    S: ConnectionStore + GrantStore + StripeDataEraser + ProfileStore,
    P: StripePlatform,
{
    /// `DELETE /api/v1/integrations/stripe`.
    async fn disconnect(&self, req: &Request) -> Reply {
        let who = Identity::authorize(req, self.settings.region, Gate::Pro)?;
        let d =
            crate::app::connect::disconnect(&self.store, &self.platform, &who.workspace_id).await?;
        Ok(ok(&json!({
            "connected": false,
            "was_connected": d.was_connected,
            "revoked_at_stripe": d.revoked_at_stripe,
        })))
    }

    /// `POST /api/v1/integrations/stripe/erase`.
    async fn erase(&self, req: &Request) -> Reply {
        let who = Identity::authorize(req, self.settings.region, Gate::Pro)?;
        let e = crate::app::connect::erase(
            &self.store,
            &self.settings.engine,
            &who.workspace_id,
            self.clock.now(),
        )
        .await?;
        Ok(ok(&json!({"erased": true, "rescored": e.rescored})))
    }
}
