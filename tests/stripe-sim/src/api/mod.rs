//! The Stripe API subset: auth, rate limit, API versions, list/retrieve with Stripe's
//! pagination and `expand[]`, errors.

mod error;
mod expand;
mod list;
mod read;

pub use error::{ApiError, mask};
pub use read::get;

use crate::sim::Simulator;
use crate::version::ApiVersion;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};

/// The key a request presents: Bearer or Basic (key as user name).
pub fn presented_key(headers: &HeaderMap) -> String {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    if let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    {
        return token.trim().to_owned();
    }
    if let Some(b64) = auth.strip_prefix("Basic ") {
        use base64::Engine;
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
            let s = String::from_utf8_lossy(&raw).into_owned();
            return s.split(':').next().unwrap_or("").to_owned();
        }
    }
    String::new()
}

/// Entry point for everything under `/v1`.
pub async fn handle(
    sim: Simulator,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.count_request();
    if let Some(latency) = sim.latency() {
        tokio::time::sleep(latency).await;
    }
    let path = uri.path().to_owned();
    if path == "/v1/oauth/token" && method == Method::POST {
        return crate::oauth::app_token(&sim, &headers, &body);
    }
    if method != Method::GET {
        sim.count_write();
        return ApiError::read_only(&method, &path).into_response();
    }
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let key = presented_key(&headers);
    let stripe_account = headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = match sim.authenticate(&key, stripe_account.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if !sim.admit(principal.account, &path) {
        return ApiError::rate_limited().into_response();
    }
    let request_id = format!("req_sim{:010}", sim.requests());
    let requested = match headers
        .get("stripe-version")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => None,
        Some(s) => match ApiVersion::parse(s) {
            Some(v) => Some(v),
            None => {
                return ApiError::invalid(format!("Invalid Stripe API version: {s}"), None, None)
                    .into_response();
            }
        },
    };
    let result = sim.with_account(principal.account, |acct, now| {
        // Without `Stripe-Version`, the account's default version, as Stripe does.
        let version = requested
            .or(acct.map(|a| a.api_version))
            .unwrap_or(sim.config().api_version);
        if let Some(acct) = acct {
            if acct.flags.revoked {
                return Err(ApiError::revoked(&key, &acct.id()));
            }
            let data_path = path != "/v1/account";
            if acct.flags.permission_denied && data_path {
                let perm = match path.split('/').nth(2) {
                    Some("subscriptions") => "rak_subscription_read",
                    Some("invoices") => "rak_invoice_read",
                    Some("charges") | Some("disputes") | Some("invoice_payments") => {
                        "rak_charge_read"
                    }
                    Some("events") => "rak_event_read",
                    Some("prices") | Some("products") => "rak_product_read",
                    Some("coupons") => "rak_coupon_read",
                    _ => "rak_customer_read",
                };
                return Err(ApiError::permission(&key, &acct.id(), perm));
            }
            if acct.flags.restricted && data_path {
                return Err(ApiError::restricted(&acct.id()));
            }
        }
        get(acct, &path, &query, now, version)
    });
    let mut resp = match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}
