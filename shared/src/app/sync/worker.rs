//! The sync worker: takes due workspaces from the queue, leases each, runs its phases
//! in a chunk that ends well inside the Lambda limit, and on a Stripe failure pauses
//! (rate limit, restricted account, missing permission, outage: the status shows the
//! code and the run resumes later) or stops (revoked grant).

use super::checkpoint::Held;
use super::events::reconcile;
use super::lists::{Flow, PAGE, read_lists};
use super::request::start_nightly_if_due;
use super::rescore::rescore_all;
use super::{EVENT_RETENTION_DAYS, SyncError, SyncReaders, SyncStores, list_since};
use crate::app::apply::Input;
use crate::app::matching::profile_index;
use crate::app::optimistic::{Round, until_committed};
use crate::domain::connection::{BackfillProgress, BackfillState, Connection, ConnectionStatus};
use crate::domain::engine::EngineConfig;
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::WorkspaceId;
use crate::domain::matching::ProfileIndex;
use crate::domain::time::Timestamp;
use crate::ports::clock::Clock;
use crate::ports::store::{PageSize, StoreError};
use crate::ports::stripe::StripeError;
use crate::ports::sync::{Phase, Run, RunKind, SyncState};
use crate::stripe::observe::Observed;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Codes a sync sets on the connection while paused, cleared when it makes progress again.
const SYNC_CODES: [ErrorCode; 4] = [
    ErrorCode::ERR_ST_429,
    ErrorCode::ERR_ST_403,
    ErrorCode::ERR_ACCT_RESTRICTED,
    ErrorCode::ERR_STRIPE_UNAVAILABLE,
];

/// A restricted account or a missing permission is retried this often (at most 10 minutes).
pub const BLOCKED_RETRY_SECS: i64 = 300;

/// How long a worker runs and holds leases.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Work stops (checkpointed) once this much time has passed.
    pub budget: Duration,
    /// A lease lasts this long past each checkpoint.
    pub lease_secs: i64,
    /// Workspaces taken from the queue per run.
    pub batch: PageSize,
}

impl WorkerConfig {
    /// In Lambda: 10-minute chunks, well under the 15-minute limit; a lease outlives a
    /// chunk by 3 minutes, so a killed worker's workspace waits at most that long.
    pub fn lambda() -> Self {
        Self {
            budget: Duration::from_secs(600),
            lease_secs: 780,
            batch: PageSize::new(25).unwrap_or(PageSize::MIN),
        }
    }

    /// In `kustiq-local serve`: short chunks, so a request is picked up quickly.
    pub fn local() -> Self {
        Self {
            budget: Duration::from_secs(50),
            lease_secs: 120,
            batch: PageSize::new(25).unwrap_or(PageSize::MIN),
        }
    }
}

/// How one workspace's turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do (or no connection): its queue entry is cleared.
    Idle,
    /// Another worker holds the lease.
    Busy,
    /// Paused by Stripe until then; the status shows the code.
    Paused {
        /// When it resumes.
        until: Timestamp,
        /// The code shown meanwhile.
        code: Option<ErrorCode>,
    },
    /// Stopped for good (revoked grant); the status shows the code.
    Stopped(ErrorCode),
    /// The chunk's time ran out: checkpointed; the next run continues.
    OutOfTime,
    /// A run finished.
    Finished(RunKind),
}

/// What a worker run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Workspaces whose sync the nightly trigger requested in this run.
    pub nightly_requested: u64,
    /// Each workspace taken, with its outcome.
    pub outcomes: Vec<(WorkspaceId, Outcome)>,
}

/// Everything a phase uses.
pub struct Ctx<'a, S, T> {
    /// The stores.
    pub store: &'a S,
    /// The account's reader.
    pub reader: &'a T,
    /// The engine.
    pub cfg: &'a EngineConfig,
    /// The connection as the run started.
    pub connection: Connection,
    /// The run's now.
    pub now: Timestamp,
    /// When the chunk stops.
    pub deadline: Instant,
    /// The lease and checkpoints.
    pub held: &'a Held<'a, S>,
    /// The workspace's profiles, for matching.
    pub index: Mutex<ProfileIndex>,
    /// The score history's reason (`backfill`, `sync`).
    pub reason: &'static str,
    last_report: Mutex<Option<Instant>>,
}

impl<S: SyncStores, T> Ctx<'_, S, T> {
    /// The pipe's input for objects (no event record).
    pub fn input(&self, observed: Observed) -> Input {
        Input {
            workspace: self.connection.workspace_id.clone(),
            observations: observed.observations,
            charge_owners: observed.charge_owners,
            record: None,
            feeds_scores: self.connection.feeds_scores(),
            reason: self.reason.to_owned(),
            route: None,
        }
    }

    /// Shows progress on the connection (at most every 2 s unless `force`): the
    /// backfill's objects and estimate, and no pause code any more.
    pub async fn report_progress(&self, force: bool) -> Result<(), SyncError> {
        let mut last = self.last_report.lock().await;
        if !force && last.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let Some(run) = self.held.state().await.run else {
            return Ok(());
        };
        let progress = (run.kind == RunKind::Backfill).then(|| BackfillProgress {
            state: BackfillState::Running,
            objects_done: run.objects_done,
            objects_estimated: estimate(&run),
        });
        update_connection(self.store, &self.connection.workspace_id, |c| {
            let mut changed = false;
            if let Some(p) = progress
                && c.backfill.state == BackfillState::Running
                && c.backfill != p
            {
                c.backfill = p;
                changed = true;
            }
            if c.error
                .as_ref()
                .is_some_and(|e| SYNC_CODES.contains(&e.code))
            {
                c.error = None;
                changed = true;
            }
            changed
        })
        .await?;
        Ok(())
    }
}

/// Objects a run is expected to read in all: Stripe lists carry no totals, so each list
/// still open is assumed to hold at least as many again as read so far (a page at
/// least); the estimate firms up as lists end and equals the count when all have.
pub fn estimate(run: &Run) -> u64 {
    if run.phase != Phase::Lists {
        return run.objects_done;
    }
    let open: u64 = crate::ports::sync::ListKind::ALL
        .iter()
        .map(|k| run.lists.get(k).cloned().unwrap_or_default())
        .filter(|c| !c.done)
        .map(|c| c.objects.max(PAGE as u64))
        .sum();
    run.objects_done + open
}

/// Changes the connection through the optimistic loop; `change` says whether it changed anything.
async fn update_connection<S: SyncStores>(
    store: &S,
    ws: &WorkspaceId,
    change: impl Fn(&mut Connection) -> bool,
) -> Result<(), StoreError> {
    let change = &change;
    until_committed(|| async {
        let Some((mut conn, version)) = store.connection(ws).await? else {
            return Ok(Round::Done(()));
        };
        if !change(&mut conn) {
            return Ok(Round::Done(()));
        }
        match store.save_connection(&conn, version).await {
            Ok(_) => Ok(Round::Done(())),
            Err(StoreError::Conflict) | Err(StoreError::TransactionCancelled { .. }) => {
                Ok(Round::Raced)
            }
            Err(e) => Err(e),
        }
    })
    .await?
    .ok_or_else(|| StoreError::Unavailable("the connection kept changing concurrently".into()))
}

/// A sync worker of one invocation.
pub struct Worker<'a, S, R> {
    store: &'a S,
    readers: &'a R,
    cfg: &'a EngineConfig,
    clock: &'a dyn Clock,
    config: WorkerConfig,
    owner: String,
}

impl<'a, S: SyncStores, R: SyncReaders> Worker<'a, S, R> {
    /// A worker with a fresh owner id.
    pub fn new(
        store: &'a S,
        readers: &'a R,
        cfg: &'a EngineConfig,
        clock: &'a dyn Clock,
        config: WorkerConfig,
    ) -> Self {
        Self {
            store,
            readers,
            cfg,
            clock,
            config,
            owner: format!("worker-{:016x}", fastrand::u64(..)),
        }
    }

    /// One run: the nightly trigger if due, then due workspaces until the budget is spent.
    pub async fn run_due(&self) -> Result<Report, SyncError> {
        let deadline = Instant::now() + self.config.budget;
        let mut report = Report {
            nightly_requested: start_nightly_if_due(self.store, self.clock.now())
                .await
                .map_err(|e| match e {
                    super::request::RequestError::Store(s) => SyncError::Store(s),
                    other => SyncError::Store(StoreError::Unavailable(other.to_string())),
                })?,
            ..Report::default()
        };
        let due = self
            .store
            .due_syncs(self.clock.now(), self.config.batch)
            .await?;
        for ws in due {
            if Instant::now() >= deadline {
                break;
            }
            match self.run_workspace(&ws, deadline).await {
                Ok(outcome) => report.outcomes.push((ws, outcome)),
                Err(e) if e.retryable() => {
                    tracing::warn!(workspace_id = %ws, error = %e, "sync chunk failed; retried on the next run");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// One workspace's turn: start what was asked, then run phases until done, out of
    /// time, or paused.
    pub async fn run_workspace(
        &self,
        ws: &WorkspaceId,
        deadline: Instant,
    ) -> Result<Outcome, SyncError> {
        let now = self.clock.now();
        let connection = self
            .store
            .connection(ws)
            .await?
            .map(|(c, _)| c)
            .filter(|c| c.status == ConnectionStatus::Connected);
        let Some(connection) = connection else {
            return self.forget(ws, now).await;
        };
        if let Some((state, _)) = self.store.sync_state(ws).await?
            && let Some(until) = state.not_before.filter(|t| *t > now)
        {
            return Ok(Outcome::Paused { until, code: None });
        }
        let backfill = connection.backfill.state == BackfillState::Pending;
        let since = list_since(connection.window, now);
        let held = Held::acquire(
            self.store,
            ws,
            &self.owner,
            now,
            self.config.lease_secs,
            |s| start(s, backfill, since, now),
        )
        .await?;
        let Some(held) = held else {
            return Ok(Outcome::Busy);
        };
        let Some(run) = held.state().await.run else {
            held.release(now, |_| {}).await?;
            return Ok(Outcome::Idle);
        };
        if backfill {
            update_connection(self.store, ws, |c| {
                c.backfill = BackfillProgress {
                    state: BackfillState::Running,
                    objects_done: 0,
                    objects_estimated: 0,
                };
                true
            })
            .await?;
        }
        let reader = match self.readers.for_connection(&connection).await {
            Ok(r) => r,
            Err(e) => {
                return self
                    .stripe_failed(&held, &connection, run.kind, now, e)
                    .await;
            }
        };
        let ctx = Ctx {
            store: self.store,
            reader: &reader,
            cfg: self.cfg,
            now,
            deadline,
            held: &held,
            index: Mutex::new(profile_index(self.store, ws).await?),
            reason: match run.kind {
                RunKind::Backfill => "backfill",
                RunKind::Sync => "sync",
            },
            last_report: Mutex::new(None),
            connection,
        };
        let outcome = self.run_phases(&ctx).await;
        match outcome {
            Ok(o) => Ok(o),
            Err(SyncError::Stripe(e)) => {
                self.stripe_failed(&held, &ctx.connection, run.kind, now, e)
                    .await
            }
            Err(SyncError::LeaseLost) => Ok(Outcome::Busy),
            Err(e) => {
                // Let the next worker continue from the last checkpoint.
                let _ = held.release(now, |_| {}).await;
                Err(e)
            }
        }
    }

    async fn run_phases<T>(&self, ctx: &Ctx<'_, S, T>) -> Result<Outcome, SyncError>
    where
        T: crate::ports::stripe::StripeReader + crate::ports::catalog::CatalogSource,
    {
        loop {
            let Some(run) = ctx.held.state().await.run else {
                return Ok(Outcome::Idle);
            };
            let flow = match run.phase {
                Phase::Lists => read_lists(ctx).await?,
                Phase::Events => reconcile(ctx).await?,
                Phase::Rescore => rescore_all(ctx).await?,
            };
            if flow == Flow::OutOfTime {
                ctx.report_progress(true).await?;
                ctx.held.release(ctx.now, |_| {}).await?;
                return Ok(Outcome::OutOfTime);
            }
            match run.phase {
                Phase::Lists | Phase::Events => {
                    ctx.held
                        .update(ctx.now, |s| {
                            if let Some(r) = &mut s.run {
                                r.phase = Phase::Rescore;
                            }
                        })
                        .await?;
                }
                Phase::Rescore => return self.finish(ctx, run).await,
            }
        }
    }

    /// Ends a run: the connection first (backfill done, sync errors cleared), then the
    /// run is released. In that order a process dying between the two leaves the run to
    /// be finished again by the next worker (both writes are idempotent); the other
    /// order would leave a backfill shown as running forever with no run to end it.
    async fn finish<T>(&self, ctx: &Ctx<'_, S, T>, run: Run) -> Result<Outcome, SyncError> {
        let now = ctx.now;
        let done = run.objects_done;
        update_connection(self.store, &ctx.connection.workspace_id, |c| {
            if run.kind == RunKind::Backfill && c.backfill.state == BackfillState::Running {
                c.backfill = BackfillProgress {
                    state: BackfillState::Done,
                    objects_done: done,
                    objects_estimated: done,
                };
            }
            if c.error
                .as_ref()
                .is_some_and(|e| SYNC_CODES.contains(&e.code))
            {
                c.error = None;
            }
            c.last_sync_at = Some(now);
            true
        })
        .await?;
        ctx.held
            .release(now, |s| {
                s.run = None;
                s.not_before = None;
                s.last_run_at = Some(now);
                s.reconciled_to = Some(run.started_at);
            })
            .await?;
        tracing::info!(workspace_id = %ctx.connection.workspace_id, kind = ?run.kind, objects = done, rescored = run.rescored, "sync run finished");
        Ok(Outcome::Finished(run.kind))
    }

    /// Stripe refused or failed: pause (shown on the status, retried later) or stop.
    async fn stripe_failed(
        &self,
        held: &Held<'_, S>,
        connection: &Connection,
        kind: RunKind,
        now: Timestamp,
        e: StripeError,
    ) -> Result<Outcome, SyncError> {
        let ws = &connection.workspace_id;
        let pause = match &e {
            StripeError::RateLimited { retry_after, .. } => Some((
                retry_after.map_or(30, |d| d.as_secs() as i64).clamp(1, 300),
                Some(ErrorCode::ERR_ST_429),
            )),
            StripeError::Unavailable(_) => Some((60, None)),
            StripeError::AccountRestricted { .. } => {
                Some((BLOCKED_RETRY_SECS, Some(ErrorCode::ERR_ACCT_RESTRICTED)))
            }
            StripeError::PermissionDenied { .. } => {
                Some((BLOCKED_RETRY_SECS, Some(ErrorCode::ERR_ST_403)))
            }
            _ => None,
        };
        if let Some((secs, code)) = pause {
            let until = now.plus_secs(secs);
            held.release(now, |s| s.not_before = Some(until)).await?;
            tracing::warn!(workspace_id = %ws, error = %e, resume_at = %until.to_rfc3339(), "sync paused");
            if let Some(code) = code {
                let message = format!("{e}; the sync resumes by {}", until.to_rfc3339());
                update_connection(self.store, ws, |c| {
                    c.set_error(code, message.clone(), now);
                    true
                })
                .await?;
            }
            return Ok(Outcome::Paused { until, code });
        }
        let code = e.code();
        held.release(now, |s| {
            s.run = None;
            s.not_before = None;
        })
        .await?;
        tracing::warn!(workspace_id = %ws, error = %e, "sync stopped");
        let message = format!("the sync stopped: {e}");
        update_connection(self.store, ws, |c| {
            if kind == RunKind::Backfill {
                c.backfill.state = BackfillState::Failed;
            }
            c.set_error(code, message.clone(), now);
            true
        })
        .await?;
        Ok(Outcome::Stopped(code))
    }

    /// No connected connection: drop any queued work.
    async fn forget(&self, ws: &WorkspaceId, now: Timestamp) -> Result<Outcome, SyncError> {
        if let Some(held) = Held::acquire(self.store, ws, &self.owner, now, 60, |s| {
            s.run = None;
            s.sync_requested = false;
        })
        .await?
        {
            held.release(now, |_| {}).await?;
        }
        Ok(Outcome::Idle)
    }
}

/// Starts the run asked for: a pending backfill (restarting any run), else a requested
/// sync — from the events if the last reconcile is within Stripe's 30 days of events,
/// else a full re-list.
fn start(s: &mut SyncState, backfill: bool, since: Option<Timestamp>, now: Timestamp) {
    let run = |kind, phase| Run {
        kind,
        started_at: now,
        since,
        phase,
        lists: Default::default(),
        events_after: None,
        rescore_after: None,
        objects_done: 0,
        rescored: 0,
    };
    s.not_before = None;
    if backfill {
        s.run = Some(run(RunKind::Backfill, Phase::Lists));
    } else if s.run.is_none() && s.sync_requested {
        s.sync_requested = false;
        let fresh = s
            .reconciled_to
            .is_some_and(|t| t > now.plus_days(-EVENT_RETENTION_DAYS));
        let phase = if fresh { Phase::Events } else { Phase::Lists };
        s.run = Some(run(RunKind::Sync, phase));
    }
}

/// Runs the worker every few seconds, forever (`kustiq-local serve`): a queued backfill
/// or sync starts within seconds; a failed run is logged and retried on the next turn.
pub async fn run_forever<S: SyncStores, R: SyncReaders>(
    store: &S,
    readers: &R,
    cfg: &EngineConfig,
    clock: &dyn Clock,
) {
    loop {
        let worker = Worker::new(store, readers, cfg, clock, WorkerConfig::local());
        match worker.run_due().await {
            Ok(report) if !report.outcomes.is_empty() => {
                tracing::info!(outcomes = ?report.outcomes, "sync worker run");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sync worker run failed"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
