//! The Stripe client's sustained request rate against the in-process
//! simulator, as a fraction of the rate limit (goal ≥ 95 %, with no 429 caused
//! by our own pacing). The simulator enforces the same limit as the client
//! paces at, with no added latency, so the number measures the client's
//! pacing, not the network.
//!
//! Run: `cargo bench -p kustiq-tests --bench stripe_client` (about 25 s).
//! The in-process simulator shares the CPU with the client: in a debug build
//! (`--profile dev`) large list pages are CPU-bound and the backfill line
//! measures the machine, not the pacing.
//! `KUSTIQ_BENCH_RATE` (default 100) and `KUSTIQ_BENCH_SECS` (default 10) tune it.

use futures::StreamExt;
use kustiq::adapters::stripe::{AccountReader, StripeClient, StripeConfig, StripeCredentials};
use kustiq::domain::ids::{StripeAccountId, StripeCustomerId};
use kustiq::domain::secret::Secret;
use kustiq::ports::stripe::{EventQuery, ListFilter, StripeReader};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use stripe_sim::{PLATFORM_KEY, RunningSim, SimConfig, Simulator};

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `work` until `secs` pass; returns (requests sent, seconds, 429s seen by the simulator).
async fn measure<F, Fut>(sim: &RunningSim, rate: u32, secs: u64, work: F) -> (u64, f64, u64)
where
    F: FnOnce(AccountReader) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let config = StripeConfig::at(&sim.base_url)
        .expect("simulator URL")
        .with_rate(NonZeroU32::new(rate).expect("rate > 0"))
        // This bench measures the account gate; the per-endpoint gate is measured in
        // tests/integration/tests/it/sync.rs and the backfill bench.
        .with_endpoint_rate(NonZeroU32::new(rate).expect("rate > 0"));
    let client = StripeClient::new(config).expect("client");
    let reader = client.reader(StripeCredentials::Connect {
        platform_key: Secret::new(PLATFORM_KEY),
        account: StripeAccountId::parse(sim.accounts[0].id.clone()).expect("account id"),
    });
    let limited_before = sim.sim.rate_limited();
    let start = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(secs), work(reader)).await;
    let elapsed = start.elapsed().as_secs_f64();
    (
        client.stats().requests,
        elapsed,
        sim.sim.rate_limited() - limited_before,
    )
}

fn report(name: &str, rate: u32, (requests, secs, limited): (u64, f64, u64)) -> bool {
    let achieved = requests as f64 / secs;
    let fraction = achieved / f64::from(rate);
    println!(
        "{name:<34} {requests:>5} requests in {secs:>5.2} s = {achieved:>6.1} req/s = {:>5.1} % of {rate} req/s, 429s: {limited}",
        fraction * 100.0
    );
    fraction >= 0.95 && limited == 0
}

/// Single-object retrieves of `ids`, eight in flight: the smallest
/// requests, so the number is the client's pacing and nothing else.
async fn retrieves(reader: AccountReader, ids: Vec<StripeCustomerId>) {
    futures::stream::iter(ids.iter().cycle())
        .for_each_concurrent(8, |id| {
            let reader = &reader;
            async move {
                let _ = reader.customer(id).await;
            }
        })
        .await;
}

/// A backfill: the lists paginated side by side, each restarted when done.
async fn backfill(reader: AccountReader) {
    let forever = |list: &'static str| {
        let reader = reader.clone();
        async move {
            loop {
                let _ = match list {
                    "customers" => drain(reader.customers(ListFilter::all())).await,
                    "subscriptions" => drain(reader.subscriptions(ListFilter::all())).await,
                    "invoices" => drain(reader.invoices(ListFilter::all())).await,
                    "charges" => drain(reader.charges(ListFilter::all())).await,
                    _ => drain(reader.events(EventQuery::default())).await,
                };
            }
        }
    };
    futures::join!(
        forever("customers"),
        forever("subscriptions"),
        forever("invoices"),
        forever("charges"),
        forever("events"),
    );
}

/// Reads a list to its end, keeping only the count.
async fn drain<T>(
    mut stream: impl futures::Stream<Item = Result<T, kustiq::ports::stripe::StripeError>> + Unpin,
) -> usize {
    let mut n = 0;
    while let Some(Ok(_)) = stream.next().await {
        n += 1;
    }
    n
}

#[tokio::main]
async fn main() {
    let rate = env_u32("KUSTIQ_BENCH_RATE", 100);
    let secs = u64::from(env_u32("KUSTIQ_BENCH_SECS", 10));
    let config = SimConfig {
        seed: 42,
        customers: 2_000,
        years: 3,
        accounts: 1,
        rate_limit: Some(rate),
        latency: Duration::ZERO,
        ..SimConfig::default()
    };
    let sim = Simulator::new(config).bind(0).await.expect("simulator");
    // The ids to retrieve, listed before the clock starts.
    let ids: Vec<StripeCustomerId> = sim
        .sim
        .customers(&sim.accounts[0].id)
        .iter()
        .filter_map(|c| StripeCustomerId::parse(c["id"].as_str()?).ok())
        .collect();
    println!(
        "stripe client pacing vs the simulator's limit ({rate} req/s, latency 0, {secs} s each)"
    );
    let a = report(
        "retrieves, 8 in flight",
        rate,
        measure(&sim, rate, secs, |r| retrieves(r, ids)).await,
    );
    let b = report(
        "backfill, 5 lists side by side",
        rate,
        measure(&sim, rate, secs, backfill).await,
    );
    println!(
        "goal (>= 95 % of the limit, zero 429s): {}",
        if a && b { "met" } else { "NOT met" }
    );
}
