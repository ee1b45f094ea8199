//! A fault-injecting proxy in front of DynamoDB Local: forwards every request,
//! except that while a fault is armed, the chosen operations answer 500
//! (DynamoDB's InternalServerError), as a failing store would. It also counts
//! the requests it sees per operation, for the requests-per-event figure.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Armed {
    operations: HashSet<String>,
    failed: u64,
    seen: BTreeMap<String, u64>,
}

/// A running proxy. Dropping it leaves the server task to end with the runtime.
#[derive(Clone)]
pub struct FaultProxy {
    endpoint: String,
    armed: Arc<Mutex<Armed>>,
}

#[derive(Clone)]
struct Ctx {
    upstream: String,
    http: reqwest::Client,
    armed: Arc<Mutex<Armed>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: &str) -> Self {
        let armed = Arc::new(Mutex::new(Armed::default()));
        let ctx = Ctx {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: crate::http(),
            armed: armed.clone(),
        };
        let router = axum::Router::new().fallback(forward).with_state(ctx);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let endpoint = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { endpoint, armed }
    }

    /// The endpoint to give the store.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// From now on, these operations (`PutItem`, `TransactWriteItems` …) fail.
    pub fn fail(&self, operations: &[&str]) {
        let mut a = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        a.operations = operations.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Stops failing.
    pub fn heal(&self) {
        self.fail(&[]);
    }

    /// How many requests were failed on purpose.
    pub fn failed(&self) -> u64 {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).failed
    }

    /// Requests seen since the start or the last [`FaultProxy::reset_counts`],
    /// by operation (`GetItem`, `BatchGetItem` …), failed ones included.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .clone()
    }

    /// Starts counting from zero.
    pub fn reset_counts(&self) {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .clear();
    }
}

async fn forward(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|h| h.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    {
        let mut a = ctx.armed.lock().unwrap_or_else(|e| e.into_inner());
        *a.seen.entry(target.clone()).or_default() += 1;
        if a.operations.contains(&target) {
            a.failed += 1;
            return Response::builder()
                .status(500)
                .header("content-type", "application/x-amz-json-1.0")
                .body(Body::from(r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected fault"}"#))
                .unwrap_or_default();
        }
    }
    let bytes = to_bytes(body, 32 * 1024 * 1024).await.unwrap_or_default();
    let mut out = ctx
        .http
        .post(format!("{}{}", ctx.upstream, parts.uri.path()))
        .body(bytes);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    match out.send().await {
        Ok(r) => {
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.bytes().await.unwrap_or_default();
            let mut resp = Response::builder().status(status);
            for (name, value) in &headers {
                if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
                    resp = resp.header(name, value);
                }
            }
            resp.body(Body::from(body)).unwrap_or_default()
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(e.to_string()))
            .unwrap_or_default(),
    }
}
