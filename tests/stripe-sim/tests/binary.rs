//! The `stripe-sim` binary: contract flags, the ready line, and HTTP control.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The one JSON line the started simulator prints when it is ready.
async fn ready_line(child: &mut std::process::Child) -> Value {
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("ready line");
    serde_json::from_str(&line).expect("one JSON line")
}

#[tokio::test]
async fn binary_prints_one_ready_line_and_serves_with_contract_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stripe-sim"))
        .args([
            "--port",
            "0",
            "--seed",
            "7",
            "--customers",
            "60",
            "--years",
            "1",
            "--rate-limit",
            "50",
            "--latency-ms",
            "1",
            "--now",
            "1767225600",
        ])
        .args([
            "--webhook-url",
            "http://127.0.0.1:9/webhooks/stripe",
            "--webhook-secret",
            "whsec_bin",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn stripe-sim");
    let ready = ready_line(&mut child).await;
    let base = ready["base_url"].as_str().expect("base_url").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let accounts = ready["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 2);
    let id = accounts[0]["id"].as_str().unwrap();
    let key = accounts[0]["restricted_key"].as_str().unwrap();
    assert!(id.starts_with("acct_") && key.starts_with("rk_test_"));

    // reqwest is built without a default TLS provider (see the workspace manifest).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let customers: Value = http
        .get(format!("{base}/v1/customers?limit=100"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customers["data"].as_array().map(Vec::len), Some(60));
    let before = ready["now"].as_i64().unwrap();
    let advanced: Value = http
        .post(format!("{base}/_sim/advance?days=10"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(advanced["now"].as_i64(), Some(before + 10 * 86_400));
    // The webhook URL points at a closed port: deliveries are recorded as failed, not lost.
    let deliveries: Value = http
        .get(format!("{base}/_sim/deliveries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = deliveries.as_array().map_or(0, Vec::len);
    assert!(n > 0, "ten days of 60 customers produce events");
    assert_eq!(advanced["events"].as_u64(), Some(n as u64));
    assert_eq!(advanced["failed"].as_u64(), Some(n as u64));
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["error"].is_string() && d["signature"].as_str().unwrap().starts_with("t="))
    );
    let stats: Value = http
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["non_get_requests"], 0);
    child.kill().expect("stop the child we started");
    let _ = child.wait();
}

#[tokio::test]
async fn api_version_flag_renders_the_legacy_shape() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stripe-sim"))
        .args(["--port", "0", "--customers", "30", "--accounts", "1"])
        .args(["--api-version", "2024-06-20", "--now", "1767225600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn stripe-sim");
    let ready = ready_line(&mut child).await;
    let base = ready["base_url"].as_str().expect("base_url").to_owned();
    let key = ready["accounts"][0]["restricted_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let events: Value = reqwest::Client::new()
        .get(format!("{base}/v1/events?limit=3"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = events["data"].as_array().expect("events");
    assert!(!data.is_empty());
    assert!(
        data.iter().all(|e| e["api_version"] == "2024-06-20"),
        "{events}"
    );
    child.kill().expect("stop the child we started");
    let _ = child.wait();
    let refused = Command::new(env!("CARGO_BIN_EXE_stripe-sim"))
        .args(["--port", "0", "--api-version", "someday"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run stripe-sim");
    assert!(!refused.success(), "an unknown version is refused at start");
}
