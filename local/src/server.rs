//! The local HTTP server: hyper on 127.0.0.1 in front of the same
//! `kustiq::http::Router` the Lambdas run. It stands in for API Gateway:
//! refuses malformed or oversized requests and slow clients with the API's
//! JSON errors, verifies the runner's own bearer tokens and passes their
//! claims on in the request context, where the JWT authorizer puts them in AWS.
//!
//! One request per connection (`Connection: close`): every request head is
//! read and checked by [`framing`] before hyper parses it, so no request
//! reaches hyper's own, bodiless error answers.

mod framing;

use crate::token::{Claims, TokenError, TokenKey, bearer};
use axum::body::{Body as AxumBody, to_bytes};
use framing::{HeadError, Reject, error_body, read_head};
use hyper_util::rt::{TokioIo, TokioTimer};
use kustiq::domain::error_code::ErrorCode;
use kustiq::http::Router;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// What the server needs.
#[derive(Clone)]
pub struct Local {
    /// The handlers' dependencies.
    pub router: Router,
    /// Verifies bearer tokens.
    pub tokens: TokenKey,
}

/// How much and how long the server waits for a client.
#[derive(Debug, Clone)]
pub struct Limits {
    /// From accepting a connection to the end of the request head.
    pub header_timeout: Duration,
    /// From the end of the head to the end of the body.
    pub body_timeout: Duration,
    /// Longest a connection may stay open, however busy (a client that never
    /// reads its answer).
    pub connection_lifetime: Duration,
    /// Largest body; a larger declared `Content-Length` is refused before the body is read.
    pub max_body: usize,
    /// Longest request target (path and query).
    pub max_uri: usize,
    /// Largest request head (request line and headers).
    pub max_head: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    /// API Gateway's limits where it has them (10 KiB of headers), tighter
    /// timeouts than a public endpoint needs: the clients are on this machine.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(120),
            // Webhooks allow 1 MiB; the rest of the API far less.
            max_body: 2 * 1024 * 1024,
            max_uri: 8 * 1024,
            max_head: 10 * 1024 + 512,
            max_headers: 64,
            max_connections: 256,
        }
    }
}

/// Serves with the default [`Limits`] until the task is aborted.
pub async fn serve(listener: TcpListener, local: Local) -> std::io::Result<()> {
    serve_with(listener, local, Limits::default()).await
}

/// Serves with `limits` until the task is aborted. Accept errors (such as
/// running out of file descriptors) are logged and retried.
pub async fn serve_with(
    listener: TcpListener,
    local: Local,
    limits: Limits,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (local, limits) = (local.clone(), limits.clone());
        tokio::spawn(async move {
            let lifetime = limits.connection_lifetime;
            let _ = tokio::time::timeout(lifetime, connection(stream, local, limits)).await;
            drop(slot);
        });
    }
}

async fn connection(mut stream: TcpStream, local: Local, limits: Arc<Limits>) {
    let head = tokio::time::timeout(limits.header_timeout, read_head(&mut stream, &limits)).await;
    let read = match head {
        Ok(Ok(read)) => read,
        Ok(Err(HeadError::Closed)) => return,
        Ok(Err(HeadError::Rejected(reject))) => return reject.write_to(&mut stream).await,
        Err(_) => return Reject::TIMEOUT.write_to(&mut stream).await,
    };
    // hyper parses the head again from the bytes already read, then the rest.
    let (reader, writer) = stream.into_split();
    let io = tokio::io::join(std::io::Cursor::new(read).chain(reader), writer);
    let header_timeout = limits.header_timeout;
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let (local, limits) = (local.clone(), limits.clone());
        async move { Ok::<_, Infallible>(bridge(&local, &limits, req.map(AxumBody::new)).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended early");
    }
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

fn refuse(code: ErrorCode, message: &str) -> axum::response::Response {
    let status = kustiq::http::error::status(code);
    let mut resp = axum::response::Response::new(AxumBody::from(error_body(code, message)));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn refuse_with(reject: Reject) -> axum::response::Response {
    refuse(reject.code, reject.message)
}

/// The bearer claims, or `None` without an `Authorization` header. The error
/// is the 401's message: it names the rule, never the header's content.
fn authorize(headers: &http::HeaderMap, tokens: &TokenKey) -> Result<Option<Claims>, String> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err("send one Authorization header".to_owned()),
        (Some(value), None) => value
            .to_str()
            .map_err(|_| TokenError::NotBearer)
            .and_then(bearer)
            .and_then(|token| tokens.verify(token, chrono::Utc::now().timestamp()))
            .map(Some)
            .map_err(|e| format!("bearer token refused: {e}")),
    }
}

/// A received request → lambda_http request → handler → response; the
/// dashboard page's own files are answered first, without a token.
pub async fn bridge(
    local: &Local,
    limits: &Limits,
    req: http::Request<AxumBody>,
) -> axum::response::Response {
    if let Some(page) = crate::page::asset(req.method(), req.uri().path()) {
        return page;
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return refuse_with(Reject::TOO_LARGE);
    }
    let bytes =
        match tokio::time::timeout(limits.body_timeout, to_bytes(body, limits.max_body)).await {
            Err(_) => return refuse_with(Reject::TIMEOUT),
            Ok(Err(e)) => {
                let over = e.into_inner().is::<http_body_util::LengthLimitError>();
                return refuse_with(if over {
                    Reject::TOO_LARGE
                } else {
                    Reject::MALFORMED
                });
            }
            Ok(Ok(bytes)) => bytes,
        };
    let claims = match authorize(&parts.headers, &local.tokens) {
        Ok(claims) => claims,
        Err(message) => {
            return refuse(ErrorCode::ERR_UNAUTHENTICATED, &message);
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
