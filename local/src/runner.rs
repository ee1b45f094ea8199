//! Builds the app on the embedded default: dynoxide under the data dir, the
//! local key file, secrets from `KUSTIQ_*` environment variables.

use crate::embedded::{EmbeddedDynamo, EmbeddedError};
use crate::token::TokenKey;
use kustiq::adapters::aws::AwsTarget;
use kustiq::adapters::clock::SystemClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::runtime::Secrets;
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::http::{ApiRoutes, Router, Settings, WebhookRoutes};
use kustiq::ports::clock::Clock;
use kustiq::ports::keys::KeyError;
use kustiq::ports::secrets::SecretName;
use kustiq::ports::store::StoreError;
use std::path::Path;
use std::sync::Arc;

/// The local table's name.
pub const LOCAL_TABLE: &str = "kustiq-local";

/// Starting the local runner failed.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The embedded engine did not start.
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    /// The table could not be created.
    #[error("embedded store: {0}")]
    Store(#[from] StoreError),
    /// The key file is unusable.
    #[error("local key file: {0}")]
    Keys(#[from] KeyError),
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
}

/// A running local stack: keep it alive while serving.
pub struct LocalStack {
    /// The embedded engine.
    pub engine: EmbeddedDynamo,
    /// Every route group, on the embedded store.
    pub router: Router,
    /// The store (the retry loop runs on it).
    pub store: DynamoStore,
    /// Settings shared by the groups.
    pub settings: Settings,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// The bearer-token key.
    pub tokens: TokenKey,
}

/// The region from `KUSTIQ_REGION` (default eu).
pub fn region_from_env() -> Result<Region, RunnerError> {
    match std::env::var("KUSTIQ_REGION") {
        Ok(r) if !r.is_empty() => Region::parse(&r).map_err(|e| RunnerError::Config(e.to_string())),
        _ => Ok(Region::Eu),
    }
}

/// Secrets from `KUSTIQ_*` variables; the cursor key defaults to a fresh
/// random key per run (cursors of an earlier run are refused as invalid).
fn secrets(cursor_key: &Secret) -> Secrets {
    Secrets::Env(
        EnvSecrets::from_env().with_default(SecretName::API_CURSOR_KEY, cursor_key.clone()),
    )
}

/// Starts the embedded engine with its file under `data_dir` and builds the app.
pub async fn start(data_dir: &Path, region: Region) -> Result<LocalStack, RunnerError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| RunnerError::Config(format!("data dir {}: {e}", data_dir.display())))?;
    let engine = EmbeddedDynamo::start_file(&data_dir.join("kustiq.sqlite")).await?;
    let store = DynamoStore::connect(
        &AwsTarget::local(region.aws_region(), &engine.endpoint()),
        LOCAL_TABLE,
    )
    .await;
    store.ensure_table().await?;
    let tokens = TokenKey::load_or_create(data_dir)?;
    let settings = Settings::new(region);
    let cursor_key = kustiq::adapters::kms::random_secret()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let router = Router::new()
        .mount(WebhookRoutes::new(
            store.clone(),
            secrets(&cursor_key),
            clock.clone(),
            settings.clone(),
        ))
        .mount(ApiRoutes {
            store: store.clone(),
            secrets: secrets(&cursor_key),
            clock: clock.clone(),
            settings: settings.clone(),
        });
    Ok(LocalStack {
        engine,
        router,
        store,
        settings,
        clock,
        tokens,
    })
}
