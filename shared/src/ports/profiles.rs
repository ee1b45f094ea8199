//! CRM profiles, their stored scores and score history.

use crate::domain::ids::{ProfileId, WorkspaceId};
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::ports::store::{Page, StoreError};
use std::future::Future;

/// Stores profiles and reads their scores.
///
/// Contract: `put_profile` replaces the profile and, when it names a Stripe
/// customer, the customer → profile match, together; reads of missing items
/// are `Ok(None)`; `at_risk` pages highest score first and rejects a foreign
/// or broken cursor with [`StoreError::BadCursor`].
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

    /// Writes a score (and a history entry) if its version is still `expected`.
    fn put_score(
        &self,
        workspace: &WorkspaceId,
        score: &StoredScore,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Profiles scoring at least `min_score`, highest first.
    fn at_risk(
        &self,
        workspace: &WorkspaceId,
        min_score: u8,
        limit: i32,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<Page<StoredScore>, StoreError>> + Send;

    /// A profile's score history, newest first, at most `limit` entries.
    fn history(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;
}
