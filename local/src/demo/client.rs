//! The demo's HTTP client: the routes a dashboard and a browser would call, on loopback.

use crate::demo::crm::PlantedProfile;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use std::time::Duration;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Something the demo needs could not start.
    #[error("setup: {0}")]
    Setup(String),
    /// A route answered something the product flow does not expect.
    #[error("{0}")]
    Flow(String),
    /// The local server could not be reached.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
}

/// A bearer-authenticated client of the local runner. Redirects are not followed: the
/// OAuth dance is walked step by step, as a browser would.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Profiles per `profiles:batch` call (the route takes up to 1,000).
const BATCH: usize = 500;

impl Api {
    /// A client of `base` with `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, DemoError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    async fn read(resp: reqwest::Response, what: &str) -> Result<Value, DemoError> {
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(DemoError::Flow(format!("{what}: {status} {body}")));
        }
        Ok(body)
    }

    /// `GET path` with the bearer token.
    pub async fn get(&self, path: &str) -> Result<Value, DemoError> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        Self::read(resp, path).await
    }

    /// `POST path` with the bearer token and a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, DemoError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        Self::read(resp, path).await
    }

    /// Creates the CRM profiles through `POST /api/v1/profiles:batch`.
    pub async fn put_profiles(&self, profiles: &[PlantedProfile]) -> Result<(), DemoError> {
        for chunk in profiles.chunks(BATCH) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|p| {
                    let mut item = p.body.clone();
                    item["id"] = json!(p.id);
                    item
                })
                .collect();
            let out = self
                .post("/api/v1/profiles:batch", &json!({"profiles": items}))
                .await?;
            let failed: Vec<&Value> = out["results"]
                .as_array()
                .map(|r| r.iter().filter(|x| x["error"].is_object()).collect())
                .unwrap_or_default();
            if let Some(first) = failed.first() {
                return Err(DemoError::Flow(format!(
                    "{} profiles refused, first: {first}",
                    failed.len()
                )));
            }
        }
        Ok(())
    }

    /// Walks the Connect OAuth flow: our connect route → Stripe's authorize page (the
    /// simulator approves at once) → our callback.
    pub async fn connect_oauth(&self) -> Result<(), DemoError> {
        let start = self
            .http
            .get(format!(
                "{}/api/v1/integrations/stripe/connect?mode=test&backfill=all&method=connect",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let authorize = redirect_target(start, "connect")?;
        let approved = self.http.get(&authorize).send().await?;
        let callback = redirect_target(approved, "Stripe's authorize page")?;
        let done = self.http.get(&callback).send().await?;
        let status = done.status();
        if !(status.is_success() || status.is_redirection()) {
            let body = done.text().await.unwrap_or_default();
            return Err(DemoError::Flow(format!("OAuth callback: {status} {body}")));
        }
        Ok(())
    }

    /// `POST …/sync` (Sync now), then waits until that run has finished.
    pub async fn sync_now_and_wait(&self) -> Result<(), DemoError> {
        let before = self.get("/api/v1/integrations/stripe").await?;
        let resp = self
            .http
            .post(format!("{}/api/v1/integrations/stripe/sync", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        // 409: a run is already going; waiting for it is what Sync now means then.
        if !(resp.status().is_success() || resp.status() == StatusCode::CONFLICT) {
            return Self::read(resp, "sync").await.map(|_| ());
        }
        for _ in 0..600 {
            let now = self.get("/api/v1/integrations/stripe").await?;
            if now["last_sync_at"] != before["last_sync_at"] && now["sync"]["state"] != "running" {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(DemoError::Flow("sync did not finish within 60 s".into()))
    }
}

fn redirect_target(resp: reqwest::Response, what: &str) -> Result<String, DemoError> {
    if !resp.status().is_redirection() {
        return Err(DemoError::Flow(format!(
            "{what}: expected a redirect, got {}",
            resp.status()
        )));
    }
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| DemoError::Flow(format!("{what}: redirect without Location")))
}
