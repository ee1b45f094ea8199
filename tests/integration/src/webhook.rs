//! A webhook test bench: the real handler on a real table, a controllable
//! clock, and helpers to sign and post Stripe events.

pub use crate::Answer;
use crate::simulated::Simulated;
use crate::snapshot::{TableSnapshot, assert_nothing_stored};
use crate::{Engine, TestStore, require_env, unique};
use kustiq::adapters::aws::AwsTarget;
use kustiq::adapters::clock::ManualClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{PlatformSources, StripeClient};
use kustiq::domain::billing_state::BillingState;
use kustiq::domain::connection::{
    BackfillProgress, ConnectMethod, Connection, ConnectionStatus, Mode,
};
use kustiq::domain::ids::{
    ProfileId, StripeAccountId, StripeCustomerId, StripeEventId, WorkspaceId,
};
use kustiq::domain::profile::Profile;
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::http::{ApiRoutes, Router, Settings, SyncRoutes, WebhookRoutes};
use kustiq::ports::billing::BillingStore;
use kustiq::ports::connections::ConnectionStore;
use kustiq::ports::events::{EventLog, EventRecord};
use kustiq::ports::profiles::ProfileStore;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The endpoint secrets the bench's app accepts (a rotation in progress).
pub const SECRETS: [&str; 2] = ["whsec_bench_old", "whsec_bench_new"];

/// The real handler over a fresh table.
pub struct Bench {
    /// The store under test.
    pub store: DynamoStore,
    /// The settings the routes run with.
    pub settings: Settings,
    /// Every route group, as the local runner mounts them.
    pub router: Router,
    /// Its clock.
    pub clock: ManualClock,
    /// Keeps the embedded engine alive.
    pub _store: Option<TestStore>,
}

/// The cursor key the bench's API routes seal cursors with.
pub const CURSOR_KEY: &str = "bench-cursor-key";

/// The secrets of the bench's app: endpoint secrets, cursor key, the simulator's platform key.
pub fn secrets() -> Secrets {
    Secrets::Env(EnvSecrets::from_vars([
        ("KUSTIQ_STRIPE_WEBHOOK_SECRET".to_owned(), SECRETS.join(",")),
        ("KUSTIQ_API_CURSOR_KEY".to_owned(), CURSOR_KEY.to_owned()),
        (
            "KUSTIQ_STRIPE_PLATFORM_KEY".to_owned(),
            stripe_sim::PLATFORM_KEY.to_owned(),
        ),
    ]))
}

/// Every route group over `store`, as the local runner mounts them; Stripe is read
/// through `stripe` (none: what payloads lack stays unknown).
fn router(
    store: &DynamoStore,
    clock: &ManualClock,
    settings: &Settings,
    stripe: Option<PlatformSources<Secrets>>,
) -> Router {
    let shared_clock: std::sync::Arc<dyn kustiq::ports::clock::Clock> =
        std::sync::Arc::new(clock.clone());
    Router::new()
        .mount(WebhookRoutes::new(
            store.clone(),
            secrets(),
            stripe,
            shared_clock.clone(),
            settings.clone(),
        ))
        .mount(ApiRoutes {
            store: store.clone(),
            secrets: secrets(),
            clock: shared_clock.clone(),
            settings: settings.clone(),
        })
        .mount(SyncRoutes {
            store: store.clone(),
            secrets: secrets(),
            clock: shared_clock,
            settings: settings.clone(),
        })
}

fn bench(store: DynamoStore, clock: &ManualClock, keep: Option<TestStore>) -> Bench {
    let settings = Settings::new(Region::Eu);
    Bench {
        router: router(&store, clock, &settings, None),
        store,
        settings,
        clock: clock.clone(),
        _store: keep,
    }
}

impl Bench {
    /// A bench on `engine`, with the clock at `now`.
    pub async fn new(engine: Engine, now: Timestamp) -> Self {
        let clock = ManualClock::at(now);
        let t = TestStore::new(engine, "eu-central-1").await;
        bench(t.store.clone(), &clock, Some(t))
    }

    /// A bench whose store goes through `endpoint` (e.g. a fault proxy to DynamoDB Local).
    pub async fn through(endpoint: &str, now: Timestamp) -> Self {
        let store = DynamoStore::connect(
            &AwsTarget::local("eu-central-1", endpoint),
            unique("kustiq-fault"),
        )
        .await;
        Self::on(store, now).await
    }

    /// A bench on `store` (its table is created), with the clock at `now`.
    pub async fn on(store: DynamoStore, now: Timestamp) -> Self {
        let clock = ManualClock::at(now);
        store
            .ensure_table()
            .await
            .unwrap_or_else(|e| panic!("ensure_table: {e}"));
        bench(store, &clock, None)
    }

    /// The same bench reading Stripe (tiers, coupons, disputed charges) at `api_base` —
    /// a running `stripe_sim` — with its platform key, as the webhook function does.
    pub fn with_stripe(mut self, api_base: &str) -> Self {
        let base = reqwest::Url::parse(api_base).unwrap_or_else(|e| panic!("{api_base}: {e}"));
        let client = StripeClient::new(kustiq::wiring::webhook_stripe_config(Some(base)))
            .unwrap_or_else(|e| panic!("Stripe client: {e}"));
        let sources = PlatformSources::new(client, secrets());
        self.router = router(&self.store, &self.clock, &self.settings, Some(sources));
        self
    }

    /// Connects `workspace` to `account` in `mode`, as the connect flow would.
    pub async fn connect(&self, workspace: &str, account: &str, mode: Mode) -> WorkspaceId {
        let ws = WorkspaceId::parse(workspace).unwrap_or_else(|e| panic!("{e}"));
        let conn = Connection {
            workspace_id: ws.clone(),
            region: Region::Eu,
            method: ConnectMethod::Connect,
            mode,
            account_id: StripeAccountId::parse(account).unwrap_or_else(|e| panic!("{e}")),
            status: ConnectionStatus::Connected,
            error: None,
            backfill: BackfillProgress::default(),
            window: Default::default(),
            connected_at: self.clock.now_ts(),
            last_sync_at: None,
        };
        self.store
            .save_connection(&conn, 0)
            .await
            .unwrap_or_else(|e| panic!("save_connection: {e}"));
        ws
    }

    /// Posts `body` with a header signed now by the newest secret.
    pub async fn post_signed(&self, body: &str) -> Answer {
        let header = kustiq::stripe::signature::sign(
            body.as_bytes(),
            &Secret::new(SECRETS[1]),
            self.clock.now_ts(),
        );
        self.post(body, Some(&header)).await
    }

    /// Posts `body` with `signature` (or none).
    pub async fn post(&self, body: &str, signature: Option<&str>) -> Answer {
        let mut b = http::Request::builder()
            .method("POST")
            .uri("/webhooks/stripe");
        if let Some(s) = signature {
            b = b.header("stripe-signature", s);
        }
        let req = b
            .body(Body::Text(body.to_owned()))
            .unwrap_or_else(|e| panic!("{e}"));
        self.send(req).await
    }

    /// Sends any request to the handler.
    pub async fn send(&self, req: lambda_http::Request) -> Answer {
        let resp = self.router.handle(req).await;
        let status = resp.status().as_u16();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Answer { status, body }
    }

    /// A request as the JWT authorizer would pass it for `workspace`.
    pub fn authed(
        &self,
        method: &str,
        path: &str,
        workspace: &str,
        body: Option<Value>,
    ) -> lambda_http::Request {
        let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext = serde_json::from_value(serde_json::json!({
            "authorizer": {"jwt": {"claims": {"workspace_id": workspace, "plan": "pro", "region": "eu"}, "scopes": null}},
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "timeEpoch": 0
        }))
        .unwrap_or_else(|e| panic!("context: {e}"));
        let body = body
            .map(|b| Body::Text(b.to_string()))
            .unwrap_or(Body::Empty);
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(body)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_request_context(RequestContext::ApiGatewayV2(ctx))
    }

    /// Sends a bodiless API request as `workspace`'s authorizer would pass it.
    pub async fn api(&self, method: &str, path: &str, workspace: &WorkspaceId) -> Answer {
        self.send(self.authed(method, path, workspace.as_str(), None))
            .await
    }

    /// `GET /api/v1/integrations/stripe` for `workspace`.
    pub async fn status(&self, workspace: &WorkspaceId) -> Answer {
        self.api("GET", "/api/v1/integrations/stripe", workspace)
            .await
    }

    /// Posts a Stripe event signed now by the newest secret.
    pub async fn post_event(&self, event: &Value) -> Answer {
        self.post_signed(&event.to_string()).await
    }

    /// A bench on DynamoDB Local at the simulation's time, with `workspace`
    /// connected to its account in `mode` and every customer matched.
    pub async fn matched(sim: &Simulated, workspace: &str, mode: Mode) -> (Self, WorkspaceId) {
        let bench = Self::new(Engine::DynamoDbLocal, sim.now()).await;
        let ws = bench.connect(workspace, &sim.account, mode).await;
        bench.match_all(&ws, &sim.customers()).await;
        (bench, ws)
    }

    /// Connects `workspace` to `account` and matches every customer `events` name to
    /// a profile `p{i}` (in order of appearance); the customer → profile map.
    pub async fn connect_matched(
        &self,
        workspace: &str,
        account: &str,
        events: &[Value],
    ) -> (WorkspaceId, BTreeMap<String, String>) {
        let ws = self.connect(workspace, account, Mode::Test).await;
        let mut profiles = BTreeMap::new();
        for c in events.iter().filter_map(crate::simulated::customer_of) {
            let n = profiles.len();
            profiles.entry(c).or_insert_with(|| format!("p{n}"));
        }
        for (c, p) in &profiles {
            self.match_profile(&ws, p, c).await;
        }
        (ws, profiles)
    }

    /// Sets the clock to a second after `event` was created, never backwards: the
    /// event is received now.
    pub fn receive(&self, event: &Value) {
        let now = self.clock.now_ts().unix();
        let created = event["created"].as_i64().unwrap_or(0);
        self.clock
            .set(Timestamp::from_unix(now.max(created + 1).max(now + 1)));
    }

    /// Matches profile `profile` of `workspace` to Stripe customer `customer`.
    pub async fn match_profile(&self, workspace: &WorkspaceId, profile: &str, customer: &str) {
        let profile = Profile {
            profile_id: ProfileId::parse(profile).unwrap_or_else(|e| panic!("{e}")),
            email: None,
            domain: None,
            name: None,
            stripe_customer_id: Some(
                StripeCustomerId::parse(customer).unwrap_or_else(|e| panic!("{e}")),
            ),
            families: BTreeMap::new(),
            classifier_churn_risk: Some(10.0),
        };
        self.store
            .put_profile(workspace, &profile)
            .await
            .unwrap_or_else(|e| panic!("put_profile: {e}"));
    }

    /// Matches the i-th of `customers` to profile `p{i}`.
    pub async fn match_all(&self, workspace: &WorkspaceId, customers: &BTreeSet<String>) {
        for (i, c) in customers.iter().enumerate() {
            self.match_profile(workspace, &format!("p{i}"), c).await;
        }
    }

    /// The billing state of each of `customers`.
    pub async fn states(
        &self,
        workspace: &WorkspaceId,
        customers: &BTreeSet<String>,
    ) -> BTreeMap<String, BillingState> {
        let mut out = BTreeMap::new();
        for c in customers {
            let id = StripeCustomerId::parse(c.as_str()).unwrap_or_else(|e| panic!("{e}"));
            out.insert(c.clone(), self.billing(workspace, &id).await.0);
        }
        out
    }

    /// The billing state of `customer` and its version (0: never written).
    pub async fn billing(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> (BillingState, u64) {
        self.store
            .load(workspace, customer)
            .await
            .unwrap_or_else(|e| panic!("load: {e}"))
    }

    /// The scores of profiles `p0` … `p{n-1}` (None: never scored).
    pub async fn scores(&self, workspace: &WorkspaceId, n: usize) -> Vec<Option<f64>> {
        let mut out = Vec::new();
        for i in 0..n {
            let id = ProfileId::parse(format!("p{i}")).unwrap_or_else(|e| panic!("{e}"));
            let score = self
                .store
                .score(workspace, &id)
                .await
                .unwrap_or_else(|e| panic!("score: {e}"));
            out.push(score.map(|(s, _)| s.score.score));
        }
        out
    }

    /// The recorded event `id` and its version, if recorded.
    pub async fn event(
        &self,
        workspace: &WorkspaceId,
        id: &StripeEventId,
    ) -> Option<(EventRecord, u64)> {
        self.store
            .event(workspace, id)
            .await
            .unwrap_or_else(|e| panic!("event: {e}"))
    }

    /// Runs the retry sweep now, as the scheduled function does; how many it retried.
    pub async fn retry_due(&self, limit: u16) -> usize {
        let limit = kustiq::ports::store::PageSize::new(limit)
            .unwrap_or_else(|| panic!("page size {limit}"));
        kustiq::app::ingest::retry_due(
            &self.store,
            &self.settings.engine,
            self.clock.now_ts(),
            limit,
        )
        .await
        .unwrap_or_else(|e| panic!("retry_due: {e}"))
    }

    /// Every item of the bench's table, for [`Bench::assert_nothing_stored`].
    pub async fn snapshot(&self) -> TableSnapshot {
        TableSnapshot::take(&self.store).await
    }

    /// Asserts the table is as `before`: `what` stored nothing.
    pub async fn assert_nothing_stored(&self, before: &TableSnapshot, what: &str) {
        assert_nothing_stored(&self.store, before, what).await;
    }
}

/// Reads the time of a [`ManualClock`] without importing the port trait at every call site.
pub trait NowTs {
    /// Now.
    fn now_ts(&self) -> Timestamp;
}

impl NowTs for ManualClock {
    fn now_ts(&self) -> Timestamp {
        use kustiq::ports::clock::Clock;
        self.now()
    }
}

/// The DynamoDB Local endpoint from the stack.
pub fn dynamodb_local() -> String {
    require_env("KUSTIQ_TEST_DYNAMODB_ENDPOINT")
}

/// The event types the engine reads, as Stripe names them (from the models, so
/// tests and benches never keep their own list).
pub fn engine_types() -> Vec<String> {
    kustiq::stripe::models::event::EventType::ENGINE_TYPES
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect()
}

/// Whether a Stripe event JSON is of a type the engine reads.
pub fn is_engine_event(event: &Value) -> bool {
    let kind = event["type"].as_str().unwrap_or_default();
    engine_types().iter().any(|t| t == kind)
}
