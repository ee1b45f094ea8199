//! Cost on paper: what an applied webhook event and a backfilled account cost on
//! AWS, from the capacity units DynamoDB reports for every request the store sends
//! (`ReturnConsumedCapacity = TOTAL`) and the Lambda duration measured here, at the
//! template's memory and architecture, against published on-demand prices.
//!
//! Runs on DynamoDB Local (the test stack: `scripts/stack up`, then
//! `source .cache/stack.env`), which reports capacity as DynamoDB does.
//! 1. `KUSTIQ_BENCH_EVENTS` (default 2,000) engine events of a simulated account,
//!    every customer matched, through the webhook handler, oldest first.
//! 2. An all-time backfill of `KUSTIQ_BENCH_CUSTOMERS` (default 500) customers ×
//!    3 years through the sync worker, scaled to 10,000 customers (units grow with
//!    the objects applied).
//!
//! Baseline in the same run: the billing state's write units had it been stored as
//! JSON (the encoding before the compact one), from both encodings' sizes of the
//! same states.
//!
//! Run: `cargo bench -p kustiq-tests --bench cost`.

use kustiq::adapters::dynamo::{Consumed, DynamoStore, state_codec};
use kustiq::app::sync::worker::Outcome;
use kustiq::domain::billing_state::BillingState;
use kustiq::domain::connection::BackfillWindow;
use kustiq::domain::ids::{StripeCustomerId, WorkspaceId};
use kustiq::ports::billing::BillingStore;
use kustiq_tests::Engine;
use kustiq_tests::measure::env_usize as env;
use kustiq_tests::simulated::engine_events;
use kustiq_tests::sync::SyncBench;
use kustiq_tests::webhook::Bench;
use std::collections::BTreeMap;
use std::time::Instant;
use stripe_sim::SimConfig;

/// Published on-demand prices, us-east-1 (USD): DynamoDB per million write and read
/// request units; Lambda arm64 per GB-second and per million requests.
const WRITE_UNIT: f64 = 0.625 / 1e6;
const READ_UNIT: f64 = 0.125 / 1e6;
const GB_SECOND_ARM64: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// `infra/template.yaml`: the webhook and sync functions' memory.
const MEMORY_GB: f64 = 0.5;

/// Write units of one transactional write of `bytes` (2 per KB, rounded up).
fn tx_write_units(bytes: usize) -> f64 {
    2.0 * bytes.div_ceil(1024).max(1) as f64
}

/// The states' mean write units as stored now and as JSON, and mean sizes.
fn state_units(states: &[BillingState]) -> (f64, f64, f64, f64) {
    let (mut compact, mut json, mut cb, mut jb) = (0.0, 0.0, 0.0, 0.0);
    for s in states {
        let c = state_codec::encode(s).expect("encodes").len();
        let j = serde_json::to_vec(s).expect("json").len();
        compact += tx_write_units(c);
        json += tx_write_units(j);
        cb += c as f64;
        jb += j as f64;
    }
    let n = states.len().max(1) as f64;
    (compact / n, json / n, cb / n, jb / n)
}

async fn states_of(store: &DynamoStore, ws: &WorkspaceId, ids: &[String]) -> Vec<BillingState> {
    let mut out = Vec::new();
    for c in ids {
        let id = StripeCustomerId::parse(c.as_str()).expect("customer id");
        let (state, _) = store.load(ws, &id).await.expect("load");
        if state.newest.is_some() {
            out.push(state);
        }
    }
    out
}

fn dollars(c: Consumed) -> f64 {
    c.write_units * WRITE_UNIT + c.read_units * READ_UNIT
}

#[tokio::main]
async fn main() {
    // 1. Webhook events.
    let wanted = env("KUSTIQ_BENCH_EVENTS", 2_000);
    let (account, events) = engine_events(41, 200, wanted).await;
    let first = Bench::new(
        Engine::DynamoDbLocal,
        kustiq::domain::time::Timestamp::from_unix(0),
    )
    .await;
    let (ws, profiles) = first.connect_matched("ws_cost", &account, &events).await;
    first.store.take_consumed();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    for e in &events {
        first.receive(e);
        let a = first.post_event(e).await;
        assert_eq!(a.status, 200, "{} {}: {:?}", e["type"], e["id"], a.body);
        *outcomes
            .entry(a.outcome().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let used = first.store.take_consumed();
    let n = events.len() as f64;
    let customers: Vec<String> = profiles.keys().cloned().collect();
    let (compact_wu, json_wu, compact_b, json_b) =
        state_units(&states_of(&first.store, &ws, &customers).await);
    let per_event = Consumed {
        read_units: used.read_units / n,
        write_units: used.write_units / n,
    };
    let duration = secs / n;
    let lambda = MEMORY_GB * duration * GB_SECOND_ARM64 + LAMBDA_REQUEST;
    println!(
        "\n## Cost per applied webhook event ({} events, {} matched customers; {outcomes:?})",
        events.len(),
        profiles.len()
    );
    println!(
        "capacity per event: {:.2} read units, {:.2} write units (DynamoDB-reported)",
        per_event.read_units, per_event.write_units
    );
    println!(
        "billing state: mean {compact_b:.0} B stored compact vs {json_b:.0} B as JSON; its transactional write {compact_wu:.2} vs {json_wu:.2} write units"
    );
    let json_event = Consumed {
        read_units: per_event.read_units,
        write_units: per_event.write_units - compact_wu + json_wu,
    };
    let kinds = kustiq_tests::snapshot::TableSnapshot::take(&first.store)
        .await
        .sizes_by_kind();
    let by_kind: Vec<String> = kinds
        .iter()
        .map(|(k, (n, bytes))| format!("{k} {n} × {:.0} B", *bytes as f64 / *n as f64))
        .collect();
    println!(
        "stored items by kind (count × mean size): {}",
        by_kind.join(", ")
    );
    println!(
        "handler time per event on DynamoDB Local: {:.2} ms (the Lambda duration taken for the cost)",
        duration * 1e3
    );
    println!("| per million events | DynamoDB | Lambda (arm64, 512 MB) | total |");
    println!("|---|---:|---:|---:|");
    println!(
        "| compact state (now) | ${:.2} | ${:.2} | **${:.2}** |",
        dollars(per_event) * 1e6,
        lambda * 1e6,
        (dollars(per_event) + lambda) * 1e6
    );
    println!(
        "| baseline: JSON state | ${:.2} | ${:.2} | ${:.2} |",
        dollars(json_event) * 1e6,
        lambda * 1e6,
        (dollars(json_event) + lambda) * 1e6
    );

    // 2. Backfill.
    let k = env("KUSTIQ_BENCH_CUSTOMERS", 500);
    let config = SimConfig {
        seed: 43,
        customers: k,
        years: 3,
        accounts: 1,
        ..SimConfig::default()
    };
    let s = SyncBench::new(Engine::DynamoDbLocal, config, BackfillWindow::All).await;
    s.bench.store.take_consumed();
    let started = Instant::now();
    let outcome = s.run().await;
    let secs = started.elapsed().as_secs_f64();
    assert!(matches!(outcome, Outcome::Finished(_)), "{outcome:?}");
    let used = s.bench.store.take_consumed();
    let objects = s.connection().await.backfill.objects_done;
    let scale = 10_000.0 / k as f64;
    let scaled = Consumed {
        read_units: used.read_units * scale,
        write_units: used.write_units * scale,
    };
    let lambda = MEMORY_GB * secs * scale * GB_SECOND_ARM64;
    println!(
        "\n## Cost of an all-time backfill ({k} customers × 3 years: {objects} objects in {secs:.1} s; scaled × {scale:.0} to 10,000 customers)"
    );
    println!(
        "capacity: {:.0} read units, {:.0} write units for {k} customers ({:.2} write units per object)",
        used.read_units,
        used.write_units,
        used.write_units / objects.max(1) as f64
    );
    println!(
        "| per 10,000-customer account | DynamoDB | Lambda (arm64, 512 MB, this run's apply time) | total |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| all-time backfill | ${:.2} | ${:.2} | **${:.2}** |",
        dollars(scaled),
        lambda,
        dollars(scaled) + lambda
    );
}
