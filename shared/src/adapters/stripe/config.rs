//! Where Stripe is and how hard the client may use it.

use super::retry::RetryPolicy;
use crate::ports::stripe::StripeError;
use std::num::NonZeroU32;
use std::time::Duration;
use url::Url;

/// Stripe client settings. `Default` is production Stripe with Stripe's
/// published read limits (100 requests/s live, 25 test).
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The API host, `https://api.stripe.com` (the simulator's base URL in tests).
    pub api_base: Url,
    /// The Connect OAuth host, `https://connect.stripe.com`.
    pub connect_base: Url,
    /// The Stripe Apps install link the user is sent to,
    /// `https://marketplace.stripe.com/oauth/v2/authorize`.
    pub app_authorize_url: Url,
    /// Requests per second per live-mode account.
    pub live_rate: NonZeroU32,
    /// Requests per second per test-mode account.
    pub test_rate: NonZeroU32,
    /// Requests per second per endpoint of an account (Stripe: 25 by default, both
    /// modes); never more than the account's rate.
    pub endpoint_rate: NonZeroU32,
    /// Requests in flight at once per account.
    pub max_in_flight: usize,
    /// Retries of 429, 409, 5xx and network failures.
    pub retry: RetryPolicy,
    /// Whole-request timeout (connect, send, read the body).
    pub request_timeout: Duration,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// `Stripe-Version` to pin; `None` uses the account's default version.
    pub api_version: Option<String>,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            api_base: fixed_url("https://api.stripe.com"),
            connect_base: fixed_url("https://connect.stripe.com"),
            app_authorize_url: fixed_url("https://marketplace.stripe.com/oauth/v2/authorize"),
            live_rate: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            test_rate: NonZeroU32::new(25).unwrap_or(NonZeroU32::MIN),
            endpoint_rate: NonZeroU32::new(25).unwrap_or(NonZeroU32::MIN),
            max_in_flight: 8,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            api_version: None,
        }
    }
}

impl StripeConfig {
    /// Production settings with every endpoint on one address, as the
    /// simulator serves them (its Apps install link is `/apps/oauth/authorize`).
    pub fn at(base: &str) -> Result<Self, StripeError> {
        let url = parse_base(base)?;
        Ok(Self {
            app_authorize_url: join(&url, "/apps/oauth/authorize")?,
            api_base: url.clone(),
            connect_base: url,
            ..Self::default()
        })
    }

    /// The same settings with a different API host and Connect host.
    pub fn with_bases(mut self, api_base: &str, connect_base: &str) -> Result<Self, StripeError> {
        self.api_base = parse_base(api_base)?;
        self.connect_base = parse_base(connect_base)?;
        Ok(self)
    }

    /// The same settings with one account rate for both modes (the per-endpoint
    /// rate stays as it is: see [`Self::with_endpoint_rate`]).
    pub fn with_rate(mut self, per_second: NonZeroU32) -> Self {
        self.live_rate = per_second;
        self.test_rate = per_second;
        self
    }

    /// The same settings with another per-endpoint rate.
    pub fn with_endpoint_rate(mut self, per_second: NonZeroU32) -> Self {
        self.endpoint_rate = per_second;
        self
    }
}

fn parse_base(raw: &str) -> Result<Url, StripeError> {
    let url = Url::parse(raw).map_err(|e| StripeError::Config(format!("base URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(StripeError::Config(format!(
            "base URL {raw:?} is not http(s)"
        )));
    }
    Ok(url)
}

fn fixed_url(raw: &'static str) -> Url {
    Url::parse(raw).expect("the default base URLs are valid constants")
}

/// Joins an absolute path (`/v1/customers`) to a base that may carry a path prefix.
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, StripeError> {
    let raw = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    Url::parse(&raw).map_err(|e| StripeError::Config(format!("URL {raw:?}: {e}")))
}
