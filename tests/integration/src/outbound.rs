//! The outbound-events bench: the webhook [`Bench`] with the webhook-endpoints
//! routes mounted (local key file, the local SSRF policy), the delivery job,
//! a loopback [`Receiver`] that captures what we POST, and Stripe's own Python
//! library to verify our signatures.

use crate::Answer;
use crate::webhook::{Bench, NowTs};
use crate::{Engine, require_env};
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::keys::LocalSealer;
use kustiq::adapters::outbound::{HttpSender, SendTimeouts};
use kustiq::app::outbound::deliver::{Backoff, RunReport, Worker};
use kustiq::app::outbound::target::TargetPolicy;
use kustiq::domain::ids::{ProfileId, WorkspaceId};
use kustiq::domain::time::Timestamp;
use kustiq::http::OutboundRoutes;
use kustiq::ports::outbound::{OutboundEvent, OutboxStore};
use lambda_http::Body;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// The bench with outbound routes and the delivery worker.
pub struct OutboundBench {
    /// The webhook bench (table, clock, every route group).
    pub bench: Bench,
    /// Retry pacing of [`OutboundBench::deliver`].
    pub backoff: Backoff,
    /// The sender the worker uses (the local policy unless replaced).
    pub sender: HttpSender,
    sealer: LocalSealer,
    _keys: tempfile::TempDir,
}

fn sender(policy: TargetPolicy) -> HttpSender {
    let timeouts = SendTimeouts {
        connect: std::time::Duration::from_secs(2),
        request: std::time::Duration::from_secs(5),
    };
    HttpSender::new(policy, timeouts).unwrap_or_else(|e| panic!("sender: {e}"))
}

impl OutboundBench {
    /// A bench on `engine` with the clock at `now`.
    pub async fn new(engine: Engine, now: Timestamp) -> Self {
        let mut bench = Bench::new(engine, now).await;
        let keys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sealer = || LocalSealer::open_or_create(keys.path()).unwrap_or_else(|e| panic!("{e}"));
        let clock: Arc<dyn kustiq::ports::clock::Clock> = Arc::new(bench.clock.clone());
        bench.router = bench.router.clone().mount(OutboundRoutes {
            store: bench.store.clone(),
            sealer: sealer(),
            sender: sender(TargetPolicy::LOCAL),
            clock,
            settings: bench.settings.clone(),
        });
        Self {
            sealer: sealer(),
            bench,
            backoff: Backoff::default(),
            sender: sender(TargetPolicy::LOCAL),
            _keys: keys,
        }
    }

    /// The worker will send under `policy` (the routes keep the local one).
    pub fn deliver_under(&mut self, policy: TargetPolicy) {
        self.sender = sender(policy);
    }

    /// The table.
    pub fn store(&self) -> &DynamoStore {
        &self.bench.store
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        self.bench.clock.now_ts()
    }

    /// Sends `method path` for `workspace` on `plan`, as the JWT authorizer passes it.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        workspace: &str,
        plan: &str,
        body: Option<&str>,
    ) -> Answer {
        let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
            serde_json::from_value(json!({
                "authorizer": {"jwt": {"claims": {"workspace_id": workspace, "plan": plan, "region": "eu"}, "scopes": null}},
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                "timeEpoch": 0
            }))
            .unwrap_or_else(|e| panic!("context: {e}"));
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        let query: std::collections::HashMap<String, String> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let req = http::Request::builder()
            .method(method)
            .uri(path_only)
            .body(
                body.map(|b| Body::Text(b.to_owned()))
                    .unwrap_or(Body::Empty),
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .with_request_context(RequestContext::ApiGatewayV2(ctx))
            .with_query_string_parameters(query);
        self.bench.send(req).await
    }

    /// Registers `url` for `events` as a pro `workspace`; the endpoint id and secret.
    pub async fn register(&self, workspace: &str, url: &str, events: &[&str]) -> (String, String) {
        let body = json!({"url": url, "events": events}).to_string();
        let a = self
            .call(
                "POST",
                "/api/v1/webhook-endpoints",
                workspace,
                "pro",
                Some(&body),
            )
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        let id = a.body["id"].as_str().unwrap_or_default().to_owned();
        let secret = a.body["secret"].as_str().unwrap_or_default().to_owned();
        (id, secret)
    }

    /// PUTs profile `profile` with a classifier churn_risk of `risk` (score 50 + risk).
    pub async fn score(&self, workspace: &str, profile: &str, risk: f64) {
        let body = json!({"classifier_churn_risk": risk}).to_string();
        let path = format!("/api/v1/profiles/{profile}");
        let a = self.call("PUT", &path, workspace, "pro", Some(&body)).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }

    /// The profile's events still in the outbox, in order.
    pub async fn outbox(&self, workspace: &str, profile: &str) -> Vec<OutboundEvent> {
        let ws = WorkspaceId::parse(workspace).unwrap_or_else(|e| panic!("{e}"));
        let p = ProfileId::parse(profile).unwrap_or_else(|e| panic!("{e}"));
        self.store()
            .outbox(&ws, &p)
            .await
            .unwrap_or_else(|e| panic!("outbox: {e}"))
    }

    /// One run of the delivery worker at the bench's time.
    pub async fn deliver(&self) -> RunReport {
        let worker = Worker {
            store: self.store(),
            sealer: &self.sealer,
            sender: &self.sender,
            backoff: self.backoff,
            batch: 100,
            budget: std::time::Duration::from_secs(60),
        };
        worker
            .run(self.now())
            .await
            .unwrap_or_else(|e| panic!("delivery run: {e}"))
    }

    /// `GET …/{id}/deliveries` as `workspace`: the `data` array.
    pub async fn deliveries(&self, workspace: &str, id: &str) -> Vec<Value> {
        let a = self
            .call(
                "GET",
                &format!("/api/v1/webhook-endpoints/{id}/deliveries"),
                workspace,
                "pro",
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        a.body["data"].as_array().cloned().unwrap_or_default()
    }
}

/// One POST the receiver took.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The `Kustiq-Signature` header.
    pub signature: String,
    /// The raw body.
    pub body: String,
}

impl Captured {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A loopback HTTP server that records every POST and answers a settable status.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    /// The port.
    pub port: u16,
    captured: Arc<Mutex<Vec<Captured>>>,
    status: Arc<AtomicU16>,
    location: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Self {
        let captured: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let location: Arc<Mutex<Option<String>>> = Arc::default();
        let (c, s, l) = (captured.clone(), status.clone(), location.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: http::HeaderMap, body: String| {
                let (c, s, l) = (c.clone(), s.clone(), l.clone());
                async move {
                    let signature = headers
                        .get("kustiq-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    c.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Captured { signature, body });
                    let status = http::StatusCode::from_u16(s.load(Ordering::SeqCst))
                        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                    let to = l.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let mut headers = http::HeaderMap::new();
                    if let Some(v) = to.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
                        headers.insert(http::header::LOCATION, v);
                    }
                    (status, headers)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            captured,
            status,
            location,
        }
    }

    /// Answers `307 Temporary Redirect` to `url` from now on.
    pub fn redirect_to(&self, url: &str) {
        *self.location.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.to_owned());
        self.answer(307);
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Captured> {
        self.captured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The Python of the test stack's venv, where `scripts/stack` installs Stripe's
/// library (`KUSTIQ_TEST_PYTHON`, else `.cache/venv` of this checkout).
pub fn stack_python() -> String {
    match std::env::var("KUSTIQ_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let local = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.cache/venv/bin/python");
            if std::path::Path::new(local).exists() {
                local.to_owned()
            } else {
                require_env("KUSTIQ_TEST_PYTHON")
            }
        }
    }
}

/// Verifies `header` over `body` with `secret` using Stripe's official Python
/// library (`stripe.WebhookSignature.verify_header`, tolerance 300 s). Returns
/// `Ok(())` or the library's error message.
pub fn verify_with_stripe_library(body: &str, header: &str, secret: &str) -> Result<(), String> {
    use std::io::Write;
    let script = r#"
import json, sys, stripe
a = json.load(sys.stdin)
try:
    stripe.WebhookSignature.verify_header(a["body"], a["header"], a["secret"], 300)
except stripe.SignatureVerificationError as e:
    print("rejected:", e.user_message or e)
    sys.exit(1)
print("verified with stripe", stripe.VERSION)
"#;
    let mut child = std::process::Command::new(stack_python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python: {e}"));
    let input = json!({"body": body, "header": header, "secret": secret}).to_string();
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(text)
    }
}
