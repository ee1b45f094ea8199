//! Builds the app on the embedded default: dynoxide in-process on a file in
//! the data dir, the local key files, secrets from `KUSTIQ_*` environment
//! variables. The data dir and every file in it are owner-only.

use crate::embedded::{EmbeddedDynamo, EmbeddedError};
use crate::files;
use crate::token::TokenKey;
use kustiq::adapters::clock::SystemClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::keys::LocalSealer;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{Platform, StripeClient, StripeConfig};
use kustiq::app::connect::{Connector, SealedReaders};
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::http::{ApiRoutes, ConnectRoutes, DisconnectRoutes, Router, Settings, WebhookRoutes};
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
        EnvSecrets::from_env()
            .with_default(SecretName::API_CURSOR_KEY, cursor_key.clone())
            .with_default(SecretName::OAUTH_STATE_KEY, cursor_key.clone()),
    )
}

fn env_url(name: &str) -> Result<Option<String>, RunnerError> {
    match std::env::var(name) {
        Ok(b) if !b.is_empty() => {
            url::Url::parse(&b).map_err(|e| RunnerError::Config(format!("{name} {b:?}: {e}")))?;
            Ok(Some(b))
        }
        _ => Ok(None),
    }
}

/// The platform the connect routes use: the API at `KUSTIQ_STRIPE_API_BASE`, Connect
/// OAuth at `KUSTIQ_STRIPE_CONNECT_BASE` (each defaults to the other, then Stripe's),
/// client id `KUSTIQ_STRIPE_CLIENT_ID` (default `ca_sim`).
fn platform(cursor_key: &Secret) -> Result<Platform<Secrets>, RunnerError> {
    let api = env_url("KUSTIQ_STRIPE_API_BASE")?;
    let connect = env_url("KUSTIQ_STRIPE_CONNECT_BASE")?;
    let config = match (api.as_deref(), connect.as_deref()) {
        (None, None) => Ok(StripeConfig::default()),
        (Some(a), None) | (None, Some(a)) => StripeConfig::at(a),
        (Some(a), Some(c)) => StripeConfig::at(a).and_then(|s| s.with_bases(a, c)),
    }
    .map_err(|e| RunnerError::Config(e.to_string()))?;
    let client = StripeClient::new(config).map_err(|e| RunnerError::Config(e.to_string()))?;
    let client_id = std::env::var("KUSTIQ_STRIPE_CLIENT_ID")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "ca_sim".to_owned());
    Ok(Platform::new(client, client_id, secrets(cursor_key)))
}

/// The webhook's Stripe reads through each connection's sealed credentials (the platform
/// key `KUSTIQ_STRIPE_PLATFORM_KEY`, default `sk_test_sim`, for Connect and for
/// connections without stored credentials), at `KUSTIQ_STRIPE_API_BASE` (default
/// Stripe's; point it at `stripe-sim`), with the webhook path's short timeouts.
fn catalog_sources(
    store: &DynamoStore,
    sealer: &Arc<LocalSealer>,
    clock: &Arc<dyn Clock>,
    cursor_key: &Secret,
) -> Result<SealedReaders<DynamoStore, Arc<LocalSealer>, Platform<Secrets>>, RunnerError> {
    let base = match env_url("KUSTIQ_STRIPE_API_BASE")? {
        Some(b) => Some(url::Url::parse(&b).map_err(|e| RunnerError::Config(e.to_string()))?),
        None => None,
    };
    let client = StripeClient::new(kustiq::wiring::webhook_stripe_config(base))
        .map_err(|e| RunnerError::Config(e.to_string()))?;
    let client_id = std::env::var("KUSTIQ_STRIPE_CLIENT_ID")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "ca_sim".to_owned());
    Ok(SealedReaders {
        store: store.clone(),
        sealer: sealer.clone(),
        platform: Platform::new(client, client_id, secrets(cursor_key)),
        clock: clock.clone(),
    })
}

/// [`start_at`] with the public URL from `KUSTIQ_PUBLIC_URL`, default `http://127.0.0.1:8080`.
pub async fn start(data_dir: &Path, region: Region) -> Result<LocalStack, RunnerError> {
    let public = env_url("KUSTIQ_PUBLIC_URL")?.unwrap_or_else(|| "http://127.0.0.1:8080".into());
    start_at(data_dir, region, &public).await
}

/// Opens the embedded engine on its file under `data_dir` and builds every route
/// group; OAuth redirect URIs point at `public_url`.
pub async fn start_at(
    data_dir: &Path,
    region: Region,
    public_url: &str,
) -> Result<LocalStack, RunnerError> {
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
    let sealer = Arc::new(LocalSealer::open_or_create(data_dir)?);
    let public = url::Url::parse(public_url)
        .map_err(|e| RunnerError::Config(format!("public URL {public_url:?}: {e}")))?;
    let connect_settings = kustiq::wiring::connect_settings(
        &|name| match name {
            "KUSTIQ_PUBLIC_URL" => Some(public.to_string()),
            other => std::env::var(other).ok(),
        },
        region,
    )
    .map_err(|e| RunnerError::Config(e.to_string()))?;
    let router = Router::new()
        .mount(ConnectRoutes {
            connector: Connector {
                store: store.clone(),
                secrets: secrets(&cursor_key),
                sealer: sealer.clone(),
                platform: platform(&cursor_key)?,
                settings: connect_settings,
            },
            clock: clock.clone(),
            settings: settings.clone(),
        })
        .mount(DisconnectRoutes {
            store: store.clone(),
            platform: platform(&cursor_key)?,
            clock: clock.clone(),
            settings: settings.clone(),
        })
        .mount(
            WebhookRoutes::new(
                store.clone(),
                secrets(&cursor_key),
                catalog_sources(&store, &sealer, &clock, &cursor_key)?,
                clock.clone(),
                settings.clone(),
            )
            .with_sealer(sealer.clone()),
        )
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
