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
