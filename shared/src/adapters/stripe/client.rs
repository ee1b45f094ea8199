//! The process-wide Stripe client: one connection pool, one set of
//! per-account gates, and the single `GET` the API client can send.

use super::config::{StripeConfig, join};
use super::credentials::StripeCredentials;
use super::limiter::Gates;
use super::oauth::StripeOAuth;
use super::path::ReadPath;
use super::reader::AccountReader;
use super::response::api_error;
use super::retry::{Failure, Verdict, parse_retry_after, parse_should_retry};
use crate::domain::secret::Secret;
use crate::ports::stripe::StripeError;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A reqwest builder with rustls on ring and the platform's trust roots, for
/// every HTTP client of the workspace that must not pull aws-lc or OpenSSL
/// (reqwest's `rustls-no-provider` feature panics without such a config).
pub fn http_builder() -> Result<reqwest::ClientBuilder, StripeError> {
    let tls = super::tls::tls_config().map_err(|e| StripeError::Config(format!("TLS: {e}")))?;
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

/// Counters since the client was built: what the benchmark and the metrics read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// API requests sent, retries included.
    pub requests: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Attempts that were retried.
    pub retries: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
}

/// The Stripe client of one process. Cheap to clone; build it once (Lambda
/// init) and derive an [`AccountReader`] per connected account.
#[derive(Clone)]
pub struct StripeClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: StripeConfig,
    gates: Gates,
    counters: Counters,
}

impl StripeClient {
    /// Builds the client: TLS config, connection pool, rate limits.
    pub fn new(config: StripeConfig) -> Result<Self, StripeError> {
        let mut headers = HeaderMap::new();
        if let Some(version) = &config.api_version {
            let value = HeaderValue::from_str(version)
                .map_err(|_| StripeError::Config("Stripe-Version is not a header value".into()))?;
            headers.insert("Stripe-Version", value);
        }
        let http = http_builder()?
            .default_headers(headers)
            .user_agent(concat!("kustiq/", env!("CARGO_PKG_VERSION")))
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| StripeError::Config(format!("HTTP client: {e}")))?;
        let gates = Gates::new(
            config.live_rate,
            config.test_rate,
            config.endpoint_rate,
            config.max_in_flight,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                gates,
                counters: Counters::default(),
            }),
        })
    }

    /// A reader of one connected account.
    pub fn reader(&self, credentials: StripeCredentials) -> AccountReader {
        AccountReader::new(self.clone(), credentials)
    }

    /// The OAuth flows of the platform identified by `client_id` (`ca_…`),
    /// authenticated with the platform's secret key.
    pub fn oauth(&self, client_id: impl Into<String>, platform_key: Secret) -> StripeOAuth {
        StripeOAuth::new(
            self.inner.http.clone(),
            self.inner.config.clone(),
            client_id.into(),
            platform_key,
        )
    }

    /// The settings the client was built with.
    pub fn config(&self) -> &StripeConfig {
        &self.inner.config
    }

    /// Request counters since the client was built.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        }
    }

    /// The one request the API client can make: `GET` a read endpoint, paced
    /// by the account's gate, retried per the policy, decoded as `T`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        credentials: &StripeCredentials,
        path: &ReadPath,
        query: &[(&str, String)],
    ) -> Result<T, StripeError> {
        let inner = &*self.inner;
        let url = join(&inner.config.api_base, &path.to_path()?)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", credentials.secret().expose()))
            .map_err(|_| StripeError::Config("the Stripe key is not a header value".into()))?;
        auth.set_sensitive(true);
        let gate = inner
            .gates
            .gate(&credentials.limiter_key(), credentials.mode());
        let policy = inner.config.retry;

        let mut attempt = 0;
        loop {
            attempt += 1;
            let (failure, error) = {
                let _permit = gate.admit(path.endpoint()).await?;
                let mut request = inner
                    .http
                    .get(url.clone())
                    .header(AUTHORIZATION, auth.clone());
                if let Some(account) = credentials.stripe_account_header() {
                    request = request.header("Stripe-Account", account);
                }
                if !query.is_empty() {
                    request = request.query(query);
                }
                inner.counters.requests.fetch_add(1, Ordering::Relaxed);
                match request.send().await {
                    Err(e) => (Failure::default(), StripeError::Unavailable(describe(&e))),
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let header = |name: &str| {
                            response
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let failure = Failure {
                            status: Some(status),
                            should_retry: header("Stripe-Should-Retry")
                                .as_deref()
                                .and_then(parse_should_retry),
                            retry_after: header("Retry-After")
                                .as_deref()
                                .and_then(parse_retry_after),
                        };
                        match response.bytes().await {
                            Err(e) => (Failure::default(), StripeError::Unavailable(describe(&e))),
                            Ok(body) if (200..300).contains(&status) => {
                                return serde_json::from_slice(&body).map_err(|e| {
                                    StripeError::Decode(format!("{}: {e}", url.path()))
                                });
                            }
                            Ok(body) => {
                                if status == 429 {
                                    inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                                }
                                (
                                    failure,
                                    api_error(status, &body, attempt, failure.retry_after),
                                )
                            }
                        }
                    }
                }
            };
            match policy.verdict(attempt, failure) {
                Verdict::GiveUp => return Err(error),
                Verdict::Retry(wait) => {
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        path = url.path(),
                        attempt,
                        status = failure.status,
                        wait_ms = wait.as_millis() as u64,
                        "retrying Stripe read"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// A network failure without the URL (whose query could be long) or any header.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    };
    let mut msg = format!("{kind} error");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
