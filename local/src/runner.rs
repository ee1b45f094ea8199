//! Builds the app on the embedded default: dynoxide in-process on a file in
//! the data dir, the local key files, secrets from `KUSTIQ_*` environment
//! variables. The data dir and every file in it are owner-only.

use crate::embedded::{EmbeddedDynamo, EmbeddedError};
use crate::files;
use crate::token::TokenKey;
use kustiq::adapters::clock::SystemClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::keys::LocalSealer;
use kustiq::adapters::local::secrets::{EnvSecrets, SIM_PLATFORM_KEY};
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{Platform, StripeClient, StripeConfig};
use kustiq::app::connect::{Connector, SealedReaders};
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::http::{
    ApiRoutes, ConnectRoutes, DisconnectRoutes, Router, Settings, SyncRoutes, WebhookRoutes,
};
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

/// Readers over each connection's sealed credentials (the local key file).
pub type LocalReaders = SealedReaders<DynamoStore, Arc<LocalSealer>, Platform<Secrets>>;

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
    /// The sync worker's Stripe reads (backfills, sync now, nightly), through each
    /// connection's sealed credentials at Stripe's published limits.
    pub sync_readers: Arc<LocalReaders>,
}

/// What a caller may set instead of the environment (the demo, tests). `None` keeps
/// the environment's value or the default.
#[derive(Default)]
pub struct StartOptions {
    /// Now (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// Stripe's API base (default `KUSTIQ_STRIPE_API_BASE`, then Stripe's).
    pub stripe_api_base: Option<String>,
    /// Stripe Connect's OAuth base (default `KUSTIQ_STRIPE_CONNECT_BASE`, then the API base).
    pub stripe_connect_base: Option<String>,
    /// The platform endpoint's webhook signing secrets (default `KUSTIQ_STRIPE_WEBHOOK_SECRET`).
    pub webhook_secrets: Option<Vec<String>>,
    /// Public base URL for OAuth redirect URIs (default `KUSTIQ_PUBLIC_URL`, then
    /// `http://127.0.0.1:8080`).
    pub public_url: Option<String>,
}

/// The region from `KUSTIQ_REGION` (default eu).
pub fn region_from_env() -> Result<Region, RunnerError> {
    match std::env::var("KUSTIQ_REGION") {
        Ok(r) if !r.is_empty() => Region::parse(&r).map_err(|e| RunnerError::Config(e.to_string())),
        _ => Ok(Region::Eu),
    }
}

/// Secrets from `KUSTIQ_*` variables, then `overrides`; the cursor and OAuth-state keys
/// default to a fresh random key per run (cursors and states of an earlier run are
/// refused as invalid), the platform key to the simulator's.
fn secrets(cursor_key: &Secret, overrides: &[(String, String)]) -> Secrets {
    let vars = std::env::vars()
        .filter(|(k, _)| k.starts_with("KUSTIQ_"))
        .chain(overrides.iter().cloned());
    Secrets::Env(
        EnvSecrets::from_vars(vars)
            .with_default(
                SecretName::STRIPE_PLATFORM_KEY,
                Secret::new(SIM_PLATFORM_KEY),
            )
            .with_default(SecretName::API_CURSOR_KEY, cursor_key.clone())
            .with_default(SecretName::OAUTH_STATE_KEY, cursor_key.clone()),
    )
}

/// `option`, else the variable `name`, checked to be a URL.
fn url_setting(option: Option<&String>, name: &str) -> Result<Option<String>, RunnerError> {
    let value = match option {
        Some(v) => Some(v.clone()),
        None => std::env::var(name).ok().filter(|v| !v.is_empty()),
    };
    if let Some(v) = &value {
        url::Url::parse(v).map_err(|e| RunnerError::Config(format!("{name} {v:?}: {e}")))?;
    }
    Ok(value)
}

/// The Stripe bases this run talks to: the API and Connect OAuth (each defaults to the
/// other, then Stripe's).
struct Bases {
    api: Option<String>,
    connect: Option<String>,
}

impl Bases {
    fn config(&self, base: StripeConfig) -> Result<StripeConfig, RunnerError> {
        let api = self.api.as_deref().or(self.connect.as_deref());
        let connect = self.connect.as_deref().or(self.api.as_deref());
        match (api, connect) {
            (Some(a), Some(c)) => {
                let parsed = url::Url::parse(a).map_err(|e| RunnerError::Config(e.to_string()))?;
                StripeConfig {
                    api_base: parsed,
                    ..base
                }
                .with_bases(a, c)
                .map_err(|e| RunnerError::Config(e.to_string()))
            }
            _ => Ok(base),
        }
    }
}

fn client_id() -> String {
    std::env::var("KUSTIQ_STRIPE_CLIENT_ID")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "ca_sim".to_owned())
}

/// A Stripe platform (client id `KUSTIQ_STRIPE_CLIENT_ID`, default `ca_sim`) on `config`.
fn platform(config: StripeConfig, secrets: Secrets) -> Result<Platform<Secrets>, RunnerError> {
    let client = StripeClient::new(config).map_err(|e| RunnerError::Config(e.to_string()))?;
    Ok(Platform::new(client, client_id(), secrets))
}

/// [`start_with`] with every setting from the environment.
pub async fn start(data_dir: &Path, region: Region) -> Result<LocalStack, RunnerError> {
    start_with(data_dir, region, StartOptions::default()).await
}

/// [`start_with`] with OAuth redirect URIs at `public_url`.
pub async fn start_at(
    data_dir: &Path,
    region: Region,
    public_url: &str,
) -> Result<LocalStack, RunnerError> {
    start_with(
        data_dir,
        region,
        StartOptions {
            public_url: Some(public_url.to_owned()),
            ..StartOptions::default()
        },
    )
    .await
}

/// Opens the embedded engine on its file under `data_dir` and builds every route group.
pub async fn start_with(
    data_dir: &Path,
    region: Region,
    options: StartOptions,
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
    let clock: Arc<dyn Clock> = options
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(SystemClock));
    let sealer = Arc::new(LocalSealer::open_or_create(data_dir)?);
    let mut overrides = Vec::new();
    if let Some(list) = &options.webhook_secrets {
        overrides.push((SecretName::STRIPE_WEBHOOK_SECRET.env_var(), list.join(",")));
    }
    let secrets = || secrets(&cursor_key, &overrides);
    let bases = Bases {
        api: url_setting(options.stripe_api_base.as_ref(), "KUSTIQ_STRIPE_API_BASE")?,
        connect: url_setting(
            options.stripe_connect_base.as_ref(),
            "KUSTIQ_STRIPE_CONNECT_BASE",
        )?,
    };
    let public = url_setting(options.public_url.as_ref(), "KUSTIQ_PUBLIC_URL")?
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let connect_settings = kustiq::wiring::connect_settings(
        &|name| match name {
            "KUSTIQ_PUBLIC_URL" => Some(public.clone()),
            other => std::env::var(other).ok(),
        },
        region,
    )
    .map_err(|e| RunnerError::Config(e.to_string()))?;
    let readers = |config: StripeConfig| -> Result<LocalReaders, RunnerError> {
        Ok(SealedReaders {
            store: store.clone(),
            sealer: sealer.clone(),
            platform: platform(config, secrets())?,
            clock: clock.clone(),
        })
    };
    // The webhook path's reads give up early (Stripe redelivers); the sync's pace
    // themselves at Stripe's published limits.
    let webhook_reads = readers(bases.config(kustiq::wiring::webhook_stripe_config(None))?)?;
    let sync_readers = Arc::new(readers(bases.config(StripeConfig::default())?)?);
    let router = Router::new()
        .mount(ConnectRoutes {
            connector: Connector {
                store: store.clone(),
                secrets: secrets(),
                sealer: sealer.clone(),
                platform: platform(bases.config(StripeConfig::default())?, secrets())?,
                settings: connect_settings,
            },
            clock: clock.clone(),
            settings: settings.clone(),
        })
        .mount(DisconnectRoutes {
            store: store.clone(),
            platform: platform(bases.config(StripeConfig::default())?, secrets())?,
            clock: clock.clone(),
            settings: settings.clone(),
        })
        .mount(
            WebhookRoutes::new(
                store.clone(),
                secrets(),
                webhook_reads,
                clock.clone(),
                settings.clone(),
            )
            .with_sealer(sealer.clone()),
        )
        .mount(ApiRoutes {
            store: store.clone(),
            secrets: secrets(),
            clock: clock.clone(),
            settings: settings.clone(),
        })
        .mount(SyncRoutes {
            store: store.clone(),
            secrets: secrets(),
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
        sync_readers,
    })
}

/// Starts the background work AWS runs on schedules: the retry sweep and the sync
/// worker (connects' backfills, sync now, nightly). They run until the process ends.
pub fn spawn_workers(stack: &LocalStack) {
    let (store, engine, clock) = (
        stack.store.clone(),
        stack.settings.engine.clone(),
        stack.clock.clone(),
    );
    tokio::spawn(async move {
        kustiq::app::worker::run_retries(&store, &engine, clock.as_ref()).await;
    });
    let (store, engine, clock, readers) = (
        stack.store.clone(),
        stack.settings.engine.clone(),
        stack.clock.clone(),
        stack.sync_readers.clone(),
    );
    tokio::spawn(async move {
        kustiq::app::sync::worker::run_forever(&store, &*readers, &engine, clock.as_ref()).await;
    });
}
