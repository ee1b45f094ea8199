//! Scheduled and event-driven functions (retry sweep, nightly sync): their
//! jobs, and the one place their errors become Lambda diagnostics with a
//! retryable / not-retryable kind.

use crate::adapters::clock::ManualClock;
use crate::app::ingest::retry_due;
use crate::app::sync::worker::{Outcome, Worker, WorkerConfig};
use crate::app::sync::{SyncError, SyncReaders, SyncStores};
use crate::app::worker::BATCH;
use crate::domain::engine::EngineConfig;
use crate::domain::time::Timestamp;
use crate::ports::connections::ConnectionStore;
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
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
    /// A sync run failed (its checkpoint stays; the next run continues).
    #[error("sync: {0}")]
    Sync(#[from] SyncError),
    /// The invocation asked for a task this function does not run (its schedule's
    /// `Input` in infra/template.yaml names another function's task, or none).
    #[error("this function runs {expected:?}, not {got:?}")]
    UnknownTask {
        /// The tasks this function runs.
        expected: &'static [&'static str],
        /// The `kustiq_task` the invocation carried.
        got: String,
    },
}

/// The task a scheduled invocation asks for: its input's `kustiq_task`
/// (`{"kustiq_task": "retry-sweep"}`, the schedule's `Input` in the template).
pub fn task_of(payload: &Value) -> &str {
    payload["kustiq_task"].as_str().unwrap_or_default()
}

impl JobError {
    /// `got` is not one of `expected`, the tasks this function runs.
    pub fn unknown_task(expected: &'static [&'static str], got: &str) -> Self {
        Self::UnknownTask {
            expected,
            got: got.to_owned(),
        }
    }

    /// Whether running the job again later may succeed. The one name for
    /// "retryable" everywhere: [`StoreError::retryable`] decides for store errors.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.retryable(),
            Self::UnknownTask { .. } => false,
            Self::Sync(e) => e.retryable(),
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
            JobError::UnknownTask { .. } => "UnknownTask",
            JobError::Sync(_) => "Sync",
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

/// A function's scheduled tasks: each schedule's input names one (`kustiq_task`), and
/// the function runs it or fails with [`JobError::UnknownTask`].
pub trait Tasks: Send + Sync {
    /// The task names this function runs.
    fn names(&self) -> &'static [&'static str];

    /// Runs `task` once.
    fn run_task(
        &self,
        task: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Value, JobError>> + Send;
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

/// The credential job (every 6 hours): refreshes Stripe Apps tokens, re-seals
/// every credential under a fresh data key, retries owed deauthorizations
/// (see [`crate::app::connect::rotate_all`]).
pub struct CredentialRotation<S, Z, P> {
    /// Readers over the sealed credentials (store, sealer, platform, clock).
    pub readers: crate::app::connect::SealedReaders<S, Z, P>,
}

impl<S, Z, P> Job for CredentialRotation<S, Z, P>
where
    S: ConnectionStore + crate::ports::connections::GrantStore,
    Z: crate::ports::keys::Sealer,
    P: crate::ports::oauth::StripePlatform,
{
    async fn run(&self, now: Timestamp) -> Result<Value, JobError> {
        let r = crate::app::connect::rotate_all(&self.readers, now).await?;
        Ok(json!(r))
    }
}

/// The sync function's job: on every invocation (the 05:45 UTC schedule, a short
/// continuation schedule, a queue message) it starts the nightly sync once per day at or
/// after 05:45, then runs due backfills and syncs in a chunk that ends well inside the
/// Lambda limit (`WorkerConfig::lambda`), each under its workspace's lease.
pub struct NightlySync<S, R> {
    /// The table.
    pub store: S,
    /// Readers of connected accounts.
    pub readers: R,
    /// The engine's numbers.
    pub engine: EngineConfig,
    /// Chunk and lease lengths.
    pub config: WorkerConfig,
}

impl<S: SyncStores, R: SyncReaders> Job for NightlySync<S, R> {
    async fn run(&self, now: Timestamp) -> Result<Value, JobError> {
        let clock = ManualClock::at(now);
        let worker = Worker::new(
            &self.store,
            &self.readers,
            &self.engine,
            &clock,
            self.config,
        );
        // Boxed: the worker's future is deep, and the Lambda loop's async block that
        // holds it would otherwise exceed the compiler's layout depth limit.
        let report = Box::pin(worker.run_due()).await?;
        let count = |f: fn(&Outcome) -> bool| report.outcomes.iter().filter(|(_, o)| f(o)).count();
        Ok(json!({
            "nightly_requested": report.nightly_requested,
            "workspaces": report.outcomes.len(),
            "finished": count(|o| matches!(o, Outcome::Finished(_))),
            "continuing": count(|o| matches!(o, Outcome::OutOfTime)),
            "paused": count(|o| matches!(o, Outcome::Paused { .. })),
        }))
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
        let d: Diagnostic = JobError::UnknownTask {
            expected: &["retry-sweep"],
            got: "nightly-sync".into(),
        }
        .into();
        assert_eq!(d.error_type, "NotRetryable.UnknownTask");
    }

    #[test]
    fn the_task_is_the_schedule_input_s_kustiq_task() {
        assert_eq!(
            task_of(&json!({"kustiq_task": "retry-sweep"})),
            "retry-sweep"
        );
        assert_eq!(task_of(&json!({"source": "aws.events"})), "");
    }
}
