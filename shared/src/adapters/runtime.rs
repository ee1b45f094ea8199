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

/// What a deployed function reads from its environment, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// The workspace region this deployment serves.
    pub region: crate::domain::region::Region,
    /// The AWS region it runs in (equal to `region.aws_region()`).
    pub aws_region: String,
    /// The table.
    pub table: String,
    /// Secrets Manager name prefix.
    pub secrets_prefix: String,
    /// Secret cache lifetime.
    pub secrets_ttl_secs: i64,
    /// Where the Stripe API is, when not Stripe's own (`KUSTIQ_STRIPE_API_BASE`: the
    /// simulator in tests and local runs); `None` is `https://api.stripe.com`.
    pub stripe_api_base: Option<url::Url>,
}

impl FunctionConfig {
    /// Parses `KUSTIQ_REGION` (eu|us; must match `AWS_REGION` — region pinning:
    /// an EU deployment refuses to start outside eu-central-1), `KUSTIQ_TABLE`,
    /// `KUSTIQ_SECRETS_PREFIX` and optional `KUSTIQ_SECRETS_TTL_SECS` and
    /// `KUSTIQ_STRIPE_API_BASE` (an http(s) URL) from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        use crate::domain::region::Region;
        let var = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
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
        let secrets_ttl_secs =
            match lookup("KUSTIQ_SECRETS_TTL_SECS").filter(|v| !v.is_empty()) {
                Some(v) => v.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "KUSTIQ_SECRETS_TTL_SECS",
                        reason: format!("{v:?} is not a number of seconds"),
                    }
                })?,
                None => SECRET_CACHE_TTL_SECS,
            };
        let stripe_api_base = match lookup("KUSTIQ_STRIPE_API_BASE").filter(|v| !v.is_empty()) {
            Some(v) => Some(
                url::Url::parse(&v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "KUSTIQ_STRIPE_API_BASE",
                        reason: format!("{v:?} is not an http(s) URL"),
                    })?,
            ),
            None => None,
        };
        Ok(Self {
            region,
            aws_region,
            table: var("KUSTIQ_TABLE")?,
            secrets_prefix: var("KUSTIQ_SECRETS_PREFIX")?,
            secrets_ttl_secs,
            stripe_api_base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::region::Region;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const BASE: [(&str, &str); 3] = [
        ("KUSTIQ_TABLE", "kustiq-prod-main"),
        ("KUSTIQ_SECRETS_PREFIX", "kustiq/prod/eu/"),
        ("KUSTIQ_REGION", "eu"),
    ];

    #[test]
    fn an_eu_deployment_runs_only_in_eu_central_1() {
        let ok = FunctionConfig::from_lookup(lookup(&[
            BASE[0],
            BASE[1],
            BASE[2],
            ("AWS_REGION", "eu-central-1"),
        ]));
        assert_eq!(
            ok.map(|c| (c.region, c.secrets_ttl_secs)).ok(),
            Some((Region::Eu, SECRET_CACHE_TTL_SECS))
        );
        let wrong = FunctionConfig::from_lookup(lookup(&[
            BASE[0],
            BASE[1],
            BASE[2],
            ("AWS_REGION", "us-east-1"),
        ]));
        assert!(
            matches!(
                wrong,
                Err(ConfigError::Invalid {
                    name: "AWS_REGION",
                    ..
                })
            ),
            "{wrong:?}"
        );
    }

    #[test]
    fn a_us_deployment_runs_only_in_us_east_1() {
        let us = [
            BASE[0],
            BASE[1],
            ("KUSTIQ_REGION", "us"),
            ("AWS_REGION", "eu-central-1"),
        ];
        assert!(FunctionConfig::from_lookup(lookup(&us)).is_err());
        let us = [
            BASE[0],
            BASE[1],
            ("KUSTIQ_REGION", "us"),
            ("AWS_REGION", "us-east-1"),
        ];
        assert_eq!(
            FunctionConfig::from_lookup(lookup(&us))
                .map(|c| c.region)
                .ok(),
            Some(Region::Us)
        );
    }

    #[test]
    fn the_stripe_api_base_is_stripe_s_unless_an_http_url_is_set() {
        let with = |base: &str| {
            FunctionConfig::from_lookup(lookup(&[
                BASE[0],
                BASE[1],
                BASE[2],
                ("AWS_REGION", "eu-central-1"),
                ("KUSTIQ_STRIPE_API_BASE", base),
            ]))
        };
        assert_eq!(with("").map(|c| c.stripe_api_base).ok(), Some(None));
        assert_eq!(
            with("http://127.0.0.1:12111")
                .ok()
                .and_then(|c| c.stripe_api_base)
                .map(|u| u.to_string()),
            Some("http://127.0.0.1:12111/".to_owned())
        );
        for bad in ["api.stripe.com", "ftp://api.stripe.com"] {
            assert!(
                matches!(
                    with(bad),
                    Err(ConfigError::Invalid {
                        name: "KUSTIQ_STRIPE_API_BASE",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_or_bad_settings_are_named() {
        let none = FunctionConfig::from_lookup(lookup(&[("AWS_REGION", "eu-central-1")]));
        assert!(
            matches!(none, Err(ConfigError::Missing("KUSTIQ_REGION"))),
            "{none:?}"
        );
        let bad_ttl = [
            BASE[0],
            BASE[1],
            BASE[2],
            ("AWS_REGION", "eu-central-1"),
            ("KUSTIQ_SECRETS_TTL_SECS", "soon"),
        ];
        assert!(matches!(
            FunctionConfig::from_lookup(lookup(&bad_ttl)),
            Err(ConfigError::Invalid {
                name: "KUSTIQ_SECRETS_TTL_SECS",
                ..
            })
        ));
        let no_table = [BASE[1], BASE[2], ("AWS_REGION", "eu-central-1")];
        assert!(matches!(
            FunctionConfig::from_lookup(lookup(&no_table)),
            Err(ConfigError::Missing("KUSTIQ_TABLE"))
        ));
    }
}
