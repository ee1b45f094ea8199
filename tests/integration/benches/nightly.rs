//! The nightly sync of a large matched workspace: `/v1/events` reconciled since the
//! last cursor, then every matched profile rescored against the new day, through the
//! sync worker as the sync function runs it, on the embedded store (dynoxide).
//!
//! Setup (not timed): a simulated account (200 customers, 2 years) backfilled through
//! the worker; its customers' billing states copied under `KUSTIQ_BENCH_PROFILES`
//! (default 100,000) customer ids, each matched to a profile. Then the clock moves a
//! day on and the nightly run is timed, with its store requests counted.
//!
//! Baseline in the same run: scoring the same profiles in memory (`score_profile`,
//! no store), the CPU floor of a rescore.
//!
//! Run: `cargo bench -p kustiq-tests --bench nightly`.

use futures::StreamExt;
use kustiq::app::score::score_profile;
use kustiq::app::sync::request::request_sync;
use kustiq::app::sync::worker::{Outcome, Worker, WorkerConfig};
use kustiq::domain::billing_state::BillingState;
use kustiq::domain::connection::BackfillWindow;
use kustiq::domain::ids::{ProfileId, StripeCustomerId};
use kustiq::domain::profile::Profile;
use kustiq::ports::billing::BillingStore;
use kustiq::ports::clock::Clock;
use kustiq::ports::profiles::ProfileStore;
use kustiq::ports::store::PageSize;
use kustiq_tests::Engine;
use kustiq_tests::counting::RequestCounter;
use kustiq_tests::measure::{env_usize as env, peak_rss_mib};
use kustiq_tests::sync::SyncBench;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use stripe_sim::SimConfig;

fn profile(i: usize, customer: &StripeCustomerId) -> Profile {
    Profile {
        profile_id: ProfileId::parse(format!("p{i}")).expect("profile id"),
        email: None,
        domain: None,
        name: None,
        stripe_customer_id: Some(customer.clone()),
        families: BTreeMap::new(),
        classifier_churn_risk: Some(20.0),
    }
}

#[tokio::main]
async fn main() {
    let n = env("KUSTIQ_BENCH_PROFILES", 100_000);
    let config = SimConfig {
        seed: 11,
        customers: 200,
        years: 2,
        accounts: 1,
        ..SimConfig::default()
    };
    let s = SyncBench::new(Engine::Dynoxide, config, BackfillWindow::All).await;
    let backfilled = s.run().await;
    assert!(matches!(backfilled, Outcome::Finished(_)), "{backfilled:?}");

    // The backfilled states, copied under n customer ids, each matched to a profile.
    let store = &s.bench.store;
    let mut states: Vec<BillingState> = Vec::new();
    for c in s.sim.sim.customers(&s.account) {
        let id = StripeCustomerId::parse(c["id"].as_str().unwrap_or_default()).expect("id");
        let (state, _) = store.load(&s.ws, &id).await.expect("load");
        if state.newest.is_some() {
            states.push(state);
        }
    }
    assert!(!states.is_empty(), "the backfill stored billing states");
    let seeding = Instant::now();
    let seeded: Vec<(Profile, usize)> = futures::stream::iter(0..n)
        .map(|i| {
            let (ws, states) = (&s.ws, &states);
            async move {
                let customer = StripeCustomerId::parse(format!("cus_night{i:06}")).expect("id");
                let k = i % states.len();
                store
                    .save(ws, &customer, &states[k], 0)
                    .await
                    .expect("save");
                let p = profile(i, &customer);
                store.put_profile(ws, &p).await.expect("profile");
                (p, k)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    eprintln!(
        "seeded {n} matched customers ({} distinct states) in {:.1} s",
        states.len(),
        seeding.elapsed().as_secs_f64()
    );

    // Baseline: the same rescoring in memory.
    s.bench.clock.advance(86_400);
    let now = s.bench.clock.now();
    let cfg = &s.bench.settings.engine;
    let start = Instant::now();
    for (p, k) in &seeded {
        black_box(score_profile(p, Some(&states[*k]), true, now, cfg, "sync"));
    }
    let baseline = start.elapsed().as_secs_f64();

    // Two nightly runs, a day apart, as the sync function runs them: the first
    // scores every seeded profile (none had a score), the second writes only the
    // scores that time moved.
    let counter = RequestCounter::default();
    let counted = counter.wrap(store);
    let worker = Worker::new(
        &counted,
        &s.readers,
        cfg,
        &s.bench.clock,
        WorkerConfig {
            budget: Duration::from_secs(24 * 3600),
            lease_secs: 24 * 3600,
            batch: PageSize::MIN,
        },
    );
    println!("\n## Nightly sync of {n} matched customers (embedded store)");
    println!(
        "| run | wall | per profile | profiles/s | ratio to baseline | store requests per profile |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    println!(
        "| baseline: score in memory | {baseline:.2} s | {:.1} µs | {:.0} | 1 | 0 |",
        baseline * 1e6 / n as f64,
        n as f64 / baseline
    );
    for night in [
        "first night (every score new)",
        "second night (changes only)",
    ] {
        request_sync(&counted, &s.ws).await.expect("request");
        counter.take();
        let start = Instant::now();
        let outcome = worker
            .run_workspace(&s.ws, Instant::now() + Duration::from_secs(24 * 3600))
            .await
            .expect("nightly");
        let secs = start.elapsed().as_secs_f64();
        assert!(matches!(outcome, Outcome::Finished(_)), "{outcome:?}");
        let requests = counter.take();
        let per: Vec<String> = requests
            .iter()
            .map(|(op, c)| format!("{op} {:.2}", *c as f64 / n as f64))
            .collect();
        println!(
            "| {night} | {secs:.1} s | {:.1} µs | {:.0} | {:.0}× | {} |",
            secs * 1e6 / n as f64,
            n as f64 / secs,
            secs / baseline,
            per.join(", ")
        );
        s.bench.clock.advance(86_400);
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib());
}
