//! The embedded default store: dynoxide (a DynamoDB-compatible engine on
//! SQLite) served in-process on 127.0.0.1, so the one DynamoDB adapter talks
//! to it over HTTP exactly as it talks to AWS. Nothing to install.

use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::oneshot;

/// Starting the embedded engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The SQLite file could not be opened or created.
    #[error("cannot open the embedded store at {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No loopback port could be bound.
    #[error("cannot bind 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
}

/// A running embedded engine. Dropping it stops the server.
#[derive(Debug)]
pub struct EmbeddedDynamo {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl EmbeddedDynamo {
    /// Opens (or creates) the SQLite file at `path` and serves it on a free loopback port.
    pub async fn start_file(path: &Path) -> Result<Self, EmbeddedError> {
        let db =
            dynoxide::Database::new(&path.to_string_lossy()).map_err(|e| EmbeddedError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Self::serve(db).await
    }

    /// Serves a fresh in-memory database (tests).
    pub async fn start_in_memory() -> Result<Self, EmbeddedError> {
        let db = dynoxide::Database::memory().map_err(|e| EmbeddedError::Open {
            path: ":memory:".to_owned(),
            reason: e.to_string(),
        })?;
        Self::serve(db).await
    }

    async fn serve(db: dynoxide::Database) -> Result<Self, EmbeddedError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, shutdown).await {
                tracing::error!(error = %e, "embedded store stopped");
            }
        });
        Ok(Self {
            addr,
            stop: Some(stop),
        })
    }

    /// The endpoint URL for the DynamoDB client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
