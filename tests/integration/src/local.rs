//! `kustiq-local serve` on a free loopback port, over a fresh data dir, with a
//! token for one workspace: what the local-runner tests talk to.

use crate::Answer;
use crate::snapshot::{TableSnapshot, assert_nothing_stored};
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::domain::region::Region;
use kustiq_local::runner::start;
use kustiq_local::server::{Limits, Local, serve_with};
use kustiq_local::token::Claims;
use serde_json::Value;
use std::net::SocketAddr;

/// A running local server. Dropping it leaves the server task to end with the runtime.
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    /// A valid token for the workspace it was started for.
    pub token: String,
    /// Its data dir (the store file and the token key).
    pub dir: tempfile::TempDir,
    /// Its store, reached in-process, to check what requests stored.
    pub store: DynamoStore,
    /// Every `(method, path template)` it mounts, for tests that walk them all.
    pub routes: Vec<(&'static str, &'static str)>,
    http: reqwest::Client,
}

/// The endpoint secret every [`LocalServer`] verifies webhooks with
/// (`KUSTIQ_STRIPE_WEBHOOK_SECRET`, as `kustiq-local serve` reads it).
pub const WEBHOOK_SECRET: &str = "whsec_local_tests";

/// Sets `KUSTIQ_STRIPE_WEBHOOK_SECRET` for this process, once, before the
/// first runner reads its environment: without it a signed delivery is the
/// server's configuration error (500), not the sender's.
fn configure_webhook_secret() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the same value is written once per process, before any runner
        // reads the environment; nextest runs each test in its own process, and
        // no test reads this variable through libc while it is set.
        unsafe { std::env::set_var("KUSTIQ_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET) };
    });
}

/// A pro plan's claims for `workspace` in the EU, issued at `iat`, expiring at `exp`.
pub fn claims(workspace: &str, iat: i64, exp: i64) -> Claims {
    Claims {
        workspace_id: workspace.into(),
        plan: "pro".into(),
        region: "eu".into(),
        iat,
        exp,
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl LocalServer {
    /// Starts the EU runner with `limits`; its token is for `workspace`, valid an hour.
    pub async fn start(workspace: &str, limits: Limits) -> Self {
        configure_webhook_secret();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let stack = start(dir.path(), Region::Eu)
            .await
            .unwrap_or_else(|e| panic!("start: {e}"));
        let token = stack.tokens.issue(&claims(workspace, now(), now() + 3600));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let store = stack.store.clone();
        let routes = stack.router.routes();
        let local = Local {
            router: stack.router.clone(),
            tokens: stack.tokens.clone(),
        };
        tokio::spawn(async move {
            let _engine = stack.engine;
            let _ = serve_with(listener, local, limits).await;
        });
        Self {
            addr,
            base: format!("http://{addr}"),
            token,
            dir,
            store,
            routes,
            http: crate::http(),
        }
    }

    /// Sends `method path` with `token` as a bearer (or none) and a JSON `body`
    /// (or none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// `GET path` with the server's own token.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, Some(&self.token), None)
            .await
    }

    /// `PUT path` of `body` with the server's own token.
    pub async fn put(&self, path: &str, body: &str) -> Answer {
        self.call(reqwest::Method::PUT, path, Some(&self.token), Some(body))
            .await
    }

    /// Every item of the server's table, for [`LocalServer::assert_nothing_stored`].
    pub async fn snapshot(&self) -> TableSnapshot {
        TableSnapshot::take(&self.store).await
    }

    /// Asserts the table is as `before`: `what` stored nothing.
    pub async fn assert_nothing_stored(&self, before: &TableSnapshot, what: &str) {
        assert_nothing_stored(&self.store, before, what).await;
    }
}

/// The local runner's HTTP front (`serve_with`, as `kustiq-local serve` runs it)
/// over `router` — a bench's, whose store and clock the test controls — on a
/// free loopback port. Returns its base URL, `http://<addr>`.
pub async fn front(router: kustiq::http::Router, limits: Limits) -> String {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tokens = kustiq_local::token::TokenKey::load_or_create(dir.path())
        .unwrap_or_else(|e| panic!("token key: {e}"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = serve_with(listener, Local { router, tokens }, limits).await;
    });
    format!("http://{addr}")
}
