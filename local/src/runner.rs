//! Builds the app on the embedded default: dynoxide in-process on a file in
//! the data dir, the local key files, secrets from `KUSTIQ_*` environment
//! variables. The data dir and every file in it are owner-only.

use crate::embedded::{EmbeddedDynamo, EmbeddedError};
use crate::files;
use crate::token::TokenKey;
use kustiq::adapters::clock::SystemClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{PlatformReaders, PlatformSources, StripeClient, StripeConfig};
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::http::{ApiRoutes, Router, Settings, SyncRoutes, WebhookRoutes};
use kustiq::ports::clock::Clock;
use kustiq::ports::keys::KeyError;
use kustiq::ports::secrets::SecretName;
use kustiq::ports::store::StoreError;
use std::path::Path;
use std::sync::Arc;

/// The local table's name.
pub const LOCAL_TABLE: &str = "kustiq-local";

/// The store's SQLite file in the data dir (SQLite adds `-wal` and `-shm`).
pub const STORE_FILE: &str = "kustiq.sqlite";

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
    /// The data dir or a file in it could not be created or made owner-only.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory or file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
}

fn data_dir_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunnerError + '_ {
    move |source| RunnerError::DataDir {
        path: path.display().to_string(),
        source,
    }
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
    /// The sync worker's Stripe reads (backfills, sync now, nightly).
    pub sync_readers: Arc<PlatformReaders<Secrets>>,
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

/// `KUSTIQ_STRIPE_API_BASE` (default Stripe's; point it at `stripe-sim`).
fn api_base() -> Result<Option<url::Url>, RunnerError> {
    match std::env::var("KUSTIQ_STRIPE_API_BASE") {
        Ok(b) if !b.is_empty() => {
            Ok(Some(url::Url::parse(&b).map_err(|e| {
                RunnerError::Config(format!("KUSTIQ_STRIPE_API_BASE {b:?}: {e}"))
            })?))
        }
        _ => Ok(None),
    }
}

/// The webhook's Stripe reads at [`api_base`] with the platform key
/// `KUSTIQ_STRIPE_PLATFORM_KEY` (default `sk_test_sim`).
fn catalog_sources(cursor_key: &Secret) -> Result<PlatformSources<Secrets>, RunnerError> {
    let client = StripeClient::new(kustiq::wiring::webhook_stripe_config(api_base()?))
        .map_err(|e| RunnerError::Config(e.to_string()))?;
    Ok(PlatformSources::new(client, secrets(cursor_key)))
}

/// The sync worker's Stripe reads at [`api_base`], at Stripe's published limits.
fn sync_readers(cursor_key: &Secret) -> Result<PlatformReaders<Secrets>, RunnerError> {
    let defaults = StripeConfig::default();
    let config = StripeConfig {
        api_base: api_base()?.unwrap_or(defaults.api_base.clone()),
        ..defaults
    };
    let client = StripeClient::new(config).map_err(|e| RunnerError::Config(e.to_string()))?;
    Ok(PlatformReaders::new(client, secrets(cursor_key)))
}

/// Opens the embedded engine on its file under `data_dir` and builds every route group.
pub async fn start(data_dir: &Path, region: Region) -> Result<LocalStack, RunnerError> {
    files::private_dir(data_dir).map_err(data_dir_error(data_dir))?;
    let db_file = data_dir.join(STORE_FILE);
    // Created 0600 before SQLite opens it, so SQLite's side files are 0600 too.
    files::private_file(&db_file).map_err(data_dir_error(&db_file))?;
    files::tighten_files(data_dir, STORE_FILE).map_err(data_dir_error(data_dir))?;
    let engine = EmbeddedDynamo::open_file(&db_file)?;
    let store = engine.store(region.aws_region(), LOCAL_TABLE);
    store.ensure_table().await?;
    let tokens = TokenKey::load_or_create(data_dir)?;
    let settings = Settings::new(region);
    let cursor_key = kustiq::adapters::kms::random_secret()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let router = Router::new()
        .mount(WebhookRoutes::new(
            store.clone(),
            secrets(&cursor_key),
            catalog_sources(&cursor_key)?,
            clock.clone(),
            settings.clone(),
        ))
        .mount(ApiRoutes {
            store: store.clone(),
            secrets: secrets(&cursor_key),
            clock: clock.clone(),
            settings: settings.clone(),
        })
        .mount(SyncRoutes {
            store: store.clone(),
            secrets: secrets(&cursor_key),
            clock: clock.clone(),
            settings: settings.clone(),
        });
    let sync_readers = Arc::new(sync_readers(&cursor_key)?);
    Ok(LocalStack {
        engine,
        router,
        store,
        settings,
        clock,
        tokens,
        sync_readers,
    })
}
