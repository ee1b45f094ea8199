//! The durable log of verified Stripe events: idempotency, retries after
//! acknowledgement, and the failed-event list.

use crate::domain::billing_state::Observation;
use crate::domain::ids::{StripeAccountId, StripeEventId, WorkspaceId};
use crate::domain::payments::ChargeOwner;
use crate::domain::time::Timestamp;
use crate::ports::store::{PageSize, StoreError};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Where an event stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EventStatus {
    /// Applied to billing state and scores.
    Applied {
        /// When.
        at: Timestamp,
    },
    /// Recorded, waiting for another attempt.
    Retrying {
        /// When the next attempt is due.
        next_attempt_at: Timestamp,
    },
    /// Given up after the retry schedule; listed on the status route, replayable.
    Failed,
    /// Recorded but never to be applied (e.g. livemode differs from the connection).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// The current version of [`RecordedEvent`]'s stored shape.
pub const RECORDED_EVENT_VERSION: u16 = 1;

/// Our own record of a verified Stripe event: its identity and what it told
/// the engine (domain observations), never Stripe's wire shape — so a change
/// of Stripe's models is not a data migration, and no raw body, card data or
/// address can be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Shape version ([`RECORDED_EVENT_VERSION`]).
    pub version: u16,
    /// `evt_…`: the idempotency key.
    pub id: StripeEventId,
    /// Stripe's event type, e.g. `invoice.payment_failed`.
    pub kind: String,
    /// The connected account, when the event carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<StripeAccountId>,
    /// Live or test.
    pub livemode: bool,
    /// Stripe's `created`.
    pub created: Timestamp,
    /// What the event told the billing state.
    pub observations: Vec<Observation>,
    /// Charge and payment-intent owners it named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charge_owners: Vec<ChargeOwner>,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The workspace the event was routed to.
    pub workspace_id: WorkspaceId,
    /// The event, as we keep it.
    pub event: RecordedEvent,
    /// When we first received it.
    pub received_at: Timestamp,
    /// Where it stands.
    pub status: EventStatus,
    /// How many times applying it failed.
    pub attempts: u32,
    /// The last failure, safe to show.
    pub last_error: Option<String>,
}

/// Outcome of [`EventLog::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time this event id is seen.
    New,
    /// Already recorded: acknowledge and change nothing.
    Duplicate,
}

/// The durable event log.
///
/// Contract: `record` is a conditional write on the event id and returns
/// [`Recorded::Duplicate`] (not an error) when the id exists; `update` fails
/// with [`StoreError::Conflict`] if the stored version is not `expected`.
pub trait EventLog: Send + Sync {
    /// Records a new event.
    fn record(
        &self,
        record: &EventRecord,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// The stored record and its version.
    fn event(
        &self,
        workspace: &WorkspaceId,
        id: &StripeEventId,
    ) -> impl Future<Output = Result<Option<(EventRecord, u64)>, StoreError>> + Send;

    /// Replaces a record if its version is still `expected`.
    fn update(
        &self,
        record: &EventRecord,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Events given up on, for the status route.
    fn failed(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Vec<EventRecord>, StoreError>> + Send;

    /// Events whose next attempt is due at `now`, oldest first, at most `limit`.
    fn due(
        &self,
        now: Timestamp,
        limit: PageSize,
    ) -> impl Future<Output = Result<Vec<(EventRecord, u64)>, StoreError>> + Send;
}
