//! The simulator handle: configuration, shared state, auth, rate limiting and webhooks.

mod delivery;

pub use delivery::wall_now;

use crate::api::ApiError;
use crate::engine::{Account, GenParams};
use crate::ids::Kind;
use crate::version::ApiVersion;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The platform's secret key: with `Stripe-Account` it reads any connected account.
pub const PLATFORM_KEY: &str = "sk_test_sim";
/// The Connect and Apps OAuth client id.
pub const CLIENT_ID: &str = "ca_sim";
/// How long an Apps OAuth access token lives.
pub const APP_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Where signed webhooks go.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Endpoint URL.
    pub url: String,
    /// Endpoint secret (`whsec_…`).
    pub secret: Secret,
}

/// Simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed: same seed, same accounts.
    pub seed: u64,
    /// Customers in the first account; the other accounts get a fifth as many (at least one).
    pub customers: usize,
    /// Years of history.
    pub years: u32,
    /// Connected accounts.
    pub accounts: usize,
    /// Requests per second per account; `None` is unlimited.
    pub rate_limit: Option<u32>,
    /// Requests per second per endpoint of an account (a list and a retrieve of one
    /// collection are two endpoints); `None` is unlimited. Stripe's default is 25.
    pub endpoint_rate_limit: Option<u32>,
    /// Added to every API response.
    pub latency: Duration,
    /// Webhook endpoint, if any.
    pub webhook: Option<WebhookTarget>,
    /// The simulated present at start.
    pub now: Timestamp,
    /// The API version objects and events are rendered in (a request's `Stripe-Version`
    /// header overrides it for that request's objects).
    pub api_version: ApiVersion,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            customers: 200,
            years: 2,
            accounts: 2,
            rate_limit: None,
            endpoint_rate_limit: None,
            latency: Duration::ZERO,
            webhook: None,
            // A fixed default so that the same seed gives the same data; callers pass a real now.
            now: Timestamp::from_unix(1_767_225_600),
            api_version: ApiVersion::default(),
        }
    }
}

/// The endpoint a request path is, as the per-endpoint limit counts them:
/// `/v1/customers` → `customers`, `/v1/customers/cus_1` → `customers/:id`.
pub fn endpoint(path: &str) -> String {
    let mut parts = path.trim_start_matches("/v1/").split('/');
    let collection = parts.next().unwrap_or_default();
    match parts.next() {
        Some(_) => format!("{collection}/:id"),
        None => collection.to_owned(),
    }
}

/// A connected account as tests and the ready line see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// `acct_…`.
    pub id: String,
    /// The account's restricted key, `rk_test_…`.
    pub restricted_key: String,
}

/// Object counts of one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Customers.
    pub customers: usize,
    /// Subscriptions (all statuses).
    pub subscriptions: usize,
    /// Invoices.
    pub invoices: usize,
    /// Charges.
    pub charges: usize,
    /// Disputes.
    pub disputes: usize,
    /// Events still recorded (the API shows the last 30 days).
    pub events: usize,
}

/// The outcome of sending one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Event id.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Connected account.
    pub account: String,
    /// HTTP status, if the endpoint answered.
    pub status: Option<u16>,
    /// Transport error, if it did not.
    pub error: Option<String>,
    /// The `Stripe-Signature` header sent.
    pub signature: String,
}

impl Delivery {
    /// Whether the endpoint accepted it (2xx).
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What `advance_days` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advance {
    /// The new simulated now.
    pub now: i64,
    /// Events recorded, all accounts.
    pub events: usize,
    /// Webhooks accepted by the endpoint.
    pub delivered: usize,
    /// Webhooks rejected or failed.
    pub failed: usize,
}

/// A control toggle on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// Access revoked (401 `account_invalid`).
    Revoked,
    /// Account restricted (403 `account_restricted`).
    Restricted,
    /// Key lacks permissions (403).
    PermissionDenied,
}

/// Why `emit` did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// No such account.
    #[error("no such account: {0}")]
    Account(String),
    /// No such customer in the account.
    #[error("no such customer: {0}")]
    Customer(String),
    /// The type is not one the simulator emits, or the customer's state does not allow it.
    #[error("cannot emit {0} for this customer in its current state")]
    NotApplicable(String),
}

/// Who is calling: `account == None` is the platform itself.
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    /// Account index.
    pub account: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    Connect,
    App,
}

#[derive(Debug)]
pub(crate) struct AccessToken {
    pub account: usize,
    pub grant: Grant,
    pub expires: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct RefreshToken {
    pub account: usize,
    pub grant: Grant,
}

#[derive(Debug)]
pub(crate) struct AuthCode {
    pub account: usize,
    pub grant: Grant,
}

pub(crate) struct State {
    pub accounts: Vec<Account>,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshToken>,
    pub codes: HashMap<String, AuthCode>,
    pub deliveries: Vec<Delivery>,
    pub token_rng: fastrand::Rng,
}

struct Inner {
    config: SimConfig,
    state: Mutex<State>,
    limiters: Vec<Option<DefaultDirectRateLimiter>>,
    endpoint_limiters: Mutex<HashMap<(usize, String), Arc<DefaultDirectRateLimiter>>>,
    requests: AtomicU64,
    writes: AtomicU64,
    limited: AtomicU64,
    http: reqwest::Client,
    infos: Vec<AccountInfo>,
    /// Sign webhooks with the simulated present instead of the wall clock.
    sign_simulated: std::sync::atomic::AtomicBool,
}

/// A cheap, cloneable handle to one simulator.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("accounts", &self.inner.infos)
            .finish_non_exhaustive()
    }
}

fn restricted_key(acct: &Account) -> String {
    let tail = acct.codec.encode(Kind::Account, 1, acct.index);
    format!("rk_test_{}", tail.get(5..).unwrap_or("sim"))
}

impl Simulator {
    /// Generates every account's history up to `config.now`.
    pub fn new(config: SimConfig) -> Self {
        let n_accounts = config.accounts.max(1);
        let accounts: Vec<Account> = (0..n_accounts)
            .map(|i| {
                let customers = if i == 0 {
                    config.customers
                } else {
                    (config.customers / 5).max(1)
                };
                Account::generate(GenParams {
                    seed: config.seed,
                    index: i as u32,
                    customers,
                    years: config.years,
                    now: config.now.unix(),
                    api_version: config.api_version,
                })
            })
            .collect();
        let infos = accounts
            .iter()
            .map(|a| AccountInfo {
                id: a.id(),
                restricted_key: restricted_key(a),
            })
            .collect();
        let limiters = (0..=n_accounts)
            .map(|_| {
                config
                    .rate_limit
                    .and_then(NonZeroU32::new)
                    .map(|r| RateLimiter::direct(Quota::per_second(r)))
            })
            .collect();
        // reqwest is built without a default TLS provider; ring is the one the workspace uses.
        // An error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    accounts,
                    access: HashMap::new(),
                    refresh: HashMap::new(),
                    codes: HashMap::new(),
                    deliveries: Vec::new(),
                    token_rng: fastrand::Rng::new(),
                }),
                limiters,
                endpoint_limiters: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
                writes: AtomicU64::new(0),
                limited: AtomicU64::new(0),
                http,
                infos,
                sign_simulated: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The connected accounts and their restricted keys.
    pub fn accounts(&self) -> Vec<AccountInfo> {
        self.inner.infos.clone()
    }

    pub(crate) fn account_index(&self, id: &str) -> Option<usize> {
        self.inner.infos.iter().position(|a| a.id == id)
    }

    /// The simulated present.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.lock().accounts.first().map_or(0, |a| a.now))
    }

    /// Object counts of an account.
    pub fn counts(&self, account: &str) -> Option<Counts> {
        let i = self.account_index(account)?;
        let st = self.lock();
        let a = st.accounts.get(i)?;
        Some(Counts {
            customers: a.customers.len(),
            subscriptions: a.subs.len(),
            invoices: a.invoices.len(),
            charges: a.charges.len(),
            disputes: a.disputes.len(),
            events: a.events.len(),
        })
    }

    /// Every customer of an account as Stripe JSON, oldest first.
    pub fn customers(&self, account: &str) -> Vec<Value> {
        let Some(i) = self.account_index(account) else {
            return Vec::new();
        };
        let st = self.lock();
        st.accounts.get(i).map_or_else(Vec::new, |a| {
            (0..a.customers.len() as u32)
                .map(|c| a.render_customer(c))
                .collect()
        })
    }

    /// Every subscription of an account as Stripe JSON, oldest first.
    pub fn subscriptions(&self, account: &str) -> Vec<Value> {
        let Some(i) = self.account_index(account) else {
            return Vec::new();
        };
        let st = self.lock();
        st.accounts.get(i).map_or_else(Vec::new, |a| {
            (0..a.subs.len() as u32)
                .map(|s| a.render_subscription(s, a.api_version))
                .collect()
        })
    }

    /// Every recorded event of an account as Stripe JSON, oldest first.
    pub fn events(&self, account: &str) -> Vec<Value> {
        let Some(i) = self.account_index(account) else {
            return Vec::new();
        };
        let st = self.lock();
        st.accounts.get(i).map_or_else(Vec::new, |a| {
            (0..a.events.len() as u32)
                .map(|e| a.render_event(e))
                .collect()
        })
    }

    /// Runs `f` on a rendered read of one account (`None` for the platform).
    pub(crate) fn with_account<T>(
        &self,
        account: Option<usize>,
        f: impl FnOnce(Option<&Account>, i64) -> T,
    ) -> T {
        let st = self.lock();
        let now = st.accounts.first().map_or(0, |a| a.now);
        f(account.and_then(|i| st.accounts.get(i)), now)
    }

    /// API requests served (all methods).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Non-GET requests to `/v1` other than the OAuth token endpoint: a read-only client makes none.
    pub fn non_get_requests(&self) -> u64 {
        self.inner.writes.load(Ordering::Relaxed)
    }

    /// Requests answered 429.
    pub fn rate_limited(&self) -> u64 {
        self.inner.limited.load(Ordering::Relaxed)
    }

    /// Webhook deliveries so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    pub(crate) fn count_request(&self) {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_write(&self) {
        self.inner.writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Option<Duration> {
        (!self.inner.config.latency.is_zero()).then_some(self.inner.config.latency)
    }

    /// Takes one token from the endpoint's bucket, then one from the account's
    /// (platform: last bucket). `path` is the request path (`/v1/customers/cus_1`).
    pub(crate) fn admit(&self, account: Option<usize>, path: &str) -> bool {
        let slot = account.unwrap_or(self.inner.limiters.len() - 1);
        let endpoint_ok = match self
            .inner
            .config
            .endpoint_rate_limit
            .and_then(NonZeroU32::new)
        {
            None => true,
            Some(rate) => {
                let limiter = self
                    .inner
                    .endpoint_limiters
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry((slot, endpoint(path)))
                    .or_insert_with(|| Arc::new(RateLimiter::direct(Quota::per_second(rate))))
                    .clone();
                limiter.check().is_ok()
            }
        };
        let ok = endpoint_ok
            && self
                .inner
                .limiters
                .get(slot)
                .and_then(Option::as_ref)
                .is_none_or(|l| l.check().is_ok());
        if !ok {
            self.inner.limited.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Sets or clears a control toggle. Returns false for an unknown account.
    pub fn set_flag(&self, account: &str, flag: Flag, on: bool) -> bool {
        let Some(i) = self.account_index(account) else {
            return false;
        };
        let mut st = self.lock();
        let Some(a) = st.accounts.get_mut(i) else {
            return false;
        };
        match flag {
            Flag::Revoked => a.flags.revoked = on,
            Flag::Restricted => a.flags.restricted = on,
            Flag::PermissionDenied => a.flags.permission_denied = on,
        }
        true
    }

    /// Signs webhooks with the simulated present rather than the wall clock, for a
    /// receiver whose clock follows the simulator (the local demo). Stripe itself signs
    /// with the wall clock, which stays the default.
    pub fn sign_with_simulated_clock(&self) {
        self.inner.sign_simulated.store(true, Ordering::Relaxed);
    }

    pub(crate) fn signing_time(&self) -> Timestamp {
        if self.inner.sign_simulated.load(Ordering::Relaxed) {
            self.now()
        } else {
            delivery::wall_now()
        }
    }

    /// Sets the account's country (`/v1/account` `country`, two ASCII letters).
    /// Returns false for an unknown account or a malformed code.
    pub fn set_country(&self, account: &str, country: &str) -> bool {
        let Ok(code) = <[u8; 2]>::try_from(country.as_bytes()) else {
            return false;
        };
        if !code.iter().all(u8::is_ascii_uppercase) {
            return false;
        }
        let Some(i) = self.account_index(account) else {
            return false;
        };
        match self.lock().accounts.get_mut(i) {
            Some(a) => {
                a.flags.country = Some(code);
                true
            }
            None => false,
        }
    }

    /// Makes every Apps OAuth access token expired, as an hour passing would.
    pub fn expire_access_tokens(&self) {
        let past = Instant::now();
        for t in self.lock().access.values_mut() {
            if t.grant == Grant::App {
                t.expires = Some(past);
            }
        }
    }

    /// Resolves the presented key and `Stripe-Account` header to a principal.
    pub(crate) fn authenticate(
        &self,
        key: &str,
        stripe_account: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let header_account = match stripe_account {
            None => None,
            Some(id) => match self.account_index(id) {
                Some(i) => Some(i),
                None => return Err(ApiError::revoked(key, id)),
            },
        };
        if key == PLATFORM_KEY {
            return Ok(Principal {
                account: header_account,
            });
        }
        let keyed = if let Some(i) = self
            .inner
            .infos
            .iter()
            .position(|a| a.restricted_key == key)
        {
            i
        } else {
            let st = self.lock();
            let Some(tok) = st.access.get(key) else {
                return Err(ApiError::invalid_key(key));
            };
            if tok.expires.is_some_and(|e| Instant::now() >= e) {
                return Err(ApiError::expired_key(key));
            }
            tok.account
        };
        match header_account {
            Some(h) if h != keyed => Err(ApiError::revoked(key, &self.inner.infos[h].id)),
            _ => Ok(Principal {
                account: Some(keyed),
            }),
        }
    }
}
