//! The composition root: each deployed function builds only the adapters its
//! routes or job need, once, at start, and runs. The local runner builds the
//! same groups on the embedded default (`kustiq-local`).

use crate::adapters::aws::{AwsTarget, sdk_config};
use crate::adapters::clock::SystemClock;
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::kms::KmsSealer;
use crate::adapters::outbound::{HttpSender, SendTimeouts};
use crate::adapters::runtime::{ConfigError, FunctionConfig, Secrets};
use crate::adapters::secrets::{CachedSecrets, SecretsManagerSource};
use crate::adapters::stripe::{PlatformSources, RetryPolicy, StripeClient, StripeConfig};
use crate::app::outbound::deliver::Backoff;
use crate::app::outbound::target::TargetPolicy;
use crate::http::{ApiRoutes, OutboundRoutes, Router, Settings, WebhookRoutes};
use crate::ports::clock::Clock;
use crate::scheduled::{Job, NightlySync, OutboundDelivery, RetrySweep};
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

    /// The region's KMS key (`KUSTIQ_KMS_KEY_ID`): seals endpoint signing secrets.
    /// Unset, every seal and open fails as misconfigured (and says so in the logs).
    pub fn sealer(&self) -> KmsSealer {
        let key = std::env::var("KUSTIQ_KMS_KEY_ID").unwrap_or_default();
        if key.is_empty() {
            tracing::error!(
                "KUSTIQ_KMS_KEY_ID is not set: webhook endpoint secrets cannot be sealed"
            );
        }
        KmsSealer::new(&self.sdk, key)
    }

    /// The outbound events' HTTP sender: public `https` endpoints only.
    pub fn outbound_sender(&self) -> Result<HttpSender, Error> {
        Ok(HttpSender::new(TargetPolicy::AWS, SendTimeouts::default())?)
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

/// The webhook function: `POST /webhooks/stripe` and nothing else.
pub fn webhook(aws: &Aws) -> Result<Router, Error> {
    Ok(Router::new().mount(WebhookRoutes::new(
        aws.store(),
        aws.secrets(),
        aws.catalog_sources()?,
        clock(),
        aws.settings(),
    )))
}

/// The dashboard API function (the webhook-endpoints routes included).
pub fn api(aws: &Aws) -> Result<Router, Error> {
    Ok(Router::new()
        .mount(ApiRoutes {
            store: aws.store(),
            secrets: aws.secrets(),
            clock: clock(),
            settings: aws.settings(),
        })
        .mount(OutboundRoutes {
            store: aws.store(),
            sealer: aws.sealer(),
            sender: aws.outbound_sender()?,
            clock: clock(),
            settings: aws.settings(),
        }))
}

/// The OAuth connect and callback function. Its routes land with the connect
/// issue; until then it serves none (every request is a 404).
pub fn connect(_aws: &Aws) -> Result<Router, Error> {
    Ok(Router::new())
}

/// The disconnect and erase function. Its routes land with the connect issue;
/// until then it serves none (every request is a 404).
pub fn disconnect(_aws: &Aws) -> Result<Router, Error> {
    Ok(Router::new())
}

/// The retry sweep (scoring function, every minute).
pub fn retry_sweep(aws: &Aws) -> RetrySweep<DynamoStore> {
    RetrySweep {
        store: aws.store(),
        engine: aws.settings().engine,
    }
}

/// The outbound delivery function (every minute).
pub fn outbound_delivery(
    aws: &Aws,
) -> Result<OutboundDelivery<DynamoStore, KmsSealer, HttpSender>, Error> {
    Ok(OutboundDelivery {
        store: aws.store(),
        sealer: aws.sealer(),
        sender: aws.outbound_sender()?,
        backoff: Backoff::default(),
    })
}

/// The nightly sync function.
pub fn nightly_sync(_aws: &Aws) -> NightlySync {
    NightlySync
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
/// then the Lambda loop; a failed run is a Lambda error with a retryable kind.
pub async fn run_job<J: Job + 'static>(build: fn(&Aws) -> J) -> Result<(), Error> {
    crate::telemetry::init();
    let aws = Aws::from_env().await?;
    serve_job(build(&aws)).await
}

/// [`run_job`] for a job whose construction can fail (a client that must build).
pub async fn run_fallible_job<J: Job + 'static>(
    build: fn(&Aws) -> Result<J, Error>,
) -> Result<(), Error> {
    crate::telemetry::init();
    let aws = Aws::from_env().await?;
    serve_job(build(&aws)?).await
}

async fn serve_job<J: Job + 'static>(job: J) -> Result<(), Error> {
    let job = &job;
    let clock = SystemClock;
    let clock = &clock;
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move { job.run(clock.now()).await },
    ))
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
