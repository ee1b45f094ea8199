//! A fault-injecting proxy in front of DynamoDB Local: forwards every request,
//! except that while a fault is armed, the chosen operations answer 500
//! (DynamoDB's InternalServerError), as a failing store would. It also counts
//! the requests it sees per operation, for the requests-per-event figure.
//! [`TcpGate`] takes the store's port down outright; [`DiesAfterWrites`] is the store
//! of a process that dies after a chosen number of writes.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use kustiq::adapters::dynamo::DynamoStore;
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

/// A plain TCP relay in front of a real endpoint (DynamoDB Local) that can be
/// taken down and brought back on the same port: while down, the port is
/// closed and every open connection is cut, so a client meets exactly what a
/// stopped server gives it (reset, then connection refused) — not an answer.
pub struct TcpGate {
    addr: std::net::SocketAddr,
    upstream: String,
    running: Mutex<Option<(tokio::task::JoinHandle<()>, tokio::sync::watch::Sender<()>)>>,
}

impl TcpGate {
    /// A gate to `upstream` (`http://host:port`), up, on a free loopback port.
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_end_matches('/')
            .rsplit("://")
            .next()
            .unwrap_or(upstream)
            .to_owned();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let gate = Self {
            addr,
            upstream,
            running: Mutex::new(None),
        };
        gate.serve(listener);
        gate
    }

    /// The endpoint to give the store.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (cut, _) = tokio::sync::watch::channel(());
        let upstream = self.upstream.clone();
        let cuts = cut.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstream, mut cut) = (upstream.clone(), cuts.subscribe());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some((accept, cut));
    }

    /// Stops the endpoint: the port closes and open connections are cut.
    pub fn down(&self) {
        if let Some((accept, cut)) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            accept.abort();
            // Dropping the sender wakes every relay, which then drops both sockets.
            drop(cut);
        }
    }

    /// Starts the endpoint again on the same port.
    pub async fn up(&self) {
        self.down();
        // The aborted accept loop releases the port asynchronously: retry briefly.
        for _ in 0..100 {
            if let Ok(listener) = tokio::net::TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the gate could not take its port {} back", self.addr);
    }
}

/// An HTTP proxy in front of the Stripe simulator that answers a seeded random
/// share of requests itself, as a struggling Stripe does: `500 api_error` or
/// `429 rate_limit`, in Stripe's error shape; the rest are forwarded unchanged.
#[derive(Clone)]
pub struct ChaosProxy {
    /// `http://<addr>`: the base URL to give the Stripe client.
    pub base_url: String,
    stats: Arc<Mutex<(u64, u64, u64)>>,
}

#[derive(Clone)]
struct Chaos {
    upstream: String,
    http: reqwest::Client,
    per_mille: u64,
    rng: Arc<Mutex<u64>>,
    stats: Arc<Mutex<(u64, u64, u64)>>,
}

impl ChaosProxy {
    /// Starts a proxy to `upstream` failing `per_mille` ‰ of requests, from `seed`.
    pub async fn start(upstream: &str, per_mille: u64, seed: u64) -> Self {
        let stats = Arc::new(Mutex::new((0, 0, 0)));
        let chaos = Chaos {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: crate::http(),
            per_mille,
            rng: Arc::new(Mutex::new(seed | 1)),
            stats: stats.clone(),
        };
        let router = axum::Router::new()
            .fallback(chaos_forward)
            .with_state(chaos);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base_url: format!("http://{addr}"),
            stats,
        }
    }

    /// Requests seen, answered 500, answered 429.
    pub fn stats(&self) -> (u64, u64, u64) {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn chaos_forward(State(c): State<Chaos>, req: Request) -> Response {
    let roll = {
        let mut x = c.rng.lock().unwrap_or_else(|e| e.into_inner());
        // xorshift64: deterministic for a seed, no dependency for a test helper.
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % 2_000
    };
    let fail = match roll {
        r if r < c.per_mille => Some((500, "api_error")),
        r if (1_000..1_000 + c.per_mille).contains(&r) => Some((429, "rate_limit")),
        _ => None,
    };
    {
        let mut s = c.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += 1;
        match fail {
            Some((500, _)) => s.1 += 1,
            Some(_) => s.2 += 1,
            None => {}
        }
    }
    if let Some((status, kind)) = fail {
        let body =
            format!(r#"{{"error":{{"type":"{kind}","message":"injected by the chaos proxy"}}}}"#);
        return Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap_or_default();
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 32 * 1024 * 1024).await.unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = c
        .http
        .request(parts.method.clone(), format!("{}{path}", c.upstream))
        .body(bytes);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    match out.send().await {
        Ok(r) => {
            let mut resp = Response::builder().status(r.status());
            for (name, value) in r.headers() {
                if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
                    resp = resp.header(name, value);
                }
            }
            let body = r.bytes().await.unwrap_or_default();
            resp.body(Body::from(body)).unwrap_or_default()
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(e.to_string()))
            .unwrap_or_default(),
    }
}

/// The store of a process that dies after its `n`th write: an SDK interceptor that lets
/// writes (PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem) through
/// until `n` of them landed (answered 200; a refused condition changes nothing and does
/// not count), then refuses every request before it is sent, so nothing more lands.
/// Kill points at write boundaries, chosen rather than timed.
#[derive(Debug, Clone)]
pub struct DiesAfterWrites {
    allowed: u64,
    writes: Arc<Mutex<Writes>>,
}

#[derive(Debug, Default)]
struct Writes {
    landed: u64,
    in_flight: u64,
    dead: bool,
}

/// The DynamoDB operations that change the table.
pub const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

impl DiesAfterWrites {
    /// A process that dies after `n` writes.
    pub fn after(n: u64) -> Self {
        Self {
            allowed: n,
            writes: Arc::default(),
        }
    }

    /// Whether the process died (a request was refused).
    pub fn died(&self) -> bool {
        self.lock().dead
    }

    /// `store` as this process sees it (same table and client settings, cold caches).
    pub fn wrap(&self, store: &DynamoStore) -> DynamoStore {
        crate::counting::intercepted(store, self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Intercept for DiesAfterWrites {
    fn name(&self) -> &'static str {
        "dies-after-writes"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut w = self.lock();
        let write = WRITES.contains(&crate::counting::operation(cfg));
        // A write that could make the count pass `n` (others still in flight may land)
        // is the one the process does not live to send.
        if write && w.landed + w.in_flight >= self.allowed {
            w.dead = true;
        }
        if w.dead {
            return Err("the process died".into());
        }
        if write {
            w.in_flight += 1;
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Attempts refused above never went out (and the process is dead anyway).
        if let Some(response) = context.response()
            && WRITES.contains(&crate::counting::operation(cfg))
        {
            let mut w = self.lock();
            w.in_flight = w.in_flight.saturating_sub(1);
            if response.status().is_success() {
                w.landed += 1;
            }
        }
        Ok(())
    }
}
