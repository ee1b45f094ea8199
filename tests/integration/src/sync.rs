//! A sync bench: a served simulated account, a table on DynamoDB Local with a workspace
//! connected to it (its backfill pending), and the sync worker reading the account
//! through the platform key, as the sync function does.

use crate::webhook::{Bench, secrets};
use crate::{Answer, Engine};
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{PlatformReaders, StripeClient, StripeConfig};
use kustiq::app::sync::worker::{Outcome, Worker, WorkerConfig};
use kustiq::domain::connection::{
    BackfillProgress, BackfillWindow, ConnectMethod, Connection, ConnectionStatus, Mode,
};
use kustiq::domain::ids::{ProfileId, StripeAccountId, StripeCustomerId, WorkspaceId};
use kustiq::domain::region::Region;
use kustiq::domain::time::Timestamp;
use kustiq::ports::billing::BillingStore;
use kustiq::ports::connections::ConnectionStore;
use kustiq::ports::matches::MatchStore;
use kustiq::ports::profiles::ProfileStore;
use kustiq::ports::store::{PageSize, StoreError};
use kustiq::ports::sync::SyncStore;
use lambda_http::RequestExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use stripe_sim::{RunningSim, SimConfig, Simulator};

/// A served simulated account and a workspace connected to it.
pub struct SyncBench {
    /// The handler bench (table, routes, clock).
    pub bench: Bench,
    /// The served simulator.
    pub sim: RunningSim,
    /// The connected account.
    pub account: String,
    /// The connected workspace.
    pub ws: WorkspaceId,
    /// The worker's readers (their client's counters tell requests and 429s).
    pub readers: PlatformReaders<Secrets>,
}

/// A client for the simulator at Stripe's published limits (test mode: 25/s per account,
/// 25/s per endpoint), with short retry waits.
pub fn stripe_config(base: &str) -> StripeConfig {
    let mut config = StripeConfig::at(base).unwrap_or_else(|e| panic!("{base}: {e}"));
    config.retry.base_delay = Duration::from_millis(100);
    config.retry.max_delay = Duration::from_secs(2);
    config
}

/// Readers of the simulator at `base` with `config`.
pub fn readers(config: StripeConfig) -> PlatformReaders<Secrets> {
    let client = StripeClient::new(config).unwrap_or_else(|e| panic!("client: {e}"));
    PlatformReaders::new(client, secrets())
}

impl SyncBench {
    /// `config`'s first account served, and workspace `ws` connected to it with `window`
    /// (backfill pending), on `engine`, at the simulation's now.
    pub async fn new(engine: Engine, config: SimConfig, window: BackfillWindow) -> Self {
        let sim = Simulator::new(config)
            .bind(0)
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let account = sim.accounts[0].id.clone();
        let bench = Bench::new(engine, sim.sim.now()).await;
        let ws = WorkspaceId::parse(crate::unique("ws")).unwrap_or_else(|e| panic!("{e}"));
        let conn = Connection {
            workspace_id: ws.clone(),
            region: Region::Eu,
            method: ConnectMethod::Connect,
            mode: Mode::Test,
            account_id: StripeAccountId::parse(account.clone()).unwrap_or_else(|e| panic!("{e}")),
            status: ConnectionStatus::Connected,
            error: None,
            backfill: BackfillProgress::default(),
            window,
            connected_at: kustiq::ports::clock::Clock::now(&bench.clock),
            last_sync_at: None,
        };
        bench
            .store
            .save_connection(&conn, 0)
            .await
            .unwrap_or_else(|e| panic!("save_connection: {e}"));
        let readers = readers(stripe_config(&sim.base_url));
        Self {
            bench,
            sim,
            account,
            ws,
            readers,
        }
    }

    /// A worker of its own (fresh owner id) with `budget`, reading through `readers`.
    pub fn worker_with<'a>(
        &'a self,
        readers: &'a PlatformReaders<Secrets>,
        budget: Duration,
    ) -> Worker<'a, DynamoStore, PlatformReaders<Secrets>> {
        self.worker_on(&self.bench.store, readers, budget)
    }

    /// A worker of its own (fresh owner id) with `budget`, on `store` (this bench's
    /// table seen through another client), reading through `readers`.
    pub fn worker_on<'a>(
        &'a self,
        store: &'a DynamoStore,
        readers: &'a PlatformReaders<Secrets>,
        budget: Duration,
    ) -> Worker<'a, DynamoStore, PlatformReaders<Secrets>> {
        let config = WorkerConfig {
            budget,
            lease_secs: 600,
            batch: PageSize::new(10).unwrap_or(PageSize::MIN),
        };
        Worker::new(
            store,
            readers,
            &self.bench.settings.engine,
            &self.bench.clock,
            config,
        )
    }

    /// One worker run on this workspace with a long budget.
    pub async fn run(&self) -> Outcome {
        self.worker_with(&self.readers, Duration::from_secs(600))
            .run_workspace(&self.ws, Instant::now() + Duration::from_secs(600))
            .await
            .unwrap_or_else(|e| panic!("sync run: {e}"))
    }

    /// The workspace's connection.
    pub async fn connection(&self) -> Connection {
        self.bench
            .store
            .connection(&self.ws)
            .await
            .unwrap_or_else(|e| panic!("connection: {e}"))
            .unwrap_or_else(|| panic!("no connection"))
            .0
    }

    /// `GET …/matches?status=` (one page of `limit`, after `cursor`).
    pub async fn matches(&self, status: &str, limit: u16, cursor: Option<&str>) -> Answer {
        let mut params = HashMap::from([
            ("status".to_owned(), vec![status.to_owned()]),
            ("limit".to_owned(), vec![limit.to_string()]),
        ]);
        if let Some(c) = cursor {
            params.insert("cursor".to_owned(), vec![c.to_owned()]);
        }
        let req = self
            .bench
            .authed(
                "GET",
                "/api/v1/integrations/stripe/matches",
                self.ws.as_str(),
                None,
            )
            .with_query_string_parameters(params);
        self.bench.send(req).await
    }

    /// Every row of the match table with `status`, following cursors.
    pub async fn all_matches(&self, status: &str) -> Vec<serde_json::Value> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.matches(status, 100, cursor.as_deref()).await;
            assert_eq!(page.status, 200, "{:?}", page.body);
            rows.extend(page.body["data"].as_array().cloned().unwrap_or_default());
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return rows,
            }
        }
    }
}

/// Whether [`final_state`] shows when each object was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchTimes {
    /// Kept: runs on one controlled clock compare them too.
    Keep,
    /// Every `at` / `newest` at or after this instant is a fetch instant (the account's
    /// history ends before it) and is left out: runs on the system clock fetch the same
    /// objects at other instants. A backfilled object's version, its plan samples and the
    /// evidence date of a state with no date of its own (a pause) are fetch instants.
    /// Samples of one plan then equal, consecutive ones count once.
    From(Timestamp),
}

/// `value` as JSON, its fetch instants left out when `times` says so.
fn json(value: &impl serde::Serialize, times: FetchTimes) -> String {
    fn strip(v: &mut serde_json::Value, from: i64) {
        match v {
            serde_json::Value::Object(o) => {
                for (key, v) in o.iter_mut() {
                    if (key == "at" || key == "newest") && v.as_i64().is_some_and(|t| t >= from) {
                        *v = "fetched".into();
                    } else {
                        strip(v, from);
                    }
                    // A re-read of an unchanged subscription (a page a kill interrupted)
                    // adds a sample of the same plan; plan signals read changes only.
                    if let (true, serde_json::Value::Array(samples)) = (key == "plan_samples", v) {
                        samples.dedup();
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| strip(v, from)),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(value).unwrap_or_else(|e| panic!("{e}"));
    if let FetchTimes::From(from) = times {
        strip(&mut json, from.unix());
    }
    json.to_string()
}

/// Everything a backfill leaves behind that signals and the dashboard read, one line per
/// item: each customer's billing state and match decision, each profile's score (with its
/// factors and explanation), billing view and linked customer. Two runs of one account
/// ended in the same state when these are equal.
pub async fn final_state(
    store: &DynamoStore,
    ws: &WorkspaceId,
    customers: &[StripeCustomerId],
    profiles: &[ProfileId],
    times: FetchTimes,
) -> Vec<String> {
    let mut out = Vec::new();
    for c in customers {
        let (billing, _) = store
            .load(ws, c)
            .await
            .unwrap_or_else(|e| panic!("load {c}: {e}"));
        let record = store
            .match_record(ws, c)
            .await
            .unwrap_or_else(|e| panic!("match_record {c}: {e}"));
        out.push(format!(
            "{c}: {} | {:?}",
            json(&billing, times),
            record.map(|r| r.decision)
        ));
    }
    for p in profiles {
        let score = store
            .score(ws, p)
            .await
            .unwrap_or_else(|e| panic!("score {p}: {e}"));
        let linked = store
            .profile(ws, p)
            .await
            .unwrap_or_else(|e| panic!("profile {p}: {e}"));
        out.push(format!(
            "{p}: {} {:?} {:?}",
            score
                .as_ref()
                .map(|(s, _)| json(&s.score, times))
                .unwrap_or_default(),
            score.map(|(s, _)| s.billing),
            linked.map(|p| p.stripe_customer_id),
        ));
    }
    out
}

/// Clears the lease a killed worker left, as its expiry would (a write of the killed
/// worker may still land meanwhile: read again then).
pub async fn lapse_lease(store: &DynamoStore, ws: &WorkspaceId) {
    for _ in 0..10 {
        let Some((mut state, v)) = store
            .sync_state(ws)
            .await
            .unwrap_or_else(|e| panic!("sync_state: {e}"))
        else {
            return;
        };
        state.lease = None;
        match store.save_sync_state(&state, v).await {
            Ok(_) => return,
            Err(StoreError::Conflict) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the lease could not be cleared");
}
