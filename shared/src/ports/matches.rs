//! The match table: each Stripe customer's match decision, the profiles it is decided
//! against, and the customer → profile links that feed scores.

use crate::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use crate::domain::matching::{CustomerContact, MatchDecision, MatchStatus, ProfileContact};
use crate::domain::time::Timestamp;
use crate::ports::store::{Page, PageSize, StoreCursor, StoreError};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One row of the match table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    /// What the customer offered to be matched on.
    pub contact: CustomerContact,
    /// The decision.
    pub decision: MatchDecision,
    /// When it was decided.
    pub decided_at: Timestamp,
}

/// Stores match records; reads profiles and links for matching and rescoring.
///
/// Contract: `save_match` replaces the customer's record (its status index with it);
/// reads of missing items are `Ok(None)`; pages reject a foreign cursor with
/// [`StoreError::BadCursor`]; `unlink` of a missing link is `Ok`.
pub trait MatchStore: Send + Sync {
    /// The customer's record.
    fn match_record(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> impl Future<Output = Result<Option<MatchRecord>, StoreError>> + Send;

    /// Writes the customer's record.
    fn save_match(
        &self,
        workspace: &WorkspaceId,
        record: &MatchRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of records with `status`, by customer id.
    fn matches(
        &self,
        workspace: &WorkspaceId,
        status: MatchStatus,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> impl Future<Output = Result<Page<MatchRecord>, StoreError>> + Send;

    /// One page of every record, by customer id (rematch).
    fn match_records(
        &self,
        workspace: &WorkspaceId,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> impl Future<Output = Result<Page<MatchRecord>, StoreError>> + Send;

    /// Every profile of the workspace, as matching sees them.
    fn profile_contacts(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Vec<ProfileContact>, StoreError>> + Send;

    /// One page of the customer → profile links that feed scores.
    fn links(
        &self,
        workspace: &WorkspaceId,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> impl Future<Output = Result<Page<(StripeCustomerId, ProfileId)>, StoreError>> + Send;

    /// Removes the customer → profile link (a cleared manual override).
    fn unlink(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
