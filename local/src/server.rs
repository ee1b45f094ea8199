//! The local HTTP server: axum on 127.0.0.1 in front of the same
//! `kustiq::http::handle` the Lambdas run. It stands in for API Gateway:
//! verifies the runner's own bearer tokens and passes their claims on in the
//! request context, exactly where the JWT authorizer puts them in AWS.

use crate::token::{Claims, TokenKey};
use axum::body::{Body as AxumBody, to_bytes};
use kustiq::http::Router;
use kustiq::http::error::ApiError;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use std::collections::HashMap;

/// Bodies above this are refused before reaching a handler (webhooks allow 1 MiB).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// What the server needs.
#[derive(Clone)]
pub struct Local {
    /// Every route group.
    pub router: Router,
    /// Verifies bearer tokens.
    pub tokens: TokenKey,
}

/// Serves until the listener is dropped or the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, local: Local) -> std::io::Result<()> {
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let local = local.clone();
        async move { bridge(&local, req).await }
    });
    axum::serve(listener, router).await
}

fn context(claims: Option<&Claims>, method: &str, path: &str) -> Option<RequestContext> {
    let authorizer = claims.map(|c| {
        serde_json::json!({"jwt": {"claims": {"workspace_id": c.workspace_id, "plan": c.plan, "region": c.region}, "scopes": null}})
    });
    let ctx = serde_json::json!({
        "routeKey": "$default",
        "stage": "$default",
        "requestId": "local",
        "authorizer": authorizer,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local"},
        "timeEpoch": 0,
    });
    serde_json::from_value(ctx)
        .ok()
        .map(RequestContext::ApiGatewayV2)
}

/// axum request → lambda_http request → handler → axum response.
pub async fn bridge(local: &Local, req: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return to_axum(ApiError::too_large("body too large").into_response());
    };
    let claims = match parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|h| h.to_str())
    {
        None => None,
        Some(Ok(v)) => {
            let token = v.strip_prefix("Bearer ").unwrap_or(v).trim();
            match local.tokens.verify(token, chrono::Utc::now().timestamp()) {
                Ok(c) => Some(c),
                Err(e) => {
                    return to_axum(
                        ApiError::unauthenticated(format!("bearer token refused: {e}"))
                            .into_response(),
                    );
                }
            }
        }
        Some(Err(_)) => {
            return to_axum(
                ApiError::unauthenticated("unreadable Authorization header").into_response(),
            );
        }
    };
    let query: HashMap<String, Vec<String>> = parts
        .uri
        .query()
        .map(|q| {
            let mut m: HashMap<String, Vec<String>> = HashMap::new();
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                m.entry(k.into_owned()).or_default().push(v.into_owned());
            }
            m
        })
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(s) => Body::Text(s),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let path = parts.uri.path().to_owned();
    let method = parts.method.to_string();
    let mut req = lambda_http::Request::from_parts(parts, body).with_query_string_parameters(query);
    if let Some(ctx) = context(claims.as_ref(), &method, &path) {
        req = req.with_request_context(ctx);
    }
    to_axum(local.router.handle(req).await)
}

fn to_axum(resp: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = resp.into_parts();
    let body = match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(t) => AxumBody::from(t),
        Body::Binary(b) => AxumBody::from(b),
        _ => AxumBody::empty(),
    };
    axum::response::Response::from_parts(parts, body)
}
