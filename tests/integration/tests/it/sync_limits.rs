//! Stripe's limits and refusals during a backfill or sync: both rate limits kept by our
//! pacing with several lists at once, a 429 pause shown as ERR_ST_429 and resumed, a
//! restricted account or missing permission shown and retried within 10 minutes.

use kustiq::app::sync::request::{Requested, request_sync};
use kustiq::app::sync::worker::{BLOCKED_RETRY_SECS, Outcome};
use kustiq::domain::connection::BackfillWindow;
use kustiq::ports::clock::Clock;
use kustiq::ports::sync::RunKind;
use kustiq_tests::Engine;
use kustiq_tests::sync::{SyncBench, readers, stripe_config};
use serde_json::Value;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use stripe_sim::{Flag, SimConfig};

fn sim_config(customers: usize, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        customers,
        years: 1,
        accounts: 1,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn five_lists_at_once_keep_both_stripe_limits() {
    // Limits scaled down (6/s per account, 3/s per endpoint) so that both bind even
    // against a debug-built simulator; the simulator enforces them.
    let (account_rate, endpoint_rate) = (6.0, 3.0);
    let sim = stripe_sim::Simulator::new(SimConfig {
        rate_limit: Some(6),
        endpoint_rate_limit: Some(3),
        ..SimConfig {
            years: 2,
            ..sim_config(300, 16)
        }
    })
    .bind(0)
    .await
    .unwrap();
    let account = kustiq::domain::ids::StripeAccountId::parse(sim.accounts[0].id.clone()).unwrap();
    let config = stripe_config(&sim.base_url)
        .with_rate(NonZeroU32::new(6).unwrap())
        .with_endpoint_rate(NonZeroU32::new(3).unwrap());
    let client = kustiq::adapters::stripe::StripeClient::new(config).unwrap();
    let reader = client.reader(kustiq::adapters::stripe::StripeCredentials::Connect {
        platform_key: kustiq::domain::secret::Secret::new(stripe_sim::PLATFORM_KEY),
        account,
    });
    use futures::TryStreamExt;
    use kustiq::ports::stripe::{ListFilter, StripeReader};
    let start = Instant::now();
    let (c, s, i, ch, d) = tokio::try_join!(
        reader.customers(ListFilter::all()).try_collect::<Vec<_>>(),
        reader
            .subscriptions(ListFilter::all())
            .try_collect::<Vec<_>>(),
        reader.invoices(ListFilter::all()).try_collect::<Vec<_>>(),
        reader.charges(ListFilter::all()).try_collect::<Vec<_>>(),
        reader.disputes(ListFilter::all()).try_collect::<Vec<_>>(),
    )
    .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let pages = |n: usize| n.div_ceil(100).max(1) as f64;
    let busiest = [c.len(), s.len(), i.len(), ch.len(), d.len()]
        .into_iter()
        .map(pages)
        .fold(0.0, f64::max);
    let total: f64 = [c.len(), s.len(), i.len(), ch.len(), d.len()]
        .into_iter()
        .map(pages)
        .sum();
    let stats = client.stats();
    eprintln!("{total} requests, busiest list {busiest} pages, {elapsed:.2} s");
    assert_eq!(sim.sim.rate_limited(), 0, "no self-caused 429 ({stats:?})");
    assert_eq!(stats.requests as f64, total);
    let floor = f64::max(total / account_rate, busiest / endpoint_rate);
    // Never faster than either limit allows (the bursts aside). How close to the floor
    // the lists side by side get depends on the machine (a debug-built simulator renders
    // pages on the same cores): that figure is the backfill bench's, not a test's.
    assert!(
        elapsed >= floor - 1.0,
        "{elapsed:.2} s < floor {floor:.2} s"
    );
}

#[tokio::test]
async fn a_429_pauses_the_backfill_with_err_st_429_then_it_continues() {
    let config = SimConfig {
        rate_limit: Some(2),
        ..sim_config(30, 17)
    };
    let s = SyncBench::new(Engine::DynamoDbLocal, config, BackfillWindow::All).await;
    // A client that does not pace (the five lists start at once) and gives up at the first 429.
    let mut eager = stripe_config(&s.sim.base_url).with_rate(NonZeroU32::new(1000).unwrap());
    eager.retry.max_attempts = 1;
    let eager = readers(eager);
    let outcome = s
        .worker_with(&eager, Duration::from_secs(60))
        .run_workspace(&s.ws, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    let Outcome::Paused { until, code } = outcome else {
        panic!("expected a pause, got {outcome:?}");
    };
    assert_eq!(
        code,
        Some(kustiq::domain::error_code::ErrorCode::ERR_ST_429)
    );
    let status = s.bench.status(&s.ws).await;
    assert_eq!(status.body["error"]["code"], "ERR_ST_429", "{status:?}");
    assert_eq!(status.body["backfill"]["state"], "running");
    // Paused until then: a run before does nothing …
    assert!(matches!(s.run().await, Outcome::Paused { .. }));
    // … a run after continues (paced), finishes, and clears the code.
    s.bench.clock.set(until);
    let paced = readers(stripe_config(&s.sim.base_url).with_rate(NonZeroU32::new(2).unwrap()));
    let outcome = s
        .worker_with(&paced, Duration::from_secs(600))
        .run_workspace(&s.ws, Instant::now() + Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Finished(RunKind::Backfill));
    let status = s.bench.status(&s.ws).await;
    assert_eq!(status.body["error"], Value::Null, "{status:?}");
    assert_eq!(status.body["backfill"]["state"], "done");
}

#[tokio::test]
async fn a_restricted_account_is_shown_and_retried_within_10_minutes() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(20, 18),
        BackfillWindow::Days30,
    )
    .await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    s.sim.sim.set_flag(&s.account, Flag::Restricted, true);
    assert_eq!(
        request_sync(&s.bench.store, &s.ws).await.unwrap(),
        Requested::Queued
    );
    let now = s.bench.clock.now();
    let Outcome::Paused { until, code } = s.run().await else {
        panic!("a restricted account pauses the sync");
    };
    assert_eq!(
        code,
        Some(kustiq::domain::error_code::ErrorCode::ERR_ACCT_RESTRICTED)
    );
    assert!(until.secs_since(now) <= 600 && BLOCKED_RETRY_SECS <= 600);
    let status = s.bench.status(&s.ws).await;
    assert_eq!(
        status.body["error"]["code"], "ERR_ACCT_RESTRICTED",
        "{status:?}"
    );
    // Still restricted at the retry: paused again, still shown.
    s.bench.clock.set(until);
    assert!(matches!(s.run().await, Outcome::Paused { .. }));
    // Lifted: the next retry finishes the sync and clears the code.
    s.sim.sim.set_flag(&s.account, Flag::Restricted, false);
    s.bench.clock.advance(BLOCKED_RETRY_SECS);
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Sync));
    assert_eq!(s.bench.status(&s.ws).await.body["error"], Value::Null);
}

#[tokio::test]
async fn a_missing_permission_shows_err_st_403_on_the_status() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(10, 19),
        BackfillWindow::Days30,
    )
    .await;
    s.sim.sim.set_flag(&s.account, Flag::PermissionDenied, true);
    assert!(matches!(s.run().await, Outcome::Paused { .. }));
    let status = s.bench.status(&s.ws).await;
    assert_eq!(status.body["error"]["code"], "ERR_ST_403", "{status:?}");
}
