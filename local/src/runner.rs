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
use kustiq::adapters::outbound::{HttpSender, SendTimeouts};
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{PlatformSources, StripeClient};
use kustiq::app::outbound::deliver::Backoff;
use kustiq::app::outbound::target::TargetPolicy;
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::http::{ApiRoutes, OutboundRoutes, Router, Settings, WebhookRoutes};
use kustiq::ports::clock::Clock;
use kustiq::ports::keys::KeyError;
use kustiq::ports::secrets::SecretName;
use kustiq::ports::store::StoreError;
use kustiq::scheduled::{Job, OutboundDelivery};
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
    /// The outbound churn events' delivery job (run by [`deliver_outbound`]).
    pub outbound: OutboundDelivery<DynamoStore, LocalSealer, HttpSender>,
}

/// How often `kustiq-local serve` delivers outbound churn events.
pub const OUTBOUND_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the outbound delivery job every [`OUTBOUND_INTERVAL`], forever.
pub async fn deliver_outbound(
    job: &OutboundDelivery<DynamoStore, LocalSealer, HttpSender>,
    clock: &dyn Clock,
) {
    loop {
        match job.run(clock.now()).await {
            Ok(report) => tracing::debug!(?report, "outbound run"),
            Err(e) => tracing::warn!(error = %e, "outbound run failed"),
        }
        tokio::time::sleep(OUTBOUND_INTERVAL).await;
    }
}

/// The local outbound sender: public endpoints and the loopback (so a listener
/// on this machine can receive events), never private or metadata addresses.
fn local_sender() -> Result<HttpSender, RunnerError> {
    HttpSender::new(TargetPolicy::LOCAL, SendTimeouts::default()).map_err(RunnerError::Config)
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

/// The webhook's Stripe reads: `KUSTIQ_STRIPE_API_BASE` (default Stripe's; point it at
/// `stripe-sim`) with the platform key `KUSTIQ_STRIPE_PLATFORM_KEY` (default `sk_test_sim`).
fn catalog_sources(cursor_key: &Secret) -> Result<PlatformSources<Secrets>, RunnerError> {
    let base = match std::env::var("KUSTIQ_STRIPE_API_BASE") {
        Ok(b) if !b.is_empty() => Some(
            url::Url::parse(&b)
                .map_err(|e| RunnerError::Config(format!("KUSTIQ_STRIPE_API_BASE {b:?}: {e}")))?,
        ),
        _ => None,
    };
    let client = StripeClient::new(kustiq::wiring::webhook_stripe_config(base))
        .map_err(|e| RunnerError::Config(e.to_string()))?;
    Ok(PlatformSources::new(client, secrets(cursor_key)))
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
        .mount(OutboundRoutes {
            store: store.clone(),
            sealer: LocalSealer::open_or_create(data_dir)?,
            sender: local_sender()?,
            clock: clock.clone(),
            settings: settings.clone(),
        });
    let outbound = OutboundDelivery {
        store: store.clone(),
        sealer: LocalSealer::open_or_create(data_dir)?,
        sender: local_sender()?,
        backoff: Backoff::default(),
    };
    Ok(LocalStack {
        engine,
        router,
        store,
        settings,
        clock,
        tokens,
        outbound,
    })
}
