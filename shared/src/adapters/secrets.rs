//! Secrets from AWS Secrets Manager, and a TTL cache in front of any
//! [`SecretSource`].
//!
//! In a Lambda: `CachedSecrets::new(SecretsManagerSource::new(&config, "kustiq/prod/"), SystemClock, ttl)`,
//! built once at init. The cache keeps each value for `ttl` seconds of the
//! [`Clock`], so a rotated secret is picked up within one TTL; concurrent
//! callers for the same name wait for one fetch instead of stampeding.

use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::ports::clock::Clock;
use crate::ports::secrets::{SecretError, SecretName, SecretSource};
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Reads secret `<prefix><name>` with `GetSecretValue` (the `AWSCURRENT` version).
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl SecretsManagerSource {
    /// A source for the region and endpoint of `config`; secret ids are
    /// `prefix` followed by the logical name (e.g. `kustiq/prod/stripe-webhook-secret`).
    pub fn new(config: &SdkConfig, prefix: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(config),
            prefix: prefix.into(),
        }
    }

    /// The Secrets Manager id for `name`.
    pub fn secret_id(&self, name: &SecretName) -> String {
        format!("{}{}", self.prefix, name)
    }
}

impl SecretSource for SecretsManagerSource {
    async fn get(&self, name: &SecretName) -> Result<Secret, SecretError> {
        let mut out = self
            .client
            .get_secret_value()
            .secret_id(self.secret_id(name))
            .send()
            .await
            .map_err(|e| sm_error(e, name))?;
        let invalid = |reason: &str| SecretError::Invalid {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        let value = match (out.secret_string.take(), out.secret_binary.take()) {
            (Some(s), _) => s,
            (None, Some(b)) => String::from_utf8(b.into_inner())
                .map_err(|_| invalid("binary value is not UTF-8"))?,
            (None, None) => return Err(invalid("no value")),
        };
        if value.trim().is_empty() {
            return Err(invalid("empty value"));
        }
        Ok(Secret::new(value))
    }
}

fn sm_error<E, R>(err: SdkError<E, R>, name: &SecretName) -> SecretError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = match &err {
        SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
        _ => None,
    };
    match code.as_deref() {
        Some("ResourceNotFoundException") => SecretError::NotFound(name.clone()),
        // Also answered for a secret scheduled for deletion, or access denied.
        Some("InvalidRequestException" | "InvalidParameterException" | "AccessDeniedException") => {
            SecretError::Invalid {
                name: name.clone(),
                reason: DisplayErrorContext(&err).to_string(),
            }
        }
        _ => SecretError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

/// A cached value and when it was fetched.
#[derive(Clone)]
struct Entry {
    value: Secret,
    fetched_at: Timestamp,
}

/// One lock per name: a fetch for one name never waits on another.
type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

/// A TTL cache over another [`SecretSource`].
///
/// A value is served from memory until `ttl_secs` have passed on the clock
/// since it was fetched. Errors are not cached. When a refresh fails with
/// [`SecretError::Unavailable`] and an older value is held, the older value is
/// served (a Secrets Manager outage should not stop webhooks) and the next
/// call tries again.
pub struct CachedSecrets<S, C> {
    inner: S,
    clock: C,
    ttl_secs: i64,
    slots: Mutex<HashMap<SecretName, Slot>>,
}

impl<S, C> std::fmt::Debug for CachedSecrets<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSecrets")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl<S: SecretSource, C: Clock> CachedSecrets<S, C> {
    /// Caches `inner` for `ttl_secs` seconds of `clock`.
    pub fn new(inner: S, clock: C, ttl_secs: i64) -> Self {
        Self {
            inner,
            clock,
            ttl_secs,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, name: &SecretName) -> Slot {
        // A poisoned map is still a valid map: entries are only ever inserted.
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(name.clone()).or_default().clone()
    }
}

impl<S: SecretSource, C: Clock> SecretSource for CachedSecrets<S, C> {
    async fn get(&self, name: &SecretName) -> Result<Secret, SecretError> {
        let slot = self.slot(name);
        let mut entry = slot.lock().await;
        let now = self.clock.now();
        if let Some(cached) = entry.as_ref()
            && now.secs_since(cached.fetched_at) < self.ttl_secs
        {
            return Ok(cached.value.clone());
        }
        match self.inner.get(name).await {
            Ok(value) => {
                *entry = Some(Entry {
                    value: value.clone(),
                    fetched_at: now,
                });
                Ok(value)
            }
            Err(SecretError::Unavailable(reason)) => match entry.as_ref() {
                Some(stale) => {
                    tracing::warn!(secret = %name, %reason, "secret refresh failed; serving the cached value");
                    Ok(stale.value.clone())
                }
                None => Err(SecretError::Unavailable(reason)),
            },
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source whose value and failure the test sets, counting calls.
    #[derive(Default)]
    struct Fake {
        value: Mutex<String>,
        fail: Mutex<Option<SecretError>>,
        calls: AtomicUsize,
    }

    impl Fake {
        fn set(&self, v: &str) {
            *self.value.lock().unwrap() = v.to_owned();
        }
        fn fail_with(&self, e: Option<SecretError>) {
            *self.fail.lock().unwrap() = e;
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl SecretSource for Arc<Fake> {
        async fn get(&self, _name: &SecretName) -> Result<Secret, SecretError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            // Let concurrent callers pile up while this fetch is in flight.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if let Some(e) = self.fail.lock().unwrap().clone() {
                return Err(e);
            }
            Ok(Secret::new(self.value.lock().unwrap().clone()))
        }
    }

    fn setup(
        ttl: i64,
    ) -> (
        Arc<Fake>,
        ManualClock,
        CachedSecrets<Arc<Fake>, ManualClock>,
    ) {
        let fake = Arc::new(Fake::default());
        fake.set("v1");
        let clock = ManualClock::at(Timestamp::from_unix(1_700_000_000));
        let cache = CachedSecrets::new(fake.clone(), clock.clone(), ttl);
        (fake, clock, cache)
    }

    const NAME: SecretName = SecretName::STRIPE_WEBHOOK_SECRET;

    #[tokio::test]
    async fn values_are_served_from_cache_until_the_ttl_passes() {
        let (fake, clock, cache) = setup(300);
        assert_eq!(cache.get(&NAME).await.unwrap().expose(), "v1");
        fake.set("v2");
        clock.advance(299);
        assert_eq!(cache.get(&NAME).await.unwrap().expose(), "v1");
        assert_eq!(fake.calls(), 1);
        clock.advance(1);
        assert_eq!(cache.get(&NAME).await.unwrap().expose(), "v2");
        assert_eq!(fake.calls(), 2);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let (fake, _clock, cache) = setup(300);
        let results = futures::future::join_all((0..16).map(|_| cache.get(&NAME))).await;
        assert!(results.iter().all(|r| r.as_ref().unwrap().expose() == "v1"));
        assert_eq!(fake.calls(), 1);
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_outages_serve_the_stale_value() {
        let (fake, clock, cache) = setup(60);
        fake.fail_with(Some(SecretError::Unavailable("down".into())));
        assert!(matches!(
            cache.get(&NAME).await,
            Err(SecretError::Unavailable(_))
        ));
        fake.fail_with(None);
        assert_eq!(cache.get(&NAME).await.unwrap().expose(), "v1");

        clock.advance(61);
        fake.fail_with(Some(SecretError::Unavailable("down".into())));
        assert_eq!(cache.get(&NAME).await.unwrap().expose(), "v1");
        fake.fail_with(Some(SecretError::NotFound(NAME)));
        assert_eq!(
            cache.get(&NAME).await.unwrap_err(),
            SecretError::NotFound(NAME)
        );
        fake.fail_with(None);
        fake.set("v2");
        assert_eq!(cache.get(&NAME).await.unwrap().expose(), "v2");
    }
}
