//! The composition root: each deployed function builds only the adapters its
//! routes or job need, once, at start, and runs. The local runner builds the
//! same groups on the embedded default (`kustiq-local`).

use crate::adapters::aws::{AwsTarget, sdk_config};
use crate::adapters::clock::SystemClock;
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::kms::KmsSealer;
use crate::adapters::runtime::{ConfigError, FunctionConfig, Secrets};
use crate::adapters::secrets::{CachedSecrets, SecretsManagerSource};
use crate::adapters::stripe::{Platform, PlatformSources, RetryPolicy, StripeClient, StripeConfig};
use crate::app::connect::{ConnectSettings, Connector, SealedReaders};
use crate::app::sync::worker::WorkerConfig;
use crate::domain::region::Region;
use crate::domain::time::Timestamp;
use crate::events_ingress::{EventSourceName, StripeEvents};
use crate::http::{
    ApiRoutes, ConnectRoutes, DisconnectRoutes, Router, Settings, SyncRoutes, WebhookRoutes,
};
use crate::ports::clock::Clock;
use crate::scheduled::{
    CredentialRotation, Job, JobError, NightlySync, RetrySweep, Tasks, task_of,
};
use futures::future::BoxFuture;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use std::time::Duration;

/// What every deployed function reads from its environment, with the AWS SDK configuration.
pub struct Aws {
    cfg: FunctionConfig,
    sdk: aws_config::SdkConfig,
}

impl Aws {
    /// Reads and checks the environment (region pinning included) and loads the SDK config.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let cfg = FunctionConfig::from_lookup(|name| std::env::var(name).ok())?;
        let sdk = sdk_config(&AwsTarget {
            region: cfg.aws_region.clone(),
            endpoint_url: None,
            static_test_credentials: false,
        })
        .await;
        Ok(Self { cfg, sdk })
    }

    /// The same from `cfg` against `endpoint` with dummy credentials: what the
    /// template and emulator tests build each function's routes from. Nothing is
    /// called until a request is served.
    pub async fn local(cfg: FunctionConfig, endpoint: &str) -> Self {
        let sdk = sdk_config(&AwsTarget::local(&cfg.aws_region, endpoint)).await;
        Self { cfg, sdk }
    }

    /// The table.
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.cfg.table.clone(),
        )
    }

    /// Secrets Manager behind a TTL cache.
    pub fn secrets(&self) -> Secrets {
        Secrets::Aws(CachedSecrets::new(
            SecretsManagerSource::new(&self.sdk, self.cfg.secrets_prefix.clone()),
            SystemClock,
            self.cfg.secrets_ttl_secs,
        ))
    }

    /// HTTP settings for this region.
    pub fn settings(&self) -> Settings {
        Settings::new(self.cfg.region)
    }

    /// The webhook's Stripe reads: one client over the platform key from Secrets Manager.
    pub fn catalog_sources(&self) -> Result<PlatformSources<Secrets>, Error> {
        let client = StripeClient::new(webhook_stripe_config(self.cfg.stripe_api_base.clone()))?;
        Ok(PlatformSources::new(client, self.secrets()))
    }
}

/// The Stripe client settings of the webhook path, at `api_base` (Stripe's when `None`).
/// Stripe waits 10 s for an answer and redelivers after a 5xx, so the reads that fill a
/// payload's gaps give up early — short timeouts, one retry — and let the redelivery
/// try again, instead of sleeping through Stripe's patience.
pub fn webhook_stripe_config(api_base: Option<url::Url>) -> StripeConfig {
    let defaults = StripeConfig::default();
    StripeConfig {
        api_base: api_base.unwrap_or(defaults.api_base.clone()),
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
        },
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        ..defaults
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The webhook function: `POST /webhooks/stripe` and, with `KUSTIQ_KMS_KEY_ID`
/// set, the restricted-key connections' own `POST /webhooks/stripe/c/{id}` and
/// catalog reads through each connection's own sealed credentials (without it,
/// through the platform key only).
pub fn webhook(aws: &Aws) -> Result<Router, Error> {
    let routes = WebhookRoutes::new(
        aws.store(),
        aws.secrets(),
        aws.catalog_sources()?,
        clock(),
        aws.settings(),
    );
    if env("KUSTIQ_KMS_KEY_ID").is_none_or(|v| v.is_empty()) {
        return Ok(Router::new().mount(routes));
    }
    // Catalog reads through each connection's own credentials.
    let client = StripeClient::new(webhook_stripe_config(aws.cfg.stripe_api_base.clone()))?;
    let client_id = env("KUSTIQ_STRIPE_CLIENT_ID").unwrap_or_default();
    let sources = SealedReaders {
        store: aws.store(),
        sealer: sealer(aws, &env)?,
        platform: Platform::new(client, client_id, aws.secrets()),
        clock: clock(),
    };
    Ok(Router::new().mount(
        WebhookRoutes::new(aws.store(), aws.secrets(), sources, clock(), aws.settings())
            .with_sealer(sealer(aws, &env)?),
    ))
}

/// The dashboard API function (sync and backfill only queue work for the sync function).
pub fn api(aws: &Aws) -> Result<Router, Error> {
    Ok(Router::new()
        .mount(ApiRoutes {
            store: aws.store(),
            secrets: aws.secrets(),
            clock: clock(),
            settings: aws.settings(),
        })
        .mount(SyncRoutes {
            store: aws.store(),
            secrets: aws.secrets(),
            clock: clock(),
            settings: aws.settings(),
        }))
}

/// The Stripe platform of the connect and disconnect functions: the Connect /
/// App client id `KUSTIQ_STRIPE_CLIENT_ID`, the API at `KUSTIQ_STRIPE_API_BASE`
/// and Connect OAuth at `KUSTIQ_STRIPE_CONNECT_BASE` (Stripe's when unset).
fn platform(
    aws: &Aws,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Platform<Secrets>, Error> {
    let mut config = StripeConfig::default();
    if let Some(base) = &aws.cfg.stripe_api_base {
        config.api_base = base.clone();
    }
    if let Some(base) = lookup("KUSTIQ_STRIPE_CONNECT_BASE").filter(|v| !v.is_empty()) {
        let api = config.api_base.to_string();
        config = config.with_bases(&api, &base)?;
    }
    let client_id = lookup("KUSTIQ_STRIPE_CLIENT_ID")
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing("KUSTIQ_STRIPE_CLIENT_ID"))?;
    Ok(Platform::new(
        StripeClient::new(config)?,
        client_id,
        aws.secrets(),
    ))
}

/// The region's KMS key (`KUSTIQ_KMS_KEY_ID`, optional `KUSTIQ_KMS_KEY_VERSION`).
fn sealer(aws: &Aws, lookup: &dyn Fn(&str) -> Option<String>) -> Result<KmsSealer, Error> {
    let key = lookup("KUSTIQ_KMS_KEY_ID")
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing("KUSTIQ_KMS_KEY_ID"))?;
    let version = match lookup("KUSTIQ_KMS_KEY_VERSION").filter(|v| !v.is_empty()) {
        None => 1,
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            name: "KUSTIQ_KMS_KEY_VERSION",
            reason: format!("{v:?} is not a positive number"),
        })?,
    };
    Ok(KmsSealer::new(&aws.sdk, key).with_key_version(version))
}

/// What the operator offers: `KUSTIQ_PUBLIC_URL` (required: OAuth redirect URIs),
/// `KUSTIQ_CONNECT_METHODS` (`connect,app,api_key` by default) and
/// `KUSTIQ_ALLOW_SECRET_KEY` (`true` to accept `sk_…` keys; default refused).
pub fn connect_settings(
    lookup: &dyn Fn(&str) -> Option<String>,
    region: Region,
) -> Result<ConnectSettings, ConfigError> {
    let raw = lookup("KUSTIQ_PUBLIC_URL")
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing("KUSTIQ_PUBLIC_URL"))?;
    let url = url::Url::parse(&raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ConfigError::Invalid {
            name: "KUSTIQ_PUBLIC_URL",
            reason: format!("{raw:?} is not an http(s) URL"),
        })?;
    let mut settings = ConnectSettings::new(url, region);
    if let Some(m) = lookup("KUSTIQ_CONNECT_METHODS").filter(|v| !v.is_empty()) {
        settings.methods =
            ConnectSettings::parse_methods(&m).map_err(|reason| ConfigError::Invalid {
                name: "KUSTIQ_CONNECT_METHODS",
                reason,
            })?;
    }
    settings.allow_secret_key = match lookup("KUSTIQ_ALLOW_SECRET_KEY").as_deref() {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "KUSTIQ_ALLOW_SECRET_KEY",
                reason: format!("{other:?} is not true or false"),
            });
        }
    };
    Ok(settings)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The OAuth connect and callback function: connect, callback, restricted key,
/// webhook secrets.
pub fn connect(aws: &Aws) -> Result<Router, Error> {
    let settings = connect_settings(&env, aws.cfg.region)?;
    Ok(Router::new().mount(ConnectRoutes {
        connector: Connector {
            store: aws.store(),
            secrets: aws.secrets(),
            sealer: sealer(aws, &env)?,
            platform: platform(aws, &env)?,
            settings,
        },
        clock: clock(),
        settings: aws.settings(),
    }))
}

/// The disconnect and erase function.
pub fn disconnect(aws: &Aws) -> Result<Router, Error> {
    Ok(Router::new().mount(DisconnectRoutes {
        store: aws.store(),
        platform: platform(aws, &env)?,
        clock: clock(),
        settings: aws.settings(),
    }))
}

/// The credential job (every 6 hours; see [`CredentialRotation`]): the region's
/// KMS key and the Stripe platform, as the connect function reads them.
pub fn credential_rotation(
    aws: &Aws,
) -> Result<CredentialRotation<DynamoStore, KmsSealer, Platform<Secrets>>, Error> {
    Ok(CredentialRotation {
        readers: sealed_readers(aws)?,
    })
}

/// The events function: Stripe's Amazon EventBridge destination into the same
/// ingest as the webhook, with the same Stripe reads. Its partner event source is
/// `KUSTIQ_STRIPE_EVENT_SOURCE`.
pub fn stripe_events(
    aws: &Aws,
) -> Result<StripeEvents<DynamoStore, PlatformSources<Secrets>>, Error> {
    let source = std::env::var("KUSTIQ_STRIPE_EVENT_SOURCE").unwrap_or_default();
    Ok(StripeEvents {
        store: aws.store(),
        sources: aws.catalog_sources()?,
        engine: aws.settings().engine,
        source: EventSourceName::parse(&source)?,
    })
}

/// The retry sweep (scoring function, every minute).
pub fn retry_sweep(aws: &Aws) -> Result<RetrySweep<DynamoStore>, Error> {
    Ok(RetrySweep {
        store: aws.store(),
        engine: aws.settings().engine,
    })
}

/// Readers over each connection's sealed credentials, at Stripe's published limits.
fn sealed_readers(
    aws: &Aws,
) -> Result<SealedReaders<DynamoStore, KmsSealer, Platform<Secrets>>, Error> {
    Ok(SealedReaders {
        store: aws.store(),
        sealer: sealer(aws, &env)?,
        platform: platform(aws, &env)?,
        clock: clock(),
    })
}

/// The sync function's tasks: `nightly-sync` (05:45 UTC) and `backfill-continue` (every
/// few minutes) run the same worker — nightly once a day, then due backfills and
/// syncs in a chunk — and `rotate-credentials` (every 6 hours) the credential job.
pub struct SyncFunction {
    /// Nightly sync, backfills and sync-now.
    pub sync: NightlySync<DynamoStore, SealedReaders<DynamoStore, KmsSealer, Platform<Secrets>>>,
    /// Apps token refresh and re-sealing.
    pub rotation: CredentialRotation<DynamoStore, KmsSealer, Platform<Secrets>>,
}

impl Tasks for SyncFunction {
    fn names(&self) -> &'static [&'static str] {
        &["nightly-sync", "backfill-continue", "rotate-credentials"]
    }

    async fn run_task(&self, task: &str, now: Timestamp) -> Result<serde_json::Value, JobError> {
        match task {
            "nightly-sync" | "backfill-continue" => self.sync.run(now).await,
            "rotate-credentials" => self.rotation.run(now).await,
            other => Err(JobError::unknown_task(self.names(), other)),
        }
    }
}

/// The sync function.
pub fn sync_function(aws: &Aws) -> Result<SyncFunction, Error> {
    Ok(SyncFunction {
        sync: NightlySync {
            store: aws.store(),
            readers: sealed_readers(aws)?,
            engine: aws.settings().engine,
            config: WorkerConfig::lambda(),
        },
        rotation: credential_rotation(aws)?,
    })
}

/// The scoring function's tasks: `retry-sweep` (every minute).
pub struct ScoringFunction {
    /// Re-runs due recorded events.
    pub retry: RetrySweep<DynamoStore>,
}

impl Tasks for ScoringFunction {
    fn names(&self) -> &'static [&'static str] {
        &["retry-sweep"]
    }

    async fn run_task(&self, task: &str, now: Timestamp) -> Result<serde_json::Value, JobError> {
        match task {
            "retry-sweep" => self.retry.run(now).await,
            other => Err(JobError::unknown_task(self.names(), other)),
        }
    }
}

/// The scoring function.
pub fn scoring_function(aws: &Aws) -> Result<ScoringFunction, Error> {
    Ok(ScoringFunction {
        retry: retry_sweep(aws)?,
    })
}

/// Runs an HTTP function: telemetry, configuration, its router built once,
/// then the Lambda loop.
pub async fn run_http(build: fn(&Aws) -> Result<Router, Error>) -> Result<(), Error> {
    crate::telemetry::init();
    let aws = Aws::from_env().await?;
    let router = build(&aws)?;
    let router = &router;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(router.handle(req).await)
    }))
    .await
}

/// Runs a scheduled function: telemetry, configuration, its job built once,
/// then the Lambda loop. Each invocation names its task (the schedule's
/// `{"kustiq_task": …}` input); a task this function does not run fails loudly
/// instead of running another job, and a failed run is a Lambda error with a
/// retryable kind.
pub async fn run_tasks<T: Tasks + 'static>(
    build: fn(&Aws) -> Result<T, Error>,
) -> Result<(), Error> {
    crate::telemetry::init();
    let aws = Aws::from_env().await?;
    let job = build(&aws)?;
    let job = &job;
    let clock = SystemClock;
    let clock = &clock;
    // Boxed: the sync worker's future is too deep to lay out inline in `main`.
    lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| {
        let run: BoxFuture<'_, _> =
            Box::pin(async move { job.run_task(task_of(&e.payload), clock.now()).await });
        run
    }))
    .await
}

/// Runs the events function: telemetry, configuration, its handler built once,
/// then the Lambda loop; a failed delivery is a Lambda error with a retryable kind.
pub async fn run_stripe_events() -> Result<(), Error> {
    crate::telemetry::init();
    let aws = Aws::from_env().await?;
    let events = stripe_events(&aws)?;
    let events = &events;
    let clock = SystemClock;
    let clock = &clock;
    // Boxed: the ingest future is too deep for the compiler to lay out inline in `main`.
    lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| {
        let run: BoxFuture<'_, _> = Box::pin(events.receive(e.payload, clock.now()));
        run
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stripe_read_on_the_webhook_path_gives_up_inside_the_function_timeout() {
        // infra/template.yaml gives the webhook function 9 s (Stripe waits 10 s).
        let c = webhook_stripe_config(None);
        let attempts = c.retry.max_attempts;
        let worst = c.request_timeout * attempts + c.retry.max_delay * (attempts - 1);
        assert!(worst < Duration::from_secs(9), "{worst:?}");
        assert_eq!(c.api_base.as_str(), "https://api.stripe.com/");
        let sim = url::Url::parse("http://127.0.0.1:12111").ok();
        assert_eq!(
            webhook_stripe_config(sim.clone()).api_base,
            sim.unwrap_or(c.api_base)
        );
    }
}
