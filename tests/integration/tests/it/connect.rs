//! Connecting a workspace (issue 11) end to end: the real routes on DynamoDB Local,
//! credentials sealed with moto's KMS, Stripe played by `stripe-sim` (both OAuth
//! flows, restricted keys, `/v1/account`). This module holds the bench the other
//! `connect_*` modules share, and the Connect OAuth and restricted-key tests.

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
use kustiq::ports::connections::{ConnectionStore, GrantStore};
use kustiq::ports::readers::ConnectionReaders;
use kustiq::ports::stripe::StripeReader;
use kustiq_tests::snapshot::{TableSnapshot, assert_nothing_stored};
use kustiq_tests::{Answer, Engine, TestStore, moto};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use stripe_sim::{AccountInfo, Flag, RunningSim, SimConfig, Simulator};

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
        let table = TestStore::new(Engine::DynamoDbLocal, region.aws_region()).await;
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

#[tokio::test]
async fn connect_oauth_stores_a_sealed_grant_and_queues_the_backfill() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let before = bench.table_text().await;
    assert!(!before.contains("GRANT"));

    let answer = bench
        .connect_oauth("ws_c1", "mode=test&backfill=30d&method=connect")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["account_id"], json!(acct.id));

    let status = bench.status("ws_c1").await;
    assert_eq!(status["connected"], json!(true), "{status}");
    assert_eq!(status["method"], json!("connect"));
    assert_eq!(status["mode"], json!("test"));
    assert_eq!(status["region"], json!("eu"));
    assert_eq!(status["account_id"], json!(acct.id));
    assert_eq!(status["window"], json!("30d"));
    assert_eq!(status["backfill"]["state"], json!("pending"));
    assert_eq!(status["cross_region"], json!(false));
    assert!(status["connected_since"].is_string(), "{status}");
    assert_eq!(status["error"], Value::Null);

    // The refresh token is stored sealed: no plaintext token in any item.
    let table = bench.table_text().await;
    assert!(table.contains("ksv1."), "a sealed blob is stored");
    for plain in ["rt_", "sk_test_oauth_", stripe_sim::PLATFORM_KEY] {
        assert!(!table.contains(plain), "{plain} stored in plaintext");
    }
    // Reads go through the platform key with Stripe-Account.
    assert_eq!(bench.customers_read("ws_c1").await.ok(), Some(20));
}

#[tokio::test]
async fn denied_consent_answers_a_clear_code_and_stores_nothing() {
    let bench = ConnectBench::new().await;
    let before = bench.snapshot().await;
    let start = bench.start("ws_d1", "mode=test&backfill=90d").await;
    let path = bench.authorize(&start, "&deny=1").await;
    assert!(path.contains("error=access_denied"), "{path}");
    bench
        .callback(&path, None)
        .await
        .assert_refused(400, "ERR_OAUTH_DENIED");
    bench
        .assert_nothing_stored(&before, "a denied consent")
        .await;
    assert_eq!(bench.status("ws_d1").await["connected"], json!(false));
}

#[tokio::test]
async fn forged_expired_replayed_and_foreign_states_are_refused() {
    let bench = ConnectBench::new().await;
    let start = bench.start("ws_s1", "mode=test").await;
    let path = bench.authorize(&start, "").await;
    let before = bench.snapshot().await;

    // Forged: the signed body altered (another workspace written in), tag kept.
    let (head, state) = path
        .split_once("state=")
        .unwrap_or_else(|| panic!("{path}"));
    let state = state.split('&').next().unwrap_or_default();
    let decoded: String = url::form_urlencoded::parse(format!("s={state}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (body, tag) = decoded
        .split_once('.')
        .unwrap_or_else(|| panic!("{decoded}"));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = String::from_utf8(b64.decode(body).unwrap_or_default()).unwrap_or_default();
    let forged_body = b64.encode(json.replace("ws_s1", "ws_s2"));
    let forged = format!("{head}state={forged_body}.{tag}");
    bench
        .callback(&forged, None)
        .await
        .assert_refused(400, "ERR_OAUTH_STATE");
    // A state with no signature at all.
    bench
        .callback(&format!("{head}state={forged_body}"), None)
        .await
        .assert_refused(400, "ERR_OAUTH_STATE");
    // Another workspace's identity presenting ws_s1's state.
    let other = bench.callback(&path, Some("ws_s2")).await;
    other.assert_refused(400, "ERR_OAUTH_STATE");
    assert!(
        other.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("another workspace")
    );
    bench
        .assert_nothing_stored(&before, "forged and foreign states")
        .await;

    // The genuine state works once, as its own workspace ...
    let first = bench.callback(&path, Some("ws_s1")).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    // ... and never again.
    let after_first = bench.snapshot().await;
    let replay = bench.callback(&path, None).await;
    replay.assert_refused(400, "ERR_OAUTH_STATE");
    assert!(
        replay.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already used")
    );
    bench
        .assert_nothing_stored(&after_first, "a replayed state")
        .await;

    // Expired: ten minutes after it was issued.
    let start = bench.start("ws_s3", "mode=test").await;
    let path = bench.authorize(&start, "").await;
    bench.clock.advance(600);
    let before = bench.snapshot().await;
    let expired = bench.callback(&path, None).await;
    expired.assert_refused(400, "ERR_OAUTH_STATE");
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired")
    );
    bench
        .assert_nothing_stored(&before, "an expired state")
        .await;
    assert!(bench.connection("ws_s3").await.is_none());
}

#[tokio::test]
async fn only_pro_workspaces_connect() {
    let bench = ConnectBench::new().await;
    let before = bench.snapshot().await;
    for plan in ["free", "insight"] {
        let r = bench.request(
            "GET",
            "/api/v1/integrations/stripe/connect?mode=test",
            Some(("ws_p1", plan)),
            None,
        );
        bench.send(r).await.assert_refused(403, "ERR_PLAN_REQUIRED");
        let r = bench.request(
            "POST",
            "/api/v1/integrations/stripe/api-key",
            Some(("ws_p1", plan)),
            Some(key_body(&bench.account(0).restricted_key)),
        );
        bench.send(r).await.assert_refused(403, "ERR_PLAN_REQUIRED");
    }
    bench
        .assert_nothing_stored(&before, "non-Pro connects")
        .await;
}

#[tokio::test]
async fn a_restricted_key_connects_after_each_read_permission_is_checked() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(1);
    let answer = bench.api_key("ws_k1", key_body(&acct.restricted_key)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let status = bench.status("ws_k1").await;
    assert_eq!(status["method"], json!("api_key"));
    assert_eq!(status["account_id"], json!(acct.id));
    assert_eq!(status["backfill"]["state"], json!("pending"));
    let id = status["connection_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("kc_"), "{status}");
    assert_eq!(
        status["webhook_path"],
        json!(format!("/webhooks/stripe/c/{id}"))
    );
    assert!(!bench.table_text().await.contains(&acct.restricted_key));
    assert!(bench.customers_read("ws_k1").await.is_ok_and(|n| n > 0));
}

#[tokio::test]
async fn a_key_missing_permissions_is_refused_naming_each_one() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    bench
        .sim
        .sim
        .set_flag(&acct.id, Flag::PermissionDenied, true);
    let before = bench.snapshot().await;
    let answer = bench.api_key("ws_k2", key_body(&acct.restricted_key)).await;
    answer.assert_refused(403, "ERR_ST_403");
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    for permission in [
        "rak_customer_read",
        "rak_subscription_read",
        "rak_invoice_read",
        "rak_charge_read",
        "rak_dispute_read",
    ] {
        assert!(
            message.contains(permission),
            "{permission} not named: {message}"
        );
    }
    bench
        .assert_nothing_stored(&before, "a key without permissions")
        .await;
}

#[tokio::test]
async fn bad_keys_secret_keys_and_the_other_mode_are_refused() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let before = bench.snapshot().await;
    bench
        .api_key("ws_k3", key_body("sk_test_something"))
        .await
        .assert_refused(400, "ERR_SECRET_KEY_REFUSED");
    bench
        .api_key("ws_k3", key_body("pk_test_x"))
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    bench
        .api_key(
            "ws_k3",
            json!({"api_key": acct.restricted_key, "mode": "live"}),
        )
        .await
        .assert_refused(400, "ERR_MODE_MISMATCH");
    let unknown = bench.api_key("ws_k3", key_body("rk_test_unknown")).await;
    unknown.assert_refused(409, "ERR_ST_401");
    assert!(!unknown.body.to_string().contains("rk_test_unknown"));
    bench
        .api_key(
            "ws_k3",
            json!({"api_key": acct.restricted_key, "mode": "test", "extra": 1}),
        )
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    bench.assert_nothing_stored(&before, "refused keys").await;
}

#[tokio::test]
async fn an_operator_can_offer_restricted_keys_only_and_allow_secret_keys() {
    let bench = ConnectBench::with(Region::Eu, |s| {
        s.methods = vec![kustiq::domain::connection::ConnectMethod::ApiKey];
        s.allow_secret_key = true;
    })
    .await;
    bench
        .start("ws_o1", "mode=test&method=connect")
        .await
        .assert_refused(403, "ERR_METHOD_DISABLED");
    bench
        .start("ws_o1", "mode=test&method=app")
        .await
        .assert_refused(403, "ERR_METHOD_DISABLED");
    // The simulator accepts only its restricted keys, so an allowed sk_ key gets as
    // far as Stripe, which refuses it.
    bench
        .api_key("ws_o1", key_body("sk_test_unknown"))
        .await
        .assert_refused(409, "ERR_ST_401");
}

#[tokio::test]
async fn one_stripe_account_connects_to_one_workspace() {
    let bench = ConnectBench::new().await;
    let acct = bench.account(0);
    let first = bench.connect_oauth("ws_a1", "mode=test").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let before = bench.connection("ws_a1").await;

    let second = bench.connect_oauth("ws_a2", "mode=test").await;
    second.assert_refused(409, "ERR_ACCOUNT_ALREADY_CONNECTED");
    bench
        .api_key("ws_a3", key_body(&acct.restricted_key))
        .await
        .assert_refused(409, "ERR_ACCOUNT_ALREADY_CONNECTED");
    assert_eq!(
        bench.connection("ws_a1").await,
        before,
        "the first is untouched"
    );
    assert!(bench.connection("ws_a2").await.is_none());
    assert!(bench.connection("ws_a3").await.is_none());
    assert_eq!(bench.status("ws_a1").await["connected"], json!(true));
}

#[tokio::test]
async fn a_grant_of_the_other_mode_is_refused() {
    let bench = ConnectBench::new().await;
    // The simulator grants test mode only.
    let answer = bench.connect_oauth("ws_m1", "mode=live").await;
    answer.assert_refused(400, "ERR_MODE_MISMATCH");
    assert!(bench.connection("ws_m1").await.is_none());
    assert!(
        bench
            .store
            .grant(&wsid("ws_m1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

#[tokio::test]
async fn a_workspace_connected_to_one_account_must_disconnect_before_another() {
    let bench = ConnectBench::new().await;
    let first = bench.connect_oauth("ws_r1", "mode=test").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    bench
        .api_key("ws_r1", key_body(&bench.account(1).restricted_key))
        .await
        .assert_refused(409, "ERR_CONFLICT");
    // The same account again renews the grant.
    let again = bench.connect_oauth("ws_r1", "mode=test&backfill=all").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(bench.status("ws_r1").await["window"], json!("all"));
}

#[tokio::test]
async fn ingest_reads_what_a_payload_lacks_through_the_connections_own_credentials() {
    use kustiq::adapters::stripe::StripeCredentials;
    use kustiq::domain::ids::StripeAccountId;
    use kustiq::ports::catalog::CatalogSources;
    let bench = ConnectBench::new().await;
    let (keyed, other) = (bench.account(1), bench.account(0));
    assert_eq!(
        bench
            .api_key("ws_cat1", key_body(&keyed.restricted_key))
            .await
            .status,
        200
    );
    let id =
        |a: &AccountInfo| StripeAccountId::parse(a.id.as_str()).unwrap_or_else(|e| panic!("{e}"));
    let source = CatalogSources::for_account(&bench.readers, &id(&keyed))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(source.credentials(), StripeCredentials::Bearer { .. }),
        "a restricted-key connection reads with its key"
    );
    assert!(source.account().await.is_ok());
    // An account without stored credentials reads through the platform key, as before.
    let platform = CatalogSources::for_account(&bench.readers, &id(&other))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        platform.credentials(),
        StripeCredentials::Connect { .. }
    ));
}
