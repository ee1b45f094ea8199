//! A real `kustiq-local serve` process killed with SIGKILL during a backfill, restarted
//! on the same data dir, ends in the state of an uninterrupted run of the same account.
//!
//! The binary is the one `scripts/test` builds (`scripts/lambda bins`), found like the
//! runtime emulator's function binaries. The simulated account is served by this test
//! process; each run connects through Connect OAuth on the real routes and creates its
//! CRM profiles through `profiles:batch`, as the demo does. The in-process variant of the
//! same property (a worker dropped at random points) is in `sync.rs`.
//!
//! Between a kill and the restart the test expires the dead process's lease (2 minutes in
//! `serve`), as time would. The two runs are on the system clock some seconds apart, so
//! the comparison leaves out when each object was fetched ([`FetchTimes`]).

use kustiq::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use kustiq::domain::region::Region;
use kustiq::domain::time::Timestamp;
use kustiq::ports::sync::{RunKind, SyncStore};
use kustiq_local::demo::client::Api;
use kustiq_local::demo::crm::{PlantedProfile, plant};
use kustiq_local::embedded::EmbeddedDynamo;
use kustiq_local::runner::{LOCAL_TABLE, STORE_FILE};
use kustiq_local::token::TokenKey;
use kustiq_tests::emulator::function_binary;
use kustiq_tests::local::claims;
use kustiq_tests::sync::{FetchTimes, final_state, lapse_lease};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use stripe_sim::{RunningSim, SimConfig, Simulator};
use tokio::process::{Child, Command};

const WORKSPACE: &str = "ws_kill";
const STATUS: &str = "/api/v1/integrations/stripe";

/// Small enough for a debug build on shared cores, slow enough (latency per Stripe call)
/// that the backfill spans several of the status route's 2-second progress reports.
fn sim_config() -> SimConfig {
    SimConfig {
        seed: 16,
        customers: 80,
        years: 2,
        accounts: 1,
        latency: Duration::from_millis(500),
        // Eight days before the real now (the runner's clock): a dispute's impact decays
        // continuously over 7 days, so with none younger than that both runs score alike
        // although they score some seconds apart.
        now: Timestamp::from_unix(chrono::Utc::now().timestamp() - 8 * 86_400),
        ..SimConfig::default()
    }
}

/// One `kustiq-local serve` process on a data dir; killed (SIGKILL) on drop.
struct Served {
    child: Child,
    api: Api,
    log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl Served {
    /// Starts the binary on `data` against the simulator at `stripe`, and waits until it
    /// answers its status route.
    async fn start(data: &Path, logs: &Path, stripe: &str, nth: usize) -> Self {
        let port = free_port();
        let log = logs.join(format!("serve-{nth}.log"));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(function_binary("kustiq-local"))
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(data)
            .env("KUSTIQ_STRIPE_API_BASE", stripe)
            .env("KUSTIQ_STRIPE_CONNECT_BASE", stripe)
            .env("KUSTIQ_REGION", "eu")
            .env_remove("KUSTIQ_PUBLIC_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("kustiq-local serve: {e}"));
        let key = TokenKey::load_or_create(data).unwrap_or_else(|e| panic!("token key: {e}"));
        let now = chrono::Utc::now().timestamp();
        let token = key.issue(&claims(WORKSPACE, now, now + 3600));
        let api =
            Api::new(&format!("http://127.0.0.1:{port}"), &token).unwrap_or_else(|e| panic!("{e}"));
        let mut served = Self { child, api, log };
        let up = Instant::now();
        while served.api.get(STATUS).await.is_err() {
            if let Ok(Some(exit)) = served.child.try_wait() {
                panic!("kustiq-local serve exited ({exit}): {}", served.log_text());
            }
            assert!(
                up.elapsed() < Duration::from_secs(20),
                "kustiq-local serve did not answer within 20 s: {}",
                served.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The status route's body.
    async fn status(&self) -> Value {
        self.api
            .get(STATUS)
            .await
            .unwrap_or_else(|e| panic!("status: {e}\n{}", self.log_text()))
    }

    /// SIGKILL, and waits for the process to be gone.
    async fn kill(mut self) {
        self.child
            .kill()
            .await
            .unwrap_or_else(|e| panic!("kill: {e}"));
    }
}

/// The embedded store of a data dir whose process is gone.
fn open_store(data: &Path) -> (EmbeddedDynamo, kustiq::adapters::dynamo::DynamoStore) {
    let engine = EmbeddedDynamo::open_file(&data.join(STORE_FILE))
        .unwrap_or_else(|e| panic!("open {}: {e}", data.display()));
    let store = engine.store(Region::Eu.aws_region(), LOCAL_TABLE);
    (engine, store)
}

fn workspace() -> WorkspaceId {
    WorkspaceId::parse(WORKSPACE).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls the status until `ready` holds for its backfill, failing if the backfill ends
/// (or fails) first.
async fn wait_backfill(served: &Served, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let status = served.status().await;
        let backfill = &status["backfill"];
        if ready(backfill) {
            return status;
        }
        assert_ne!(backfill["state"], "failed", "{what}: {status}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: not within 60 s: {status}\n{}",
            served.log_text()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn done(backfill: &Value) -> bool {
    backfill["state"] == "done"
}

fn objects_done(backfill: &Value) -> u64 {
    backfill["objects_done"].as_u64().unwrap_or_default()
}

/// Starts a runner on a fresh data dir, creates the CRM profiles and connects the account
/// with an all-time backfill.
async fn connected(
    data: &Path,
    logs: &Path,
    sim: &RunningSim,
    profiles: &[PlantedProfile],
) -> Served {
    let served = Served::start(data, logs, &sim.base_url, 0).await;
    served
        .api
        .put_profiles(profiles)
        .await
        .unwrap_or_else(|e| panic!("profiles: {e}"));
    served
        .api
        .connect_oauth()
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", served.log_text()));
    served
}

/// The status without what differs between two connections by nature (id, times).
fn comparable(mut status: Value) -> Value {
    for key in ["connection_id", "connected_since", "last_sync_at"] {
        status.as_object_mut().map(|o| o.remove(key));
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_twice_during_a_backfill_resumes_to_the_state_of_an_uninterrupted_run() {
    // The account's history ends 8 days before now: later instants are fetch instants.
    let fetched_from = Timestamp::from_unix(chrono::Utc::now().timestamp() - 60);
    let sim = Simulator::new(sim_config());
    let account = sim.accounts()[0].id.clone();
    // An EU account for the EU workspace: no cross-region consent step.
    sim.set_country(&account, "DE");
    let sim = sim.bind(0).await.unwrap_or_else(|e| panic!("bind: {e}"));
    let customers = sim.sim.customers(&account);
    let profiles = plant(&customers);
    let customer_ids: Vec<StripeCustomerId> = customers
        .iter()
        .map(|c| StripeCustomerId::parse(c["id"].as_str().unwrap_or_default()).unwrap())
        .collect();
    let profile_ids: Vec<ProfileId> = profiles
        .iter()
        .map(|p| ProfileId::parse(p.id.as_str()).unwrap())
        .collect();
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ws = workspace();

    // The uninterrupted run.
    let whole_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let whole = connected(whole_dir.path(), logs.path(), &sim, &profiles).await;
    let whole_status = wait_backfill(&whole, "uninterrupted backfill", done).await;
    let uninterrupted = started.elapsed();
    whole.kill().await;
    let total = objects_done(&whole_status["backfill"]);
    eprintln!(
        "uninterrupted: {total} objects, {} Stripe requests, {uninterrupted:?}",
        sim.sim.requests()
    );
    let (_engine, store) = open_store(whole_dir.path());
    let expected = final_state(
        &store,
        &ws,
        &customer_ids,
        &profile_ids,
        FetchTimes::From(fetched_from),
    )
    .await;
    drop((_engine, store));
    // A state worth comparing: every customer has its billing state; the match table has
    // sure matches and reviews; some scores carry billing factors.
    let (by_customer, by_profile) = expected.split_at(customer_ids.len());
    assert!(by_customer.iter().all(|l| l.contains("\"customer\":")));
    for status in ["status: Matched", "status: Review"] {
        assert!(by_customer.iter().any(|l| l.contains(status)), "{status}");
    }
    assert!(
        by_profile
            .iter()
            .any(|l| l.contains("\"families\":{\"billing\":"))
    );

    // The same account on another data dir, killed at two points of its backfill: at its
    // first progress report, and at the first report of the restarted run beyond that.
    // Reports come at most every 2 s and the whole run is a few of them, so a kill point
    // set as a share of the total (half, say) can fall between the last report and the
    // end, and the backfill finishes before it (seen in CI).
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut served = connected(dir.path(), logs.path(), &sim, &profiles).await;
    let mut checkpoints = Vec::new();
    let mut resumes = Vec::new();
    for nth in [1, 2] {
        let after = checkpoints.last().map_or(0, |(n, _)| *n);
        let at = wait_backfill(&served, "progress before a kill", |b| {
            assert!(
                !done(b),
                "the backfill ended before kill {nth}: slow the simulator ({b})"
            );
            b["state"] == "running" && objects_done(b) > after
        })
        .await;
        served.kill().await;
        // Killed mid-way: a backfill run is checkpointed with some objects read, and the
        // lists not all read or the matched profiles not yet rescored.
        let (engine, store) = open_store(dir.path());
        let (state, _) = store.sync_state(&ws).await.unwrap().expect("a sync state");
        let run = state
            .run
            .unwrap_or_else(|| panic!("kill {nth} came after the end (status {at})"));
        assert_eq!(run.kind, RunKind::Backfill);
        assert!(
            run.objects_done >= objects_done(&at["backfill"]) && run.objects_done <= total,
            "kill {nth} at {} of {total} objects (status {at})",
            run.objects_done
        );
        checkpoints.push((run.objects_done, run.phase));
        // The dead process's lease would lapse in 120 s; expire it now instead.
        lapse_lease(&store, &ws).await;
        drop((engine, store));
        let restarted = Instant::now();
        served = Served::start(dir.path(), logs.path(), &sim.base_url, nth).await;
        let past = run.objects_done;
        wait_backfill(&served, "progress after a restart", |b| {
            done(b) || objects_done(b) > past
        })
        .await;
        resumes.push(restarted.elapsed());
    }
    let status = wait_backfill(&served, "the resumed backfill", done).await;
    served.kill().await;
    eprintln!(
        "{total} objects; uninterrupted run {uninterrupted:?}; killed at {checkpoints:?}; \
         progress again {resumes:?} after each restart"
    );

    assert_eq!(
        comparable(status),
        comparable(whole_status),
        "same status, objects counted once"
    );
    let (_engine, store) = open_store(dir.path());
    let got = final_state(
        &store,
        &ws,
        &customer_ids,
        &profile_ids,
        FetchTimes::From(fetched_from),
    )
    .await;
    assert_eq!(got.len(), customer_ids.len() + profile_ids.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }
}
