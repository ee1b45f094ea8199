//! Scheduled and event-driven functions (retry sweep, nightly sync): their
//! jobs, and the one place their errors become Lambda diagnostics with a
//! retryable / not-retryable kind.

use crate::app::ingest::retry_due;
use crate::app::outbound::OutboundError;
use crate::app::outbound::deliver::{Backoff, Worker};
use crate::app::worker::BATCH;
use crate::domain::engine::EngineConfig;
use crate::domain::time::Timestamp;
use crate::ports::connections::ConnectionStore;
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use crate::ports::keys::{KeyError, Sealer};
use crate::ports::outbound::{EndpointStore, OutboxStore, Sender};
use crate::ports::store::StoreError;
use lambda_http::lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use std::future::Future;

/// Why a scheduled run failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Opening an endpoint's signing secret failed.
    #[error("keys: {0}")]
    Key(#[from] KeyError),
}

impl From<OutboundError> for JobError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Store(s) => Self::Store(s),
            OutboundError::Key(k) => Self::Key(k),
            // The worker makes none of the others; should one appear, it is a bug.
            other => Self::Store(StoreError::Invalid(other.to_string())),
        }
    }
}

impl JobError {
    /// Whether running the job again later may succeed. The one name for
    /// "retryable" everywhere: [`StoreError::retryable`] decides for store errors.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.retryable(),
            Self::Key(e) => e.is_retryable(),
        }
    }
}

/// `errorType` is `Retryable.<Kind>` or `NotRetryable.<Kind>`, so an alarm or
/// an on-failure destination can tell a transient failure from a bug.
impl From<JobError> for Diagnostic {
    fn from(e: JobError) -> Self {
        let kind = match &e {
            JobError::Store(StoreError::Unavailable(_)) => "StoreUnavailable",
            JobError::Store(StoreError::Corrupt(_)) => "StoreCorrupt",
            JobError::Store(_) => "Store",
            JobError::Key(_) => "Keys",
        };
        let prefix = if e.retryable() {
            "Retryable"
        } else {
            "NotRetryable"
        };
        tracing::error!(error = %e, retryable = e.retryable(), "scheduled run failed");
        Diagnostic {
            error_type: format!("{prefix}.{kind}"),
            error_message: e.to_string(),
        }
    }
}

/// A scheduled job: one run per invocation, at `now`.
pub trait Job: Send + Sync {
    /// Runs once; the value is the invocation's result.
    fn run(&self, now: Timestamp) -> impl Future<Output = Result<Value, JobError>> + Send;
}

/// Re-runs recorded events whose retry is due (every minute).
pub struct RetrySweep<S> {
    /// The table.
    pub store: S,
    /// The engine's numbers.
    pub engine: EngineConfig,
}

impl<S> Job for RetrySweep<S>
where
    S: ConnectionStore + EventLog + IngestStore,
{
    async fn run(&self, now: Timestamp) -> Result<Value, JobError> {
        let applied = retry_due(&self.store, &self.engine, now, BATCH).await?;
        Ok(json!({"applied": applied}))
    }
}

/// Delivers outbound churn events (every minute): fan-out of the outbox, then
/// the due deliveries, signed, in order per (endpoint, profile).
pub struct OutboundDelivery<S, K, H> {
    /// The table.
    pub store: S,
    /// Opens endpoint secrets.
    pub sealer: K,
    /// Sends behind the SSRF guard.
    pub sender: H,
    /// Retry pacing.
    pub backoff: Backoff,
}

/// Profiles fanned out and lanes delivered per run, at most.
pub const OUTBOUND_BATCH: u16 = 100;

/// No delivery attempt starts after this long into a run: with 10 s per request the
/// run ends within 40 s, inside the outbound function's 60 s timeout.
pub const OUTBOUND_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

impl<S, K, H> Job for OutboundDelivery<S, K, H>
where
    S: EndpointStore + OutboxStore,
    K: Sealer,
    H: Sender,
{
    async fn run(&self, now: Timestamp) -> Result<Value, JobError> {
        let worker = Worker {
            store: &self.store,
            sealer: &self.sealer,
            sender: &self.sender,
            backoff: self.backoff,
            batch: OUTBOUND_BATCH,
            budget: OUTBOUND_BUDGET,
        };
        // Boxed: the worker's future is deep enough to overflow the binary's layout limit.
        let report = Box::pin(worker.run(now)).await?;
        Ok(serde_json::to_value(report).unwrap_or(Value::Null))
    }
}

/// The nightly sync. The sync and backfill use case lands with the sync &
/// matching issue; until then a run reports that it did nothing, so a
/// scheduled run never fails silently.
pub struct NightlySync;

impl Job for NightlySync {
    async fn run(&self, _now: Timestamp) -> Result<Value, JobError> {
        tracing::warn!("nightly sync is not implemented yet");
        Ok(json!({"synced": 0, "implemented": false}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_say_whether_a_retry_can_help() {
        let d: Diagnostic = JobError::Store(StoreError::Unavailable("throttled".into())).into();
        assert_eq!(d.error_type, "Retryable.StoreUnavailable");
        let d: Diagnostic = JobError::Store(StoreError::Corrupt("bad item".into())).into();
        assert_eq!(d.error_type, "NotRetryable.StoreCorrupt");
    }
}
