//! Where backfills and syncs keep their place: one sync state per workspace (the queue
//! entry, the lease, each list's checkpoint), and the region's connected workspaces.

use crate::domain::ids::WorkspaceId;
use crate::domain::time::Timestamp;
use crate::ports::store::{Page, PageSize, StoreCursor, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// The Stripe lists a backfill (or a full re-list) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// `/v1/customers`.
    Customers,
    /// `/v1/subscriptions?status=all`.
    Subscriptions,
    /// `/v1/invoices`.
    Invoices,
    /// `/v1/charges`.
    Charges,
    /// `/v1/disputes`.
    Disputes,
}

impl ListKind {
    /// Every list, in the order they start.
    pub const ALL: [Self; 5] = [
        Self::Customers,
        Self::Subscriptions,
        Self::Invoices,
        Self::Charges,
        Self::Disputes,
    ];
}

/// One list's checkpoint: resume after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCursor {
    /// The id of the last object applied (Stripe's `starting_after`).
    #[serde(default)]
    pub after: Option<String>,
    /// The list is read to its end.
    #[serde(default)]
    pub done: bool,
    /// Objects applied from this list.
    #[serde(default)]
    pub objects: u64,
}

/// What a run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// The first read of the account's history (or its replay).
    Backfill,
    /// Nightly or sync-now: reconcile missed events, then rescore against now.
    Sync,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading the lists.
    Lists,
    /// Reading `/v1/events` since the last reconcile.
    Events,
    /// Rescoring every matched profile against now.
    Rescore,
}

/// A backfill or sync in progress, with everything needed to resume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Backfill or sync.
    pub kind: RunKind,
    /// When it started (the next reconcile starts here).
    pub started_at: Timestamp,
    /// `created[gte]` of the invoice, charge and dispute lists (`None`: all time).
    pub since: Option<Timestamp>,
    /// The phase.
    pub phase: Phase,
    /// Each list's checkpoint.
    #[serde(default)]
    pub lists: BTreeMap<ListKind, ListCursor>,
    /// The events phase's checkpoint: the last event applied.
    #[serde(default)]
    pub events_after: Option<String>,
    /// The rescore phase's checkpoint: the store's cursor over matched profiles.
    #[serde(default)]
    pub rescore_after: Option<String>,
    /// Objects (and events) applied so far.
    #[serde(default)]
    pub objects_done: u64,
    /// Profiles rescored so far.
    #[serde(default)]
    pub rescored: u64,
}

/// Who holds a workspace's sync, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker (random per invocation).
    pub owner: String,
    /// The lease lapses then: another worker may take over.
    pub until: Timestamp,
}

/// A workspace's sync state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The run in progress.
    #[serde(default)]
    pub run: Option<Run>,
    /// A sync was asked for (nightly or sync-now) and starts when no run is in progress.
    #[serde(default)]
    pub sync_requested: bool,
    /// Events up to here are reconciled (`None`: never).
    #[serde(default)]
    pub reconciled_to: Option<Timestamp>,
    /// The current holder.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Paused until then (rate limit, restricted account, outage).
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// When the last run finished.
    #[serde(default)]
    pub last_run_at: Option<Timestamp>,
}

impl SyncState {
    /// An idle state.
    pub fn new(workspace: WorkspaceId) -> Self {
        Self {
            workspace,
            run: None,
            sync_requested: false,
            reconciled_to: None,
            lease: None,
            not_before: None,
            last_run_at: None,
        }
    }

    /// Whether work waits (a run to continue or a sync to start), and from when.
    pub fn due_at(&self) -> Option<Timestamp> {
        (self.run.is_some() || self.sync_requested)
            .then(|| self.not_before.unwrap_or(Timestamp::from_unix(0)))
    }

    /// Whether another worker holds the lease at `now`.
    pub fn leased_by_other(&self, owner: &str, now: Timestamp) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|l| l.owner != owner && l.until > now)
    }
}

/// Stores sync states and lists the work.
///
/// Contract: `save_sync_state` writes only if the stored version is still `expected`
/// (0: must not exist) and fails with [`StoreError::Conflict`] otherwise — the lease
/// is taken and renewed through it; `due` lists workspaces with a pending backfill
/// (on their connection) or a due sync state, oldest first; `claim_nightly` is true
/// for exactly one caller per `day`.
pub trait SyncStore: Send + Sync {
    /// The workspace's sync state and its version.
    fn sync_state(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Option<(SyncState, u64)>, StoreError>> + Send;

    /// Writes the state if the stored version is still `expected`; returns the new version.
    fn save_sync_state(
        &self,
        state: &SyncState,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Workspaces with work due at `now`, at most `limit`.
    fn due_syncs(
        &self,
        now: Timestamp,
        limit: PageSize,
    ) -> impl Future<Output = Result<Vec<WorkspaceId>, StoreError>> + Send;

    /// One page of the region's workspaces with a Stripe connection.
    fn connected_workspaces(
        &self,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> impl Future<Output = Result<Page<WorkspaceId>, StoreError>> + Send;

    /// True for the first caller of `day` (`YYYY-MM-DD`): that caller starts the nightly sync.
    fn claim_nightly(
        &self,
        day: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
