//! An all-time backfill of a simulated account at Stripe's live limits (100 requests/s
//! per account, 25 per endpoint, enforced by the simulator) with 50 ms latency:
//! requests per list, wall time against the floor (max(total / 100, busiest list / 25)),
//! 429s, peak RSS — first the reads alone (five lists side by side, as the backfill reads
//! them), then the whole backfill through the worker into the embedded store — and the
//! matching confusion table on the same customers.
//!
//! Run: `cargo bench -p kustiq-tests --bench backfill`. `KUSTIQ_BENCH_CUSTOMERS` (default
//! 10,000), `KUSTIQ_BENCH_YEARS` (default 5), `KUSTIQ_BENCH_FULL` (default 1: also run the
//! backfill into the store) tune it. The simulator shares the CPU with the client.

use futures::TryStreamExt;
use kustiq::adapters::stripe::{StripeClient, StripeConfig, StripeCredentials};
use kustiq::app::sync::worker::{Outcome, Worker, WorkerConfig};
use kustiq::domain::connection::BackfillWindow;
use kustiq::domain::contact::{Domain, Email};
use kustiq::domain::ids::{ProfileId, StripeAccountId};
use kustiq::domain::matching::{
    CustomerContact, MatchStatus, ProfileContact, ProfileIndex, personal,
};
use kustiq::domain::secret::Secret;
use kustiq::ports::store::PageSize;
use kustiq::ports::stripe::{ListFilter, StripeReader};
use kustiq::ports::sync::ListKind;
use kustiq_tests::Engine;
use kustiq_tests::measure::{env_usize as env, peak_rss_mib};
use kustiq_tests::sync::{SyncBench, readers};
use serde_json::Value;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use stripe_sim::SimConfig;

/// Live limits, paced by the client: 100/s per account (the simulator's accounts are test
/// mode, so the test rate is raised to the live one), 25/s per endpoint.
fn live(base: &str) -> StripeConfig {
    let mut c = StripeConfig::at(base)
        .expect("simulator URL")
        .with_rate(NonZeroU32::new(100).expect("100"));
    c.endpoint_rate = NonZeroU32::new(25).expect("25");
    c
}

fn pages(n: u64) -> u64 {
    n.div_ceil(100).max(1)
}

fn line(what: &str, per_list: &[(ListKind, u64)], requests: u64, secs: f64, limited: u64) {
    let busiest = per_list.iter().map(|(_, p)| *p).max().unwrap_or(0);
    let floor = f64::max(requests as f64 / 100.0, busiest as f64 / 25.0);
    println!("{what}");
    for (k, p) in per_list {
        println!("  {k:?}: {p} list pages");
    }
    println!(
        "  requests {requests} (list pages {}, catalog retrieves {}), wall {secs:.1} s, floor {floor:.1} s, ratio {:.2}, 429s {limited}, peak RSS {:.0} MiB",
        per_list.iter().map(|(_, p)| p).sum::<u64>(),
        requests.saturating_sub(per_list.iter().map(|(_, p)| p).sum::<u64>()),
        secs / floor,
        peak_rss_mib()
    );
}

/// The matching confusion table: a profile per customer (`prof_0_<n>`, the id the
/// simulator's metadata names), offering its email for every other business customer
/// and every third personal one, else its company domain.
fn confusion(customers: &[Value]) {
    let domain_of = |c: &Value| {
        c["email"]
            .as_str()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_owned())
    };
    let company = |c: &Value| {
        c["metadata"]["domain"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| domain_of(c).filter(|d| !personal::is_personal(d)))
    };
    let profiles = customers.iter().enumerate().map(|(i, c)| {
        let personal_email = domain_of(c).is_some_and(|d| personal::is_personal(&d));
        let offer_email = if personal_email {
            i % 3 == 0
        } else {
            i % 2 == 0
        };
        ProfileContact {
            profile_id: ProfileId::parse(format!("prof_0_{i}")).expect("id"),
            email: c["email"]
                .as_str()
                .filter(|_| offer_email)
                .and_then(|e| Email::parse(e).ok()),
            domain: company(c)
                .filter(|_| !offer_email)
                .and_then(|d| Domain::parse(d).ok()),
            stripe_customer_id: None,
        }
    });
    let index = ProfileIndex::new(profiles);
    let mut table: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    for (i, c) in customers.iter().enumerate() {
        let contact = CustomerContact {
            customer: serde_json::from_value(c["id"].clone()).expect("customer id"),
            email: c["email"].as_str().map(str::to_owned),
            metadata_profile: c["metadata"]["kustiq_profile_id"]
                .as_str()
                .map(str::to_owned),
            metadata_domain: c["metadata"]["domain"].as_str().map(str::to_owned),
            deleted: false,
        };
        let d = index.decide(&contact);
        let truth = format!("prof_0_{i}");
        let outcome = match d.status {
            MatchStatus::Matched
                if d.profile_id.as_ref().map(ProfileId::as_str) == Some(&truth) =>
            {
                "correct"
            }
            MatchStatus::Matched => "WRONG",
            MatchStatus::Review => "review",
            MatchStatus::Unmatched => "unmatched",
        };
        let method = d
            .method
            .map_or("-".to_owned(), |m| format!("{m:?}").to_lowercase());
        *table.entry((method, outcome)).or_default() += 1;
    }
    println!(
        "matching confusion ({} customers, one true profile each)",
        customers.len()
    );
    println!("  | method | outcome | customers |");
    for ((method, outcome), n) in &table {
        println!("  | {method} | {outcome} | {n} |");
    }
}

#[tokio::main]
async fn main() {
    let customers = env("KUSTIQ_BENCH_CUSTOMERS", 10_000);
    let years = env("KUSTIQ_BENCH_YEARS", 5) as u32;
    let config = SimConfig {
        seed: 5,
        customers,
        years,
        accounts: 1,
        rate_limit: Some(100),
        endpoint_rate_limit: Some(25),
        latency: Duration::from_millis(50),
        ..SimConfig::default()
    };
    let generated = Instant::now();
    let s = SyncBench::new(Engine::Dynoxide, config, BackfillWindow::All).await;
    let counts = s.sim.sim.counts(&s.account).expect("counts");
    println!(
        "account: {customers} customers, {years} years ({counts:?}), generated in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    // The reads alone: five lists side by side, as the backfill reads them.
    let client = StripeClient::new(live(&s.sim.base_url)).expect("client");
    let reader = client.reader(StripeCredentials::Connect {
        platform_key: Secret::new(stripe_sim::PLATFORM_KEY),
        account: StripeAccountId::parse(s.account.clone()).expect("account"),
    });
    let limited = s.sim.sim.rate_limited();
    let start = Instant::now();
    let (c, sub, inv, ch, d) = tokio::try_join!(
        reader
            .customers(ListFilter::all())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) }),
        reader
            .subscriptions(ListFilter::all())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) }),
        reader
            .invoices(ListFilter::all())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) }),
        reader
            .charges(ListFilter::all())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) }),
        reader
            .disputes(ListFilter::all())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) }),
    )
    .expect("lists");
    let per_list = [
        (ListKind::Customers, pages(c)),
        (ListKind::Subscriptions, pages(sub)),
        (ListKind::Invoices, pages(inv)),
        (ListKind::Charges, pages(ch)),
        (ListKind::Disputes, pages(d)),
    ];
    line(
        "reads alone (five lists side by side)",
        &per_list,
        client.stats().requests,
        start.elapsed().as_secs_f64(),
        s.sim.sim.rate_limited() - limited,
    );

    if env("KUSTIQ_BENCH_FULL", 1) == 1 {
        let sync_readers = readers(live(&s.sim.base_url));
        let worker = Worker::new(
            &s.bench.store,
            &sync_readers,
            &s.bench.settings.engine,
            &s.bench.clock,
            WorkerConfig {
                budget: Duration::from_secs(24 * 3600),
                lease_secs: 24 * 3600,
                batch: PageSize::MIN,
            },
        );
        let limited = s.sim.sim.rate_limited();
        let start = Instant::now();
        let outcome = worker
            .run_workspace(&s.ws, Instant::now() + Duration::from_secs(24 * 3600))
            .await
            .expect("backfill");
        let secs = start.elapsed().as_secs_f64();
        assert!(matches!(outcome, Outcome::Finished(_)), "{outcome:?}");
        let objects = s.connection().await.backfill.objects_done;
        let per_list = [
            (ListKind::Customers, pages(c)),
            (ListKind::Subscriptions, pages(sub)),
            (ListKind::Invoices, pages(inv)),
            (ListKind::Charges, pages(ch)),
            (ListKind::Disputes, pages(d)),
        ];
        line(
            &format!("whole backfill into the embedded store ({objects} objects applied)"),
            &per_list,
            sync_readers.client().stats().requests,
            secs,
            s.sim.sim.rate_limited() - limited,
        );
    }
    confusion(&s.sim.sim.customers(&s.account));
}
