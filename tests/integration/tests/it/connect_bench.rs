//! The bench every `connect*` module shares: the connect, disconnect, API and webhook
//! routes on a fresh DynamoDB Local table, credentials sealed with a moto KMS key of the
//! bench's region, Stripe played by a fresh `stripe-sim` (both OAuth flows, restricted
//! keys, `/v1/account`).

use kustiq::adapters::clock::ManualClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::kms::KmsSealer;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{Platform, PlatformSources, StripeClient, StripeConfig};
use kustiq::app::connect::{ConnectSettings, Connector, SealedReaders};
use kustiq::domain::connection::Connection;
use kustiq::domain::ids::WorkspaceId;
use kustiq::domain::region::Region;
use kustiq::domain::time::Timestamp;
use kustiq::http::{ApiRoutes, ConnectRoutes, DisconnectRoutes, Router, Settings, WebhookRoutes};
use kustiq::ports::clock::Clock;
use kustiq::ports::connections::ConnectionStore;
use kustiq::ports::readers::ConnectionReaders;
use kustiq::ports::stripe::StripeReader;
use kustiq_tests::snapshot::{TableSnapshot, assert_nothing_stored};
use kustiq_tests::{Answer, Engine, TestStore, moto};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use stripe_sim::{AccountInfo, RunningSim, SimConfig, Simulator};

/// The public base URL the bench's OAuth redirect URIs use.
pub const PUBLIC: &str = "http://kustiq.test";
/// The bench's OAuth state key.
const STATE_KEY: &str = "bench-state-key";

/// The sealed readers the bench builds.
pub type Readers = SealedReaders<DynamoStore, Arc<KmsSealer>, Platform<Secrets>>;

/// Every connect-related route on a fresh table, sealing with a moto KMS key of
/// the bench's region, talking to a fresh simulator.
pub struct ConnectBench {
    /// The simulator.
    pub sim: RunningSim,
    /// The store.
    pub store: DynamoStore,
    /// The routes.
    pub router: Router,
    /// The clock (the simulator's own clock is separate).
    pub clock: ManualClock,
    /// The sealer.
    pub sealer: Arc<KmsSealer>,
    /// Readers over the sealed credentials.
    pub readers: Readers,
    /// The bench's region.
    pub region: Region,
    http: reqwest::Client,
    _table: TestStore,
}

fn secrets() -> Secrets {
    Secrets::Env(EnvSecrets::from_vars([
        (
            "KUSTIQ_STRIPE_WEBHOOK_SECRET".to_owned(),
            "whsec_platform".to_owned(),
        ),
        (
            "KUSTIQ_API_CURSOR_KEY".to_owned(),
            "bench-cursor".to_owned(),
        ),
        ("KUSTIQ_OAUTH_STATE_KEY".to_owned(), STATE_KEY.to_owned()),
        (
            "KUSTIQ_STRIPE_PLATFORM_KEY".to_owned(),
            stripe_sim::PLATFORM_KEY.to_owned(),
        ),
    ]))
}

fn platform(base: &str) -> Platform<Secrets> {
    let config = StripeConfig::at(base).unwrap_or_else(|e| panic!("{e}"));
    let client = StripeClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    Platform::new(client, stripe_sim::CLIENT_ID, secrets())
}

impl ConnectBench {
    /// An EU bench offering every method.
    pub async fn new() -> Self {
        Self::with(Region::Eu, |_| {}).await
    }

    /// A bench in `region`, its connect settings adjusted by `tune`.
    pub async fn with(region: Region, tune: impl FnOnce(&mut ConnectSettings)) -> Self {
        Self::on(Engine::DynamoDbLocal, region, tune).await
    }

    /// A bench on `engine` in `region`, its connect settings adjusted by `tune`.
    pub async fn on(
        engine: Engine,
        region: Region,
        tune: impl FnOnce(&mut ConnectSettings),
    ) -> Self {
        let sim = Simulator::new(SimConfig {
            seed: 11,
            customers: 20,
            years: 1,
            accounts: 2,
            ..SimConfig::default()
        })
        .bind(0)
        .await
        .unwrap_or_else(|e| panic!("sim: {e}"));
        // Accounts of the bench's own region unless a test says otherwise.
        let country = if region == Region::Eu { "DE" } else { "US" };
        for a in &sim.accounts {
            assert!(sim.sim.set_country(&a.id, country));
        }
        let table = TestStore::new(engine, region.aws_region()).await;
        let store = table.store.clone();
        let (config, arn) = moto::create_kms_key(region.aws_region()).await;
        let sealer = Arc::new(KmsSealer::new(&config, arn));
        let clock = ManualClock::at(Timestamp::from_unix(chrono::Utc::now().timestamp()));
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let settings = Settings::new(region);
        let public = url::Url::parse(PUBLIC).unwrap_or_else(|e| panic!("{e}"));
        let mut connect_settings = ConnectSettings::new(public, region);
        tune(&mut connect_settings);
        let router = Router::new()
            .mount(ConnectRoutes {
                connector: Connector {
                    store: store.clone(),
                    secrets: secrets(),
                    sealer: sealer.clone(),
                    platform: platform(&sim.base_url),
                    settings: connect_settings,
                },
                clock: shared.clone(),
                settings: settings.clone(),
            })
            .mount(ApiRoutes {
                store: store.clone(),
                secrets: secrets(),
                clock: shared.clone(),
                settings: settings.clone(),
            })
            .mount(DisconnectRoutes {
                store: store.clone(),
                platform: platform(&sim.base_url),
                clock: shared.clone(),
                settings: settings.clone(),
            })
            .mount(
                WebhookRoutes::new(
                    store.clone(),
                    secrets(),
                    None::<PlatformSources<Secrets>>,
                    shared.clone(),
                    settings.clone(),
                )
                .with_sealer(sealer.clone()),
            );
        let readers = SealedReaders {
            store: store.clone(),
            sealer: sealer.clone(),
            platform: platform(&sim.base_url),
            clock: shared,
        };
        let http = kustiq::adapters::stripe::http_builder()
            .and_then(|b| {
                b.redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| kustiq::ports::stripe::StripeError::Config(e.to_string()))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            sim,
            store,
            router,
            clock,
            sealer,
            readers,
            region,
            http,
            _table: table,
        }
    }

    /// The i-th simulated account.
    pub fn account(&self, i: usize) -> AccountInfo {
        self.sim.accounts[i].clone()
    }

    /// A request as the JWT authorizer would pass it for `workspace` on `plan`.
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        who: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> lambda_http::Request {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            params
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
        let body = body
            .map(|b| Body::Text(b.to_string()))
            .unwrap_or(Body::Empty);
        let req = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(body)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_query_string_parameters(params);
        match who {
            None => req,
            Some((workspace, plan)) => {
                let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
                    serde_json::from_value(json!({
                        "authorizer": {"jwt": {"claims": {"workspace_id": workspace, "plan": plan, "region": self.region.as_str()}, "scopes": null}},
                        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                        "timeEpoch": 0
                    }))
                    .unwrap_or_else(|e| panic!("context: {e}"));
                req.with_request_context(RequestContext::ApiGatewayV2(ctx))
            }
        }
    }

    /// Sends a request; the answer with its `Location` header in `body["_location"]`.
    pub async fn send(&self, req: lambda_http::Request) -> Answer {
        let resp = self.router.handle(req).await;
        let status = resp.status().as_u16();
        let mut body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        if let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) {
            body["_location"] = json!(loc);
        }
        Answer { status, body }
    }

    /// A Pro workspace's request.
    pub async fn pro(&self, method: &str, path: &str, ws: &str, body: Option<Value>) -> Answer {
        self.send(self.request(method, path, Some((ws, "pro")), body))
            .await
    }

    /// `GET …/connect?{query}` as `ws`: the answer (302 to Stripe).
    pub async fn start(&self, ws: &str, query: &str) -> Answer {
        self.pro(
            "GET",
            &format!("/api/v1/integrations/stripe/connect?{query}"),
            ws,
            None,
        )
        .await
    }

    /// Follows a 302 to the simulator's authorize page (with `extra` query
    /// appended, e.g. `&deny=1`); returns the callback's path and query.
    pub async fn authorize(&self, start: &Answer, extra: &str) -> String {
        assert_eq!(start.status, 302, "{:?}", start.body);
        let url = format!(
            "{}{extra}",
            start.body["_location"].as_str().unwrap_or_default()
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(resp.status().as_u16(), 302, "{url}");
        let to = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let rest = to
            .strip_prefix(PUBLIC)
            .unwrap_or_else(|| panic!("redirected elsewhere: {to}"));
        assert!(
            rest.starts_with("/api/v1/integrations/stripe/oauth/callback?"),
            "{rest}"
        );
        rest.to_owned()
    }

    /// `GET` the callback, without a workspace identity (as a browser would
    /// arrive from Stripe) or as `ws`.
    pub async fn callback(&self, path: &str, ws: Option<&str>) -> Answer {
        self.send(self.request("GET", path, ws.map(|w| (w, "pro")), None))
            .await
    }

    /// The whole OAuth flow for `ws` with `query`; the callback's answer.
    pub async fn connect_oauth(&self, ws: &str, query: &str) -> Answer {
        let start = self.start(ws, query).await;
        let path = self.authorize(&start, "").await;
        self.callback(&path, None).await
    }

    /// `POST …/api-key` as `ws`.
    pub async fn api_key(&self, ws: &str, body: Value) -> Answer {
        self.pro(
            "POST",
            "/api/v1/integrations/stripe/api-key",
            ws,
            Some(body),
        )
        .await
    }

    /// `GET /api/v1/integrations/stripe` as `ws`.
    pub async fn status(&self, ws: &str) -> Value {
        let a = self
            .pro("GET", "/api/v1/integrations/stripe", ws, None)
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        a.body
    }

    /// The stored connection of `ws`.
    pub async fn connection(&self, ws: &str) -> Option<Connection> {
        self.store
            .connection(&wsid(ws))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|(c, _)| c)
    }

    /// Every item of the table.
    pub async fn snapshot(&self) -> TableSnapshot {
        TableSnapshot::take(&self.store).await
    }

    /// Asserts `what` stored nothing since `before`.
    pub async fn assert_nothing_stored(&self, before: &TableSnapshot, what: &str) {
        assert_nothing_stored(&self.store, before, what).await;
    }

    /// Every item of the table as text, for "no plaintext secret" checks.
    pub async fn table_text(&self) -> String {
        format!("{:?}", self.snapshot().await)
    }

    /// How many customers `ws`'s connection reads through its sealed credentials.
    pub async fn customers_read(
        &self,
        ws: &str,
    ) -> Result<usize, kustiq::ports::stripe::StripeError> {
        use futures::StreamExt;
        let conn = self
            .connection(ws)
            .await
            .unwrap_or_else(|| panic!("{ws} has no connection"));
        let reader = self.readers.for_connection(&conn).await?;
        let account = reader.account().await?;
        assert_eq!(account.id, conn.account_id);
        let mut n = 0;
        let mut customers = reader.customers(Default::default());
        while let Some(c) = customers.next().await {
            c?;
            n += 1;
        }
        Ok(n)
    }
}

impl ConnectBench {
    /// The bench clock's now.
    pub fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Posts `body` to `path` signed now with `secret`.
    pub async fn post_signed(&self, path: &str, body: &str, secret: &str) -> Answer {
        let header = kustiq::stripe::signature::sign(
            body.as_bytes(),
            &kustiq::domain::secret::Secret::new(secret),
            self.clock.now(),
        );
        let req = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("stripe-signature", header)
            .body(Body::Text(body.to_owned()))
            .unwrap_or_else(|e| panic!("{e}"));
        self.send(req).await
    }

    /// Posts `event` to the platform endpoint `/webhooks/stripe`.
    pub async fn post_platform(&self, event: &Value) -> Answer {
        self.post_signed(
            "/webhooks/stripe",
            &event.to_string(),
            PLATFORM_WEBHOOK_SECRET,
        )
        .await
    }

    /// The account's recorded events of engine types that name a customer, newest first.
    pub fn customer_events(&self, account: &str) -> Vec<Value> {
        self.sim
            .sim
            .events(account)
            .into_iter()
            .filter(|e| {
                kustiq_tests::webhook::is_engine_event(e)
                    && kustiq_tests::simulated::customer_of(e).is_some()
            })
            .collect()
    }

    /// `PUT /api/v1/profiles/{id}` matched to `customer`.
    pub async fn put_profile(&self, ws: &str, id: &str, customer: Option<&str>) -> Answer {
        let mut body = json!({"name": "Profile", "families": {"crm": [{"signal": "crm_touch", "impact": 5, "explanation": "a CRM signal"}]}});
        if let Some(c) = customer {
            body["stripe_customer_id"] = json!(c);
        }
        self.pro("PUT", &format!("/api/v1/profiles/{id}"), ws, Some(body))
            .await
    }

    /// `GET /api/v1/profiles/{id}/churn`.
    pub async fn churn(&self, ws: &str, id: &str) -> Value {
        let a = self
            .pro("GET", &format!("/api/v1/profiles/{id}/churn"), ws, None)
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        a.body
    }
}

/// The platform endpoint's signing secret on the bench.
pub const PLATFORM_WEBHOOK_SECRET: &str = "whsec_platform";

/// A workspace id.
pub fn wsid(ws: &str) -> WorkspaceId {
    WorkspaceId::parse(ws).unwrap_or_else(|e| panic!("{e}"))
}

/// The restricted-key body for `key` in test mode with a 30-day window.
pub fn key_body(key: &str) -> Value {
    json!({"api_key": key, "mode": "test", "backfill": "30d"})
}
