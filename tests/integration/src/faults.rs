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
