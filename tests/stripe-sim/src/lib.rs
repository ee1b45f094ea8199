//! Stripe simulator for tests and the local demo (never deployed).
//!
//! [`Simulator::new`] generates seeded, realistic connected accounts; [`Simulator::serve`] /
//! [`Simulator::bind`] serve the read-only Stripe API subset Kustiq uses, both OAuth flows and
//! the `/_sim` control endpoints on 127.0.0.1; [`Simulator::advance_days`] moves the simulated
//! clock and sends the resulting events as signed webhooks.

#![recursion_limit = "256"]
#![warn(missing_docs)]

pub mod api;
pub mod control;
pub mod engine;
pub mod ids;
pub mod model;
pub mod names;
pub mod oauth;
pub mod render;
pub mod sim;
pub mod version;

pub use version::ApiVersion;

pub use sim::{
    AccountInfo, Advance, CLIENT_ID, Counts, Delivery, EmitError, Flag, PLATFORM_KEY, SimConfig,
    Simulator, WebhookTarget,
};

use axum::Router;
use axum::routing::{any, get, post};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

impl Simulator {
    /// The full router: `/v1/*`, OAuth and `/_sim/*`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/oauth/authorize", get(oauth::connect_authorize))
            .route("/oauth/token", post(oauth::connect_token))
            .route("/oauth/deauthorize", post(oauth::deauthorize))
            .route("/apps/oauth/authorize", get(oauth::app_authorize))
            // The path of Stripe's real Apps install link, for clients that keep it.
            .route("/oauth/v2/authorize", get(oauth::app_authorize))
            .route("/_sim/advance", post(control::advance))
            .route("/_sim/emit", post(control::emit))
            .route("/_sim/accounts/{id}/{what}", post(control::toggle))
            .route("/_sim/tokens/expire", post(control::expire_tokens))
            .route("/_sim/stats", get(control::stats))
            .route("/_sim/deliveries", get(control::deliveries))
            .route(
                "/v1/{*rest}",
                any(
                    |axum::extract::State(sim): axum::extract::State<Simulator>,
                     method,
                     uri,
                     headers,
                     body| api::handle(sim, method, uri, headers, body),
                ),
            )
            .with_state(self.clone())
    }

    /// Serves on an already-bound listener until the returned handle is shut down or dropped.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<RunningSim> {
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = self.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningSim {
            base_url: format!("http://{addr}"),
            accounts: self.accounts(),
            sim: self,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Binds 127.0.0.1:`port` (0 picks a free port) and serves.
    pub async fn bind(self, port: u16) -> std::io::Result<RunningSim> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        self.serve(listener).await
    }
}

/// A simulator being served. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningSim {
    /// `http://127.0.0.1:<port>`: use it as both the API and the Connect base URL.
    pub base_url: String,
    /// The connected accounts and their restricted keys.
    pub accounts: Vec<AccountInfo>,
    /// The simulator, to advance the clock and inspect counters.
    pub sim: Simulator,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSim {
    /// The line the binary prints when ready.
    pub fn ready_line(&self) -> serde_json::Value {
        let cfg = self.sim.config();
        serde_json::json!({
            "base_url": self.base_url,
            "accounts": self.accounts,
            "platform_key": PLATFORM_KEY,
            "client_id": CLIENT_ID,
            "now": self.sim.now().unix(),
            "seed": cfg.seed,
            "customers": self.accounts.iter().map(|a| self.sim.counts(&a.id).map_or(0, |c| c.customers)).collect::<Vec<_>>(),
        })
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
