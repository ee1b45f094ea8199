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
    http: reqwest::Client,
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
