//! Webhook ingest end to end on the embedded default store (dynoxide on a
//! SQLite file, reached in-process as `kustiq-local` does), through the real
//! HTTP handler `kustiq::http::handle`:
//!
//! 1. DynamoDB requests per event (goal ≤ 3), by operation, counted by an
//!    SDK interceptor on the store's client over 500 events spread over the run.
//! 2. Latency of webhook POST → acknowledged, and POST → new score visible on
//!    `GET /api/v1/profiles/{id}/churn` (the history's newest entry names the
//!    event), p50/p95/p99 over 10,000 events (goal p50 ≤ 50 ms), and
//!    throughput. Baseline in the same run: POSTs of a signed event of a type
//!    the engine ignores (verify + parse + filter, no storage).
//!
//! Events are the simulator's, engine types only, oldest first; every
//! customer is matched to a profile. The clock follows the events (each is
//! received a second after it was created).
//!
//! 3. The same events offered at 1,000/s (`KUSTIQ_BENCH_RATE`) for up to 60 s
//!    (`KUSTIQ_BENCH_LOAD_SECS`) to the local runner's HTTP front: achieved rate,
//!    refusals and POST → applied latency under load.
//!
//! Run: `cargo bench -p kustiq-tests --bench ingest_e2e`.
//! `KUSTIQ_BENCH_EVENTS` (default 10000), `KUSTIQ_BENCH_COUNTED` (default 500)
//! and `KUSTIQ_BENCH_CUSTOMERS` (default 400) tune it.

use kustiq::adapters::dynamo::DynamoStore;
use kustiq::domain::time::Timestamp;
use kustiq_local::embedded::EmbeddedDynamo;
use kustiq_local::server::Limits;
use kustiq_tests::counting::RequestCounter;
use kustiq_tests::flood::{Offer, Tally, flood, signed, tally};
use kustiq_tests::measure::env_usize;
use kustiq_tests::simulated::{customer_of, engine_events};
use kustiq_tests::webhook::Bench;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn created(event: &Value) -> i64 {
    event["created"].as_i64().unwrap_or(0)
}

/// A file-backed embedded store, as `kustiq-local serve` runs by default.
fn embedded(dir: &tempfile::TempDir) -> EmbeddedDynamo {
    EmbeddedDynamo::open_file(&dir.path().join("kustiq.sqlite")).expect("embedded store")
}

fn start_time(events: &[Value]) -> Timestamp {
    Timestamp::from_unix(events.first().map(created).unwrap_or(0))
}

/// Requests per event by operation over `events`, counted on the client.
async fn count_requests(account: &str, events: &[Value]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let counter = RequestCounter::default();
    let client = embedded(&dir).client("eu-central-1");
    let store = counter.wrap(&DynamoStore::new(client, "kustiq-bench"));
    let bench = Bench::on(store, start_time(events)).await;
    let (_ws, profiles) = bench.connect_matched("ws_bench", account, events).await;
    counter.take();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for e in events {
        bench.receive(e);
        let a = bench.post_signed(&e.to_string()).await;
        assert_eq!(a.status, 200, "{} {}: {:?}", e["type"], e["id"], a.body);
        *outcomes
            .entry(a.body["outcome"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let counts = counter.take();
    let total: u64 = counts.values().sum();
    let n = events.len() as f64;
    println!(
        "\n## DynamoDB requests per event ({} events, {} matched customers)",
        events.len(),
        profiles.len()
    );
    println!("outcomes: {outcomes:?}");
    println!("| operation | requests | per event |");
    println!("|---|---:|---:|");
    for (op, c) in &counts {
        println!("| {op} | {c} | {:.3} |", *c as f64 / n);
    }
    println!("| **total** | {total} | **{:.3}** |", total as f64 / n);
}

struct Stats {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    mean: Duration,
    n: usize,
}

fn stats(mut d: Vec<Duration>) -> Stats {
    d.sort();
    let at = |q: f64| {
        d.get(((d.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    let sum: Duration = d.iter().sum();
    Stats {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        mean: sum / d.len().max(1) as u32,
        n: d.len(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(name: &str, s: &Stats, base: &Stats) {
    println!(
        "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1}× |",
        s.n,
        ms(s.p50),
        ms(s.p95),
        ms(s.p99),
        ms(s.mean),
        s.p50.as_secs_f64() / base.p50.as_secs_f64().max(1e-9)
    );
}

/// Latency of POST → acknowledged and POST → score visible.
async fn latency(account: &str, events: &[Value]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = embedded(&dir).store("eu-central-1", "kustiq-bench");
    let bench = Bench::on(store, start_time(events)).await;
    let (_ws, profiles) = bench.connect_matched("ws_bench", account, events).await;

    let ignored = json!({
        "id": "evt_1BenchIgnored", "object": "event", "type": "payout.paid", "created": 0,
        "livemode": false, "account": account, "api_version": "2025-03-31.basil",
        "data": {"object": {"id": "po_1", "object": "payout", "amount": 100}}
    })
    .to_string();
    let mut baseline = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        let a = bench.post_signed(&ignored).await;
        baseline.push(t.elapsed());
        assert_eq!(a.body["outcome"], "ignored_type");
    }
    let mut churn_only = Vec::new();

    let (mut acked, mut visible) = (Vec::new(), Vec::new());
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut confirmed, mut unconfirmed) = (0u64, 0u64);
    let started = Instant::now();
    for e in events {
        bench.receive(e);
        let t = Instant::now();
        let a = bench.post_signed(&e.to_string()).await;
        let ack = t.elapsed();
        assert_eq!(a.status, 200, "{} {}: {:?}", e["type"], e["id"], a.body);
        acked.push(ack);
        let outcome = a.body["outcome"].as_str().unwrap_or("?").to_owned();
        let profile = customer_of(e).and_then(|c| profiles.get(&c));
        if let (Some(p), "applied") = (profile, outcome.as_str()) {
            let path = format!("/api/v1/profiles/{p}/churn");
            let r = Instant::now();
            let churn = bench
                .send(bench.authed("GET", &path, "ws_bench", None))
                .await;
            let done = t.elapsed();
            churn_only.push(r.elapsed());
            if churn.status == 200 && churn.body["history"][0]["reason"] == e["id"] {
                confirmed += 1;
                visible.push(done);
            } else {
                unconfirmed += 1;
            }
        }
        *outcomes.entry(outcome).or_default() += 1;
    }
    let wall = started.elapsed();

    let base = stats(baseline);
    println!(
        "\n## End-to-end latency ({} events, {} matched customers)",
        events.len(),
        profiles.len()
    );
    println!(
        "outcomes: {outcomes:?}; new score confirmed on the churn route: {confirmed}, not confirmed: {unconfirmed}"
    );
    println!("| measure | n | p50 ms | p95 ms | p99 ms | mean ms | p50 vs baseline |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    row("baseline: POST of an ignored type", &base, &base);
    row(
        "POST → 200 (recorded, applied, scored)",
        &stats(acked),
        &base,
    );
    row("GET churn alone", &stats(churn_only), &base);
    row(
        "POST → new score visible on GET churn",
        &stats(visible),
        &base,
    );
    println!(
        "throughput: {:.0} events/s over {:.1} s (one at a time, POST plus the GET that confirms)",
        events.len() as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
}

/// Part 3: the same events offered at `offer.rate`/s to the local runner's HTTP front
/// (its hyper server and router, one connection per request as it serves them) over a
/// fresh embedded store on a SQLite file: achieved rate, refusals, POST → applied.
async fn under_load(account: &str, events: &[Value], offer: Offer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DynamoStore::new(embedded(&dir).client("eu-central-1"), "kustiq-load");
    let newest = events.last().map(created).unwrap_or(0);
    let bench = Bench::on(store, Timestamp::from_unix(newest + 3_600)).await;
    let (_ws, profiles) = bench.connect_matched("ws_bench", account, events).await;
    let base = kustiq_tests::local::front(bench.router.clone(), Limits::default()).await;
    let secret = kustiq::domain::secret::Secret::new(kustiq_tests::webhook::SECRETS[1]);
    let now = Timestamp::from_unix(newest + 3_600);
    let (answers, wall) = flood(
        &format!("{base}/webhooks/stripe"),
        signed(events, &secret, now),
        offer,
    )
    .await;
    let Tally {
        by_outcome: by,
        applied,
        applied_ms: [p50, p95, p99],
    } = tally(&answers);
    println!(
        "\n## Under load: offered {}/s for ≤ {} s, ≤ {} in flight, through the runner's HTTP front ({} matched customers)",
        offer.rate,
        offer.secs,
        offer.in_flight,
        profiles.len()
    );
    println!(
        "sent {} in {wall:.1} s = {:.0}/s achieved; answers {by:?}",
        answers.len(),
        answers.len() as f64 / wall
    );
    println!(
        "POST → applied (score committed, visible): n {}, p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms",
        applied
    );
}

#[tokio::main]
async fn main() {
    let wanted = env_usize("KUSTIQ_BENCH_EVENTS", 10_000);
    let counted = env_usize("KUSTIQ_BENCH_COUNTED", 500);
    let customers = env_usize("KUSTIQ_BENCH_CUSTOMERS", 400);
    let t = Instant::now();
    let (account, events) = engine_events(31, customers, wanted).await;
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *types.entry(e["type"].as_str().unwrap_or("?")).or_default() += 1;
    }
    println!(
        "simulated {} engine events of {} customers in {:.1} s; by type: {types:?}",
        events.len(),
        customers,
        t.elapsed().as_secs_f64()
    );
    println!(
        "cores: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    // A sample spread over the whole run, so the mix of types is the same.
    let stride = (events.len() / counted.max(1)).max(1);
    let sample: Vec<Value> = events
        .iter()
        .step_by(stride)
        .take(counted)
        .cloned()
        .collect();
    count_requests(&account, &sample).await;
    latency(&account, &events).await;
    let offer = Offer {
        rate: env_usize("KUSTIQ_BENCH_RATE", 1_000) as u64,
        secs: env_usize("KUSTIQ_BENCH_LOAD_SECS", 60) as u64,
        in_flight: env_usize("KUSTIQ_BENCH_IN_FLIGHT", 64),
    };
    // A pool of its own, large enough for the whole offer (a flood of already-applied
    // events would measure duplicates).
    let wanted = env_usize("KUSTIQ_BENCH_LOAD_EVENTS", 60_000);
    let (account, events) =
        engine_events(33, env_usize("KUSTIQ_BENCH_LOAD_CUSTOMERS", 2_000), wanted).await;
    under_load(&account, &events, offer).await;
}
