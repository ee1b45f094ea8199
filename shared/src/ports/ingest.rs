//! What applying one event reads and writes, shaped so the webhook path needs
//! few requests: one read of everything the event touches, one transaction.

use crate::domain::billing_state::BillingState;
use crate::domain::ids::{StripeCustomerId, StripeEventId, WorkspaceId};
use crate::domain::profile::{Profile, StoredScore};
use crate::ports::events::EventRecord;
use crate::ports::store::StoreError;
use std::future::Future;

/// Everything applying observations to one customer reads.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The event's record and version, if an event was asked for and is recorded.
    pub recorded: Option<(EventRecord, u64)>,
    /// The customer's billing state and version (empty at 0).
    pub billing: (BillingState, u64),
    /// The matched profile, if any.
    pub profile: Option<Profile>,
    /// The version of the profile's stored score (0: none yet).
    pub score_version: u64,
    /// The profile's stored score, if any (the new one carries its trail on).
    pub previous_score: Option<StoredScore>,
}

/// Everything one pass of the apply pipe writes, all or nothing.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The event record in its new status and its stored version (0: not
    /// recorded yet); `None` for backfilled or synced objects.
    pub event: Option<(EventRecord, u64)>,
    /// The customer.
    pub customer: StripeCustomerId,
    /// The customer's new billing state.
    pub billing: BillingState,
    /// The billing state's stored version.
    pub billing_version: u64,
    /// Charge and payment-intent owners learned (disputes name only a charge).
    pub charge_owners: Vec<crate::domain::payments::ChargeOwner>,
    /// The matched profile's new score and its stored version.
    pub score: Option<(StoredScore, u64)>,
    /// Outbound churn events the score change made (the outbox): committed
    /// with the score or not at all.
    pub outbox: Vec<crate::ports::outbound::OutboundEvent>,
    /// The account route the event was routed by: the commit lands only while it
    /// is unchanged, else fails with [`StoreError::Conflict`] and writes nothing.
    pub route: Option<crate::ports::connections::RouteGuard>,
}

pub use crate::ports::store::Committed;

/// Reads and commits for the apply pipe (webhooks, replay, backfill, sync, rematch).
///
/// Contract: `commit` writes every item of the [`Commit`] or none (outbox
/// events included, ahead of charge owners within DynamoDB's 100-item limit);
/// [`StoreError::Unavailable`] means nothing is known to be written and the
/// caller may retry; `Duplicate` and `Raced` are outcomes, not errors.
pub trait IngestStore: Send + Sync {
    /// Reads the event record (when `event` is given), the customer's state
    /// and its matched profile.
    fn snapshot(
        &self,
        workspace: &WorkspaceId,
        event: Option<&StripeEventId>,
        customer: &StripeCustomerId,
    ) -> impl Future<Output = Result<Snapshot, StoreError>> + Send;

    /// The customer a charge belongs to, if known.
    fn charge_owner(
        &self,
        workspace: &WorkspaceId,
        charge: &str,
    ) -> impl Future<Output = Result<Option<StripeCustomerId>, StoreError>> + Send;

    /// Writes a commit atomically.
    fn commit(&self, commit: &Commit)
    -> impl Future<Output = Result<Committed, StoreError>> + Send;
}
