//! The concrete adapter set a process runs with: AWS in Lambda, the embedded
//! default locally. Enums rather than trait objects, because the ports return
//! `impl Future`.

use crate::adapters::clock::SystemClock;
use crate::adapters::local::secrets::EnvSecrets;
use crate::adapters::secrets::{CachedSecrets, SecretsManagerSource};
use crate::domain::secret::Secret;
use crate::ports::secrets::{SecretError, SecretName, SecretSource};

/// Secrets Manager values are re-read after this many seconds, so a rotated
/// webhook secret is picked up within five minutes.
pub const SECRET_CACHE_TTL_SECS: i64 = 300;

/// Where secrets come from in this process.
#[derive(Debug)]
pub enum Secrets {
    /// Environment variables (local runner, tests).
    Env(EnvSecrets),
    /// AWS Secrets Manager, cached.
    Aws(CachedSecrets<SecretsManagerSource, SystemClock>),
}

impl SecretSource for Secrets {
    async fn get(&self, name: &SecretName) -> Result<Secret, SecretError> {
        match self {
            Self::Env(s) => s.get(name).await,
            Self::Aws(s) => s.get(name).await,
        }
    }
}

/// A deployed function's configuration was missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable has a bad value.
    #[error("environment variable {name}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

fn var(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// Builds the app a deployed function runs with, once per container:
/// `KUSTIQ_REGION` (eu|us) must match the Lambda's `AWS_REGION` (region
/// pinning: an EU deployment refuses to start outside eu-central-1),
/// `KUSTIQ_TABLE`, `KUSTIQ_SECRETS_PREFIX`, optional `KUSTIQ_SECRETS_TTL_SECS`.
pub async fn aws_app_from_env() -> Result<crate::http::App, ConfigError> {
    use crate::adapters::aws::{AwsTarget, sdk_config};
    use crate::domain::region::Region;
    let region = Region::parse(&var("KUSTIQ_REGION")?).map_err(|e| ConfigError::Invalid {
        name: "KUSTIQ_REGION",
        reason: e.to_string(),
    })?;
    let aws_region = var("AWS_REGION")?;
    if aws_region != region.aws_region() {
        return Err(ConfigError::Invalid {
            name: "AWS_REGION",
            reason: format!(
                "{region} workspaces live only in {}, not {aws_region}",
                region.aws_region()
            ),
        });
    }
    let ttl = match std::env::var("KUSTIQ_SECRETS_TTL_SECS") {
        Ok(v) => v.parse::<i64>().map_err(|e| ConfigError::Invalid {
            name: "KUSTIQ_SECRETS_TTL_SECS",
            reason: e.to_string(),
        })?,
        Err(_) => SECRET_CACHE_TTL_SECS,
    };
    let config = sdk_config(&AwsTarget {
        region: aws_region,
        endpoint_url: None,
        static_test_credentials: false,
    })
    .await;
    let store = crate::adapters::dynamo::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        var("KUSTIQ_TABLE")?,
    );
    let secrets = Secrets::Aws(CachedSecrets::new(
        SecretsManagerSource::new(&config, var("KUSTIQ_SECRETS_PREFIX")?),
        SystemClock,
        ttl,
    ));
    Ok(crate::http::App {
        store,
        secrets,
        clock: std::sync::Arc::new(SystemClock),
        settings: crate::http::Settings::new(region),
    })
}
