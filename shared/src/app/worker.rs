//! The retry loop: re-runs recorded events whose next attempt is due.
//! In AWS the scoring function runs it on a one-minute schedule; locally
//! `kustiq-local serve` runs it in the background.

use crate::app::ingest::retry_due;
use crate::domain::engine::EngineConfig;
use crate::ports::clock::Clock;
use crate::ports::connections::ConnectionStore;
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use crate::ports::store::PageSize;
use std::time::Duration;

/// Events handled per pass.
pub const BATCH: PageSize = match PageSize::new(100) {
    Some(p) => p,
    None => PageSize::MIN,
};

/// Runs retry passes every 30 seconds, forever.
pub async fn run_retries<S>(store: &S, cfg: &EngineConfig, clock: &dyn Clock)
where
    S: ConnectionStore + EventLog + IngestStore,
{
    loop {
        match retry_due(store, cfg, clock.now(), BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(applied = n, "retried events applied"),
            Err(e) => tracing::warn!(error = %e, "retry pass failed"),
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}
