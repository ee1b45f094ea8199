//! Cold-start proxy (`scripts/bench-cold-start`): for every function of
//! infra/template.yaml and the hello-world baseline (`kustiq-hello`), start the
//! process against cargo-lambda's runtime emulator with the environment the
//! emulator tests use, send one cheap invocation through the Lambda Invoke API,
//! and time process spawn → response received. Prints median / p90 per function
//! and the ratio of each median to hello's, measured in the same run (rounds
//! interleave the functions, so machine load hits all of them alike).
//!
//! `KUSTIQ_COLD_START_RUNS` (default 20) sets the timed runs per function; one
//! untimed run each comes first (page cache). `KUSTIQ_COLD_START_ONLY` (binaries,
//! comma-separated) keeps only those functions; hello always runs. `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, when set, pass on to the functions (the trust-store layout to emulate:
//! Lambda's has one bundle where Debian's adds a directory of a file per root). Needs the test stack
//! (`source .cache/stack.env`), cargo-lambda and the host binaries
//! (`scripts/lambda bins`, `eval "$(scripts/lambda env)"`), as the emulator tests.

use kustiq::domain::time::Timestamp;
use kustiq_tests::Engine;
use kustiq_tests::emulator::{Emulator, environment, http_request};
use kustiq_tests::eventbridge::envelope;
use kustiq_tests::template::Template;
use kustiq_tests::webhook::Bench;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The baseline binary (tests/hello-lambda).
const HELLO: &str = "kustiq-hello";

/// One function under test: its binary, the invocation it gets, and what a handled
/// answer looks like (a check, so a crashed start is never timed as a fast one).
struct Probe {
    binary: String,
    payload: Value,
    what: String,
    handled: fn(&str) -> bool,
}

/// The cheapest invocation each function handles without any I/O: an authorized
/// route without JWT claims (401), the webhook without a signature (400), a schedule
/// naming no task of the function (its Lambda error), an EventBridge envelope from a
/// foreign source (its Lambda error), and any event for hello.
fn probes() -> Vec<Probe> {
    let only = std::env::var("KUSTIQ_COLD_START_ONLY").unwrap_or_default();
    let only: Vec<&str> = only.split(',').filter(|s| !s.is_empty()).collect();
    let mut out = vec![];
    for f in Template::load().functions() {
        if !only.is_empty() && !only.contains(&f.binary.as_str()) {
            continue;
        }
        let probe = if let Some((method, path, _)) = f.routes.iter().find(|r| r.2) {
            let path = path
                .replace("{connection_id}", "conn_1")
                .replace("{profile_id}", "p0");
            Probe {
                payload: http_request(method, &path, json!({}), None, None),
                what: format!("{method} {path}, no JWT claims → 401"),
                handled: |body| body.contains("\"statusCode\":401"),
                binary: f.binary,
            }
        } else if let Some((method, path, _)) = f.routes.first() {
            let path = path.replace("{connection_id}", "conn_1");
            Probe {
                payload: http_request(method, &path, json!({}), Some("{}"), None),
                what: format!("{method} {path}, no Stripe-Signature → 400"),
                handled: |body| body.contains("\"statusCode\":400"),
                binary: f.binary,
            }
        } else if !f.schedules.is_empty() {
            Probe {
                payload: json!({"kustiq_task": "cold-start-probe"}),
                what: "{\"kustiq_task\": \"cold-start-probe\"} → UnknownTask error".to_owned(),
                handled: |body| body.contains("UnknownTask"),
                binary: f.binary,
            }
        } else {
            let event = json!({"id": "evt_cold", "object": "event", "created": 1_700_000_000});
            Probe {
                payload: envelope(&event, "aws.partner/stripe.com/ed_test_not_ours"),
                what: "EventBridge envelope, foreign source → Source error".to_owned(),
                handled: |body| body.contains("Source"),
                binary: f.binary,
            }
        };
        out.push(probe);
    }
    out.sort_by(|a, b| a.binary.cmp(&b.binary));
    out.push(Probe {
        binary: HELLO.to_owned(),
        payload: json!({}),
        what: "any event → {\"hello\": \"world\"}".to_owned(),
        handled: |body| body.contains("hello"),
    });
    out
}

/// Spawn → answer for one start of `probe.binary`; the process is killed afterwards.
async fn once(
    emu: &Emulator,
    http: &reqwest::Client,
    env: &[(&str, String)],
    probe: &Probe,
) -> (Duration, String) {
    let url = emu.invoke_url(&probe.binary);
    let body = probe.payload.to_string();
    let start = Instant::now();
    let mut child = emu.spawn(&probe.binary, env);
    let answer = async {
        let resp = http.post(&url).body(body).send().await?;
        let status = resp.status();
        Ok::<_, reqwest::Error>(format!("{status} {}", resp.text().await?))
    };
    let answer = tokio::time::timeout(Duration::from_secs(60), answer).await;
    let took = start.elapsed();
    let _ = child.kill().await;
    let answer = match answer {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => panic!("{}: invoke failed: {e}", probe.binary),
        Err(_) => panic!("{}: no answer in 60 s", probe.binary),
    };
    assert!(
        (probe.handled)(&answer),
        "{}: not the expected answer to {}: {answer}",
        probe.binary,
        probe.what
    );
    (took, answer)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    // Nearest rank: the smallest value with at least p % of the runs at or below it.
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("KUSTIQ_COLD_START_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20);
    let now = Timestamp::from_unix(chrono::Utc::now().timestamp());
    let bench = Bench::new(Engine::DynamoDbLocal, now).await;
    let mut env = environment(&bench, "whsec_cold_start").await;
    for name in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name, value));
        }
    }
    let emu = Emulator::start().await;
    let http = kustiq_tests::http();
    let probes = probes();

    for probe in &probes {
        let (_, answer) = once(&emu, &http, &env, probe).await;
        let short: String = answer.chars().take(120).collect();
        eprintln!("{:<18} {} — {short}", probe.binary, probe.what);
    }
    let mut times: Vec<Vec<Duration>> = vec![vec![]; probes.len()];
    for round in 0..runs {
        for (i, probe) in probes.iter().enumerate() {
            times[i].push(once(&emu, &http, &env, probe).await.0);
        }
        eprintln!("round {}/{runs}", round + 1);
    }

    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            percentile(t, 50)
        })
        .collect();
    let hello = medians[probes.len() - 1];
    println!("| function | median (ms) | p90 (ms) | median / hello |");
    println!("|---|---:|---:|---:|");
    for (i, probe) in probes.iter().enumerate() {
        println!(
            "| {} | {:.1} | {:.1} | {:.2}× |",
            probe.binary,
            ms(medians[i]),
            ms(percentile(&times[i], 90)),
            ms(medians[i]) / ms(hello)
        );
    }
    println!("\n{runs} timed starts per function, spawn → Invoke API response.");
}
