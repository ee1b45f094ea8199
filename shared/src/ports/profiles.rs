//! CRM profiles, their stored scores and score history.

use crate::domain::ids::{ProfileId, WorkspaceId};
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::domain::segment::SegmentOrder;
use crate::ports::store::{Committed, Page, PageSize, StoreCursor, StoreError};
use std::future::Future;

/// One entry of the at-risk index.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentEntry {
    /// The stored score.
    pub score: StoredScore,
    /// Where a page that ends with this entry resumes.
    pub resume: StoreCursor,
}

/// Stores profiles and reads their scores.
///
/// Contract: `put_profile` replaces the profile and, when it names a Stripe
/// customer, the customer → profile match, together; `save_scored` writes the
/// profile, its match, its score and a history entry in one transaction, or
/// nothing (`Committed::Raced` when the score's version moved); reads of
/// missing items are `Ok(None)`; `at_risk` pages in the asked order, each
/// entry with the cursor that resumes right after it, and rejects a broken
/// cursor with [`StoreError::BadCursor`]. A history entry is written only
/// for a score that changed something (`StoredScore::change`), keyed so that
/// two writes in the same second never collide.
pub trait ProfileStore: Send + Sync {
    /// Creates or replaces a profile (and its match).
    fn put_profile(
        &self,
        workspace: &WorkspaceId,
        profile: &Profile,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One profile.
    fn profile(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
    ) -> impl Future<Output = Result<Option<Profile>, StoreError>> + Send;

    /// A profile's latest score and its version.
    fn score(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
    ) -> impl Future<Output = Result<Option<(StoredScore, u64)>, StoreError>> + Send;

    /// Writes the profile (and its match) with its new score and a history
    /// entry, all or nothing, if the score's version is still `expected` (0: none yet).
    fn save_scored(
        &self,
        workspace: &WorkspaceId,
        profile: &Profile,
        score: &StoredScore,
        expected: u64,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Scored profiles from an index, never a scan: in `SegmentOrder::Score`,
    /// those scoring at least `min_tenths` / 10 in the segment's order; in
    /// `SegmentOrder::Rising`, the at-risk profiles whose score rose, largest
    /// rise first.
    fn at_risk(
        &self,
        workspace: &WorkspaceId,
        order: SegmentOrder,
        min_tenths: u16,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> impl Future<Output = Result<Page<SegmentEntry>, StoreError>> + Send;

    /// A profile's score history, newest first, at most `limit` entries.
    fn history(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
        limit: PageSize,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;
}
