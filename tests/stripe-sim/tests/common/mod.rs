//! Shared helpers: start a simulator on a free loopback port and call it.

#![allow(dead_code)]

use axum::body::Bytes;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use stripe_sim::{RunningSim, SimConfig, Simulator};

/// Generates and serves a simulator.
pub async fn start(config: SimConfig) -> RunningSim {
    Simulator::new(config)
        .bind(0)
        .await
        .expect("bind 127.0.0.1:0")
}

/// A small default: 300 customers over 2 years, two accounts, no rate limit.
pub fn small() -> SimConfig {
    SimConfig {
        customers: 300,
        ..SimConfig::default()
    }
}

/// One HTTP client for every call: building one per request costs more than the request.
pub fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// One GET response.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

/// GET `path` with a bearer key and an optional `Stripe-Account` header.
pub async fn get(sim: &RunningSim, path: &str, key: &str, account: Option<&str>) -> Resp {
    let mut req = client()
        .get(format!("{}{path}", sim.base_url))
        .bearer_auth(key);
    if let Some(a) = account {
        req = req.header("Stripe-Account", a);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

/// GET as the platform on the first connected account.
pub async fn platform_get(sim: &RunningSim, path: &str) -> Resp {
    let account = sim.accounts[0].id.clone();
    get(sim, path, stripe_sim::PLATFORM_KEY, Some(&account)).await
}

/// Every object of a list endpoint, following `starting_after`; also checks newest-first order.
pub async fn list_all(sim: &RunningSim, path: &str, account: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}limit=100");
    loop {
        let r = get(sim, &url, stripe_sim::PLATFORM_KEY, Some(account)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let data = r.body["data"].as_array().cloned().unwrap_or_default();
        out.extend(data.iter().cloned());
        if r.body["has_more"] != Value::Bool(true) {
            break;
        }
        let last = data
            .last()
            .and_then(|o| o["id"].as_str())
            .expect("a page with has_more has data")
            .to_owned();
        url = format!("{path}{sep}limit=100&starting_after={last}");
    }
    out
}

/// A webhook endpoint that records what it receives.
pub async fn receiver() -> (String, Arc<Mutex<Vec<(String, Bytes)>>>) {
    let got: Arc<Mutex<Vec<(String, Bytes)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/webhooks/stripe",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let sig = headers
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                sink.lock().unwrap().push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}
