//! Backfill and sync against the Stripe simulator through the real worker and table:
//! every object through the apply pipe, checkpoints and a lease that survive a worker
//! killed at any point, progress on the status route, missed events reconciled once, and
//! the nightly rescore against now. Limits and refusals: `sync_limits.rs`.

use kustiq::app::sync::checkpoint::Held;
use kustiq::app::sync::request::request_sync;
use kustiq::app::sync::worker::Outcome;
use kustiq::domain::connection::{
    BackfillProgress, BackfillState, BackfillWindow, ConnectionError,
};
use kustiq::domain::contact::Email;
use kustiq::domain::ids::{ProfileId, StripeCustomerId};
use kustiq::domain::profile::Profile;
use kustiq::domain::time::Timestamp;
use kustiq::ports::billing::BillingStore;
use kustiq::ports::clock::Clock;
use kustiq::ports::profiles::ProfileStore;
use kustiq::ports::sync::{RunKind, SyncStore};
use kustiq_tests::Engine;
use kustiq_tests::counting::RequestCounter;
use kustiq_tests::faults::{DiesAfterWrites, WRITES};
use kustiq_tests::sync::{FetchTimes, SyncBench, lapse_lease};
use serde_json::Value;
use std::time::{Duration, Instant};
use stripe_sim::SimConfig;

fn sim_config(customers: usize, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        customers,
        years: 1,
        accounts: 1,
        ..SimConfig::default()
    }
}

/// Profiles for the simulated customers: the ones whose metadata names a profile, and
/// one per business email of every third other customer.
async fn profiles_for(s: &SyncBench) -> Vec<Profile> {
    let mut out = Vec::new();
    for (i, c) in s.sim.sim.customers(&s.account).iter().enumerate() {
        let email = c["email"].as_str().unwrap_or_default();
        if let Some(p) = c["metadata"]["kustiq_profile_id"].as_str() {
            out.push(profile(p, None));
        } else if i % 3 == 0 && !email.is_empty() && !email.contains("gmail") {
            out.push(profile(&format!("crm_{i}"), Some(email)));
        }
    }
    for p in &out {
        s.bench
            .store
            .put_profile(&s.ws, p)
            .await
            .unwrap_or_else(|e| panic!("put_profile: {e}"));
    }
    out
}

fn profile(id: &str, email: Option<&str>) -> Profile {
    Profile {
        profile_id: ProfileId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        email: email.map(|e| Email::parse(e).unwrap_or_else(|e| panic!("{e}"))),
        domain: None,
        name: None,
        stripe_customer_id: None,
        families: Default::default(),
        classifier_churn_risk: Some(30.0),
    }
}

fn customer_ids(s: &SyncBench) -> Vec<StripeCustomerId> {
    s.sim
        .sim
        .customers(&s.account)
        .iter()
        .map(|c| StripeCustomerId::parse(c["id"].as_str().unwrap_or_default()).unwrap())
        .collect()
}

/// [`final_state`] of the bench's workspace: every simulated customer, every profile.
async fn final_state(s: &SyncBench, profiles: &[Profile]) -> Vec<String> {
    let ids: Vec<ProfileId> = profiles.iter().map(|p| p.profile_id.clone()).collect();
    kustiq_tests::sync::final_state(
        &s.bench.store,
        &s.ws,
        &customer_ids(s),
        &ids,
        FetchTimes::Keep,
    )
    .await
}

#[tokio::test]
async fn an_all_time_backfill_applies_every_object_and_shows_done_on_the_status() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(40, 11),
        BackfillWindow::All,
    )
    .await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));

    let counts = s.sim.sim.counts(&s.account).unwrap();
    let total = counts.customers
        + counts.subscriptions
        + counts.invoices
        + counts.charges
        + counts.disputes;
    let status = s.bench.status(&s.ws).await;
    assert_eq!(status.status, 200);
    let backfill = &status.body["backfill"];
    assert_eq!(backfill["state"], "done", "{status:?}");
    assert_eq!(backfill["objects_done"], total as u64);
    assert_eq!(backfill["objects_estimated"], total as u64);
    assert!(status.body["last_sync_at"].is_string());
    // Every customer has a billing state, built from its objects.
    for c in customer_ids(&s) {
        let (billing, _) = s.bench.store.load(&s.ws, &c).await.unwrap();
        assert!(billing.customer.is_some(), "{c} has no billing state");
    }
    // A finished backfill leaves nothing queued.
    let due = s
        .bench
        .store
        .due_syncs(s.bench.clock.now(), kustiq::ports::store::PageSize::MIN)
        .await
        .unwrap();
    assert!(!due.contains(&s.ws));
}

#[tokio::test]
async fn a_90_day_backfill_reads_only_the_lookback_of_invoices_and_charges() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(30, 12),
        BackfillWindow::Days90,
    )
    .await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let counts = s.sim.sim.counts(&s.account).unwrap();
    let done = s.connection().await.backfill.objects_done as usize;
    let all = counts.customers
        + counts.subscriptions
        + counts.invoices
        + counts.charges
        + counts.disputes;
    assert!(
        done < all,
        "a 90-day window reads less than all time ({done} of {all})"
    );
    assert!(
        done >= counts.customers + counts.subscriptions,
        "customers and subscriptions are read whole"
    );
}

#[tokio::test]
async fn a_backfill_killed_at_random_points_ends_in_the_state_of_an_uninterrupted_run() {
    let config = || sim_config(25, 13);
    let whole = SyncBench::new(Engine::DynamoDbLocal, config(), BackfillWindow::All).await;
    let profiles = profiles_for(&whole).await;
    assert_eq!(whole.run().await, Outcome::Finished(RunKind::Backfill));
    let expected = final_state(&whole, &profiles).await;

    let killed = SyncBench::new(Engine::DynamoDbLocal, config(), BackfillWindow::All).await;
    killed.bench.clock.set(whole.bench.clock.now());
    profiles_for(&killed).await;
    let mut kills = 0;
    let mut rng = fastrand_like(7);
    loop {
        let worker = killed.worker_with(&killed.readers, Duration::from_secs(600));
        // Random points, short enough that an idle machine (where the whole backfill
        // takes a second or two) is still interrupted several times; the window widens
        // as kills add up, so a slow (loaded) machine still gets through between kills.
        let kill_after = Duration::from_millis((50 + rng() % 400) * (1 + kills / 8));
        let run = worker.run_workspace(&killed.ws, Instant::now() + Duration::from_secs(600));
        match tokio::time::timeout(kill_after, run).await {
            Ok(Ok(Outcome::Finished(RunKind::Backfill))) => break,
            // The previous kill landed after the backfill's last commit but before its
            // run returned: the work is done, so this run finds nothing left to do.
            Ok(Ok(Outcome::Idle))
                if kills > 0 && killed.connection().await.backfill.state == BackfillState::Done =>
            {
                break;
            }
            Ok(other) => panic!("unexpected outcome {other:?}"),
            Err(_) => {
                kills += 1;
                // The killed worker's lease lapses (as its expiry would make it).
                lapse_lease(&killed.bench.store, &killed.ws).await;
            }
        }
        assert!(kills < 80, "the backfill never finished");
    }
    assert!(kills >= 2, "the run was interrupted ({kills} kills)");
    assert_eq!(final_state(&killed, &profiles).await, expected);
    assert_eq!(
        killed.connection().await.backfill.objects_done,
        whole.connection().await.backfill.objects_done,
        "no object counted twice or lost"
    );
}

/// A backfill whose process dies right after its `n`th store write, for every `n` up to
/// a whole run, and is taken over once its lease lapses, ends in the state of an
/// uninterrupted run: no write boundary leaves the status, a billing state, a match or a
/// score half-done.
#[tokio::test]
async fn a_backfill_that_dies_after_any_store_write_ends_in_the_state_of_an_uninterrupted_run() {
    dies_at_every_write(RunKind::Backfill).await;
}

/// The same for a sync run reconciling five days of events the webhook missed.
#[tokio::test]
async fn a_sync_that_dies_after_any_store_write_ends_in_the_state_of_an_uninterrupted_run() {
    dies_at_every_write(RunKind::Sync).await;
}

/// Runs `kind` uninterrupted, then once per write boundary on a process that dies
/// there, each time on a fresh workspace of the same account.
async fn dies_at_every_write(kind: RunKind) {
    let (whole, profiles) = due(kind).await;
    let counter = RequestCounter::default();
    let counted = counter.wrap(&whole.bench.store);
    let outcome = whole
        .worker_on(&counted, &whole.readers, LONG)
        .run_workspace(&whole.ws, Instant::now() + LONG)
        .await
        .unwrap_or_else(|e| panic!("sync run: {e}"));
    assert_eq!(outcome, Outcome::Finished(kind));
    let writes: u64 = counter
        .take()
        .iter()
        .filter(|(op, _)| WRITES.contains(&op.as_str()))
        .map(|(_, n)| n)
        .sum();
    let connection = whole.connection().await;
    assert_eq!(connection.backfill.state, BackfillState::Done);
    let whole = Uninterrupted {
        kind,
        state: final_state(&whole, &profiles).await,
        status: (
            connection.backfill,
            connection.error,
            connection.last_sync_at,
        ),
    };
    // Writes are counted as they land, so the boundaries are the same in every run; the
    // cut moves on until a run ends before it.
    let mut n = 0;
    while dies_after(n, &whole).await {
        n += 1;
        assert!(
            n <= writes,
            "{n} writes landed, the whole run sent {writes}"
        );
    }
    assert!(n >= 10, "a {kind:?} run is more than {n} writes");
}

const LONG: Duration = Duration::from_secs(600);

/// A fresh workspace on a small account (so that every write boundary is tried), with
/// a run of `kind` due: a pending backfill, or a requested sync five days after the
/// backfill. Its profiles.
async fn due(kind: RunKind) -> (SyncBench, Vec<Profile>) {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(4, 31),
        BackfillWindow::All,
    )
    .await;
    let profiles = profiles_for(&s).await;
    if kind == RunKind::Sync {
        assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
        s.sim.sim.advance_days(5).await;
        s.bench.clock.set(s.sim.sim.now());
        let sync = s
            .bench
            .api("POST", "/api/v1/integrations/stripe/sync", &s.ws)
            .await;
        assert_eq!(sync.status, 202, "{sync:?}");
    }
    (s, profiles)
}

/// What an uninterrupted run left.
struct Uninterrupted {
    kind: RunKind,
    state: Vec<String>,
    status: (BackfillProgress, Option<ConnectionError>, Option<Timestamp>),
}

/// A fresh workspace's run on a process that dies after `n` writes, taken over by
/// another worker, compared with `whole`. False when the run ended before dying.
async fn dies_after(n: u64, whole: &Uninterrupted) -> bool {
    let (s, profiles) = due(whole.kind).await;
    let dies = DiesAfterWrites::after(n);
    let doomed = dies.wrap(&s.bench.store);
    let first = s
        .worker_on(&doomed, &s.readers, LONG)
        .run_workspace(&s.ws, Instant::now() + LONG)
        .await;
    let died = dies.died();
    if died {
        lapse_lease(&s.bench.store, &s.ws).await;
        assert_eq!(
            s.run().await,
            Outcome::Finished(whole.kind),
            "the run taken over after write {n}"
        );
    } else {
        assert_eq!(first.ok(), Some(Outcome::Finished(whole.kind)));
    }
    let c = s.connection().await;
    assert_eq!(
        (c.backfill, c.error, c.last_sync_at),
        whole.status,
        "after write {n}"
    );
    assert_eq!(
        final_state(&s, &profiles).await,
        whole.state,
        "after write {n}"
    );
    died
}

/// A small deterministic generator (no extra dependency for one test).
fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[tokio::test]
async fn a_chunk_out_of_time_checkpoints_and_shows_progress_then_continues() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(60, 14),
        BackfillWindow::All,
    )
    .await;
    // A worker whose chunk ends at once after its first pages.
    let outcome = s
        .worker_with(&s.readers, Duration::from_millis(1))
        .run_workspace(&s.ws, Instant::now() + Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::OutOfTime);
    let status = s.bench.status(&s.ws).await;
    let b = &status.body["backfill"];
    assert_eq!(b["state"], "running", "{status:?}");
    let done = b["objects_done"].as_u64().unwrap();
    assert!(done > 0, "{status:?}");
    assert!(b["objects_estimated"].as_u64().unwrap() > done);
    // The next run continues from the checkpoint to the end.
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    assert_eq!(s.connection().await.backfill.state, BackfillState::Done);
}

#[tokio::test]
async fn a_second_worker_never_takes_a_held_lease() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(10, 15),
        BackfillWindow::Days30,
    )
    .await;
    let now = s.bench.clock.now();
    let held = Held::acquire(&s.bench.store, &s.ws, "other-worker", now, 600, |_| {})
        .await
        .unwrap()
        .expect("the lease is free");
    assert_eq!(s.run().await, Outcome::Busy);
    // Released, the work is picked up.
    held.release(now, |_| {}).await.unwrap();
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
}

#[tokio::test]
async fn sync_now_and_backfill_replay_are_queued_one_run_at_a_time() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(10, 20),
        BackfillWindow::Days30,
    )
    .await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let sync = s
        .bench
        .api("POST", "/api/v1/integrations/stripe/sync", &s.ws)
        .await;
    assert_eq!(
        (sync.status, &sync.body["sync"]["state"]),
        (202, &Value::from("queued"))
    );
    // Asked twice: still one sync.
    let again = s
        .bench
        .api("POST", "/api/v1/integrations/stripe/sync", &s.ws)
        .await;
    assert_eq!(again.status, 202);
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Sync));
    assert_eq!(s.run().await, Outcome::Idle, "one sync for two requests");

    let replay = s
        .bench
        .api("POST", "/api/v1/integrations/stripe/backfill", &s.ws)
        .await;
    assert_eq!(replay.status, 202, "{replay:?}");
    assert_eq!(s.connection().await.backfill.state, BackfillState::Pending);
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    assert_eq!(s.connection().await.backfill.state, BackfillState::Done);
}

#[tokio::test]
async fn sync_routes_answer_404_without_a_connection() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(5, 21),
        BackfillWindow::Days30,
    )
    .await;
    let other = kustiq::domain::ids::WorkspaceId::parse("ws-without-stripe").unwrap();
    for path in [
        "/api/v1/integrations/stripe/sync",
        "/api/v1/integrations/stripe/backfill",
    ] {
        s.bench
            .api("POST", path, &other)
            .await
            .assert_refused(404, "ERR_NOT_FOUND");
    }
}

/// The stored billing factor `signal` of a profile with its newest evidence, if it fires.
async fn billing_factor(
    s: &SyncBench,
    pid: &ProfileId,
    signal: &str,
) -> Option<kustiq::domain::time::Timestamp> {
    let (score, _) = s.bench.store.score(&s.ws, pid).await.unwrap()?;
    score
        .score
        .families
        .values()
        .flat_map(|f| &f.factors)
        .find(|f| f.signal.as_str() == signal)
        .map(|f| {
            f.evidence_dates
                .iter()
                .map(|e| e.at)
                .max()
                .unwrap_or(score.computed_at)
        })
}

#[tokio::test]
async fn the_nightly_sync_rescores_against_now_so_a_failure_31_days_old_drops_out() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(120, 22),
        BackfillWindow::Days90,
    )
    .await;
    let profiles = profiles_for(&s).await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let backfilled_at = s.bench.clock.now();
    // A matched profile whose newest payment failure is 3 to 29 days old.
    let mut failing = None;
    for p in &profiles {
        if let Some(newest) = billing_factor(&s, &p.profile_id, "stripe_payment_failure").await {
            let age = backfilled_at.secs_since(newest) / 86_400;
            if (3..29).contains(&age) {
                failing = Some((p.profile_id.clone(), newest));
                break;
            }
        }
    }
    let (pid, newest) = failing.expect("a matched profile with a recent payment failure");
    // The first 05:45 UTC at which that failure is more than 30 days old.
    let expired = newest.plus_days(30).plus_secs(3_600).unix();
    let mut nightly = expired - expired.rem_euclid(86_400) + 5 * 3_600 + 45 * 60;
    if nightly < expired {
        nightly += 86_400;
    }
    s.bench
        .clock
        .set(kustiq::domain::time::Timestamp::from_unix(nightly));

    let report = s
        .worker_with(&s.readers, Duration::from_secs(600))
        .run_due()
        .await
        .unwrap();
    assert_eq!(report.nightly_requested, 1, "{report:?}");
    assert!(
        report
            .outcomes
            .contains(&(s.ws.clone(), Outcome::Finished(RunKind::Sync))),
        "{report:?}"
    );
    assert_eq!(
        billing_factor(&s, &pid, "stripe_payment_failure").await,
        None,
        "the failure expired"
    );
    let history = s
        .bench
        .store
        .history(&s.ws, &pid, kustiq::ports::store::PageSize::MIN)
        .await
        .unwrap();
    assert_eq!(history[0].reason, "sync", "{history:?}");
    // Once a day: a second run that day requests nothing.
    let again = s
        .worker_with(&s.readers, Duration::from_secs(60))
        .run_due()
        .await
        .unwrap();
    assert_eq!(again.nightly_requested, 0);
    // The sync reconciled the events since the backfill (its cursor was fresh).
    let (state, _) = s.bench.store.sync_state(&s.ws).await.unwrap().unwrap();
    assert_eq!(state.reconciled_to, Some(s.bench.clock.now()));
    assert!(state.last_run_at.is_some() && state.run.is_none());
}

#[tokio::test]
async fn a_sync_applies_the_events_the_webhook_missed_once() {
    let s = SyncBench::new(
        Engine::DynamoDbLocal,
        sim_config(60, 23),
        BackfillWindow::Days30,
    )
    .await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let backfilled_at = s.bench.clock.now();
    let before: std::collections::BTreeSet<String> = s
        .sim
        .sim
        .events(&s.account)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    // Five days pass on Stripe; no webhook reaches us.
    s.sim.sim.advance_days(5).await;
    let missed: Vec<Value> = s
        .sim
        .sim
        .events(&s.account)
        .into_iter()
        .filter(|e| !before.contains(e["id"].as_str().unwrap()))
        .filter(kustiq_tests::webhook::is_engine_event)
        .collect();
    assert!(!missed.is_empty(), "Stripe recorded events meanwhile");
    s.bench.clock.set(s.sim.sim.now());
    let sync = s
        .bench
        .api("POST", "/api/v1/integrations/stripe/sync", &s.ws)
        .await;
    assert_eq!(sync.status, 202);
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Sync));
    use kustiq::ports::events::{EventLog, EventStatus};
    for e in &missed {
        let id = kustiq::domain::ids::StripeEventId::parse(e["id"].as_str().unwrap()).unwrap();
        let (record, _) = s
            .bench
            .store
            .event(&s.ws, &id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} not reconciled"));
        assert!(
            matches!(record.status, EventStatus::Applied { .. }),
            "{id}: {:?}",
            record.status
        );
    }
    // A second sync finds them recorded: nothing is applied twice.
    let once = billing_states(&s).await;
    // The reconcile cursor goes back: the same events are read again.
    let (mut state, v) = s.bench.store.sync_state(&s.ws).await.unwrap().unwrap();
    state.reconciled_to = Some(backfilled_at);
    s.bench.store.save_sync_state(&state, v).await.unwrap();
    request_sync(&s.bench.store, &s.ws).await.unwrap();
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Sync));
    assert_eq!(billing_states(&s).await, once);
}

async fn billing_states(s: &SyncBench) -> Vec<String> {
    let mut out = Vec::new();
    for c in customer_ids(s) {
        let (state, _) = s.bench.store.load(&s.ws, &c).await.unwrap();
        out.push(serde_json::to_string(&state).unwrap());
    }
    out
}
