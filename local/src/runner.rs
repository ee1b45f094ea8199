//! Builds the app on the embedded default: dynoxide in-process on a file in
//! the data dir, the local key files, secrets from `KUSTIQ_*` environment
//! variables. The data dir and every file in it are owner-only.

use crate::embedded::{EmbeddedDynamo, EmbeddedError};
use crate::files;
use crate::token::TokenKey;
use kustiq::adapters::clock::SystemClock;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::runtime::Secrets;
use kustiq::domain::region::Region;
use kustiq::http::{App, Settings};
use kustiq::ports::keys::KeyError;
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
    /// The app the handlers use.
    pub app: Arc<App>,
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

/// Opens the embedded engine on its file under `data_dir` and builds the app.
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
    let app = App {
        store,
        secrets: Secrets::Env(EnvSecrets::from_env()),
        clock: Arc::new(SystemClock),
        settings: Settings::new(region),
    };
    Ok(LocalStack {
        engine,
        app: Arc::new(app),
        tokens,
    })
}
