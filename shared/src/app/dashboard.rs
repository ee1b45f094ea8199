//! Dashboard use cases: put a profile (it and its new score commit together),
//! read a profile, its explained score, and the at-risk segment.

use crate::app::optimistic::{Round, until_committed};
use crate::app::outbound::derive::derive;
use crate::app::score::score_profile;
use crate::domain::engine::EngineConfig;
use crate::domain::ids::{ProfileId, WorkspaceId};
use crate::domain::limits::check_profile;
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::domain::time::Timestamp;
use crate::ports::billing::BillingStore;
use crate::ports::connections::ConnectionStore;
use crate::ports::profiles::ProfileStore;
use crate::ports::store::{Page, PageSize, StoreCursor, StoreError};

/// History entries shown with a score.
pub const HISTORY_SHOWN: PageSize = match PageSize::new(50) {
    Some(p) => p,
    None => panic!("50 is a valid page size"),
};

/// Why a dashboard use case failed. Mapped to a status in `http/error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The input breaks a documented rule; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The input is larger than its documented limit; nothing was written.
    #[error("{0}")]
    TooLarge(String),
    /// No such item in this workspace.
    #[error("{0}")]
    NotFound(String),
    /// Every round raced with another writer; nothing was written.
    #[error("contended")]
    Contended,
    /// A replayed event failed again.
    #[error("replay failed again: {0}")]
    ReplayFailed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A score with its recent history, as the explained-score route shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The latest score.
    pub score: StoredScore,
    /// Newest first.
    pub history: Vec<HistoryEntry>,
}

/// Stores `profile` and its new score in one transaction, retrying on races
/// with ingest or other writers, so the stored profile and score always come
/// from the same request.
pub async fn put_profile<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    profile: &Profile,
) -> Result<Explained, DashboardError>
where
    S: ProfileStore + ConnectionStore + BillingStore,
{
    check_profile(profile).map_err(|e| DashboardError::Invalid(e.to_string()))?;
    let connected = store
        .connection(ws)
        .await?
        .is_some_and(|(c, _)| c.feeds_scores());
    let committed = until_committed(|| async {
        let billing = match &profile.stripe_customer_id {
            Some(c) => Some(store.load(ws, c).await?.0).filter(|b| b.newest.is_some()),
            None => None,
        };
        let (previous, version) = match store.score(ws, &profile.profile_id).await? {
            Some((s, v)) => (Some(s), v),
            None => (None, 0),
        };
        let score = score_profile(
            profile,
            billing.as_ref(),
            connected,
            now,
            cfg,
            "profile update",
        );
        let events = derive(ws, previous.as_ref(), &score, version + 1);
        let outcome = store
            .save_scored_with_events(ws, profile, &score, version, &events)
            .await?;
        Ok::<_, StoreError>(Round::from_commit(outcome, |_| score))
    })
    .await?;
    let score = committed.ok_or(DashboardError::Contended)?;
    let history = store
        .history(ws, &profile.profile_id, HISTORY_SHOWN)
        .await?;
    Ok(Explained { score, history })
}

/// One profile of the workspace.
pub async fn profile<S: ProfileStore>(
    store: &S,
    ws: &WorkspaceId,
    id: &ProfileId,
) -> Result<Profile, DashboardError> {
    store
        .profile(ws, id)
        .await?
        .ok_or_else(|| DashboardError::NotFound(format!("no profile {id}")))
}

/// A profile's latest score and history.
pub async fn explained<S: ProfileStore>(
    store: &S,
    ws: &WorkspaceId,
    id: &ProfileId,
) -> Result<Explained, DashboardError> {
    let (score, _) = store
        .score(ws, id)
        .await?
        .ok_or_else(|| DashboardError::NotFound(format!("profile {id} has no score yet")))?;
    let history = store.history(ws, id, HISTORY_SHOWN).await?;
    Ok(Explained { score, history })
}

/// One page of the at-risk segment: scores at or above the engine's
/// threshold, highest first.
pub async fn at_risk<S: ProfileStore>(
    store: &S,
    cfg: &EngineConfig,
    ws: &WorkspaceId,
    limit: PageSize,
    cursor: Option<StoreCursor>,
) -> Result<Page<StoredScore>, DashboardError> {
    let threshold = cfg.at_risk_threshold.ceil().clamp(0.0, 100.0) as u8;
    let mut page = store.at_risk(ws, threshold, limit, cursor).await?;
    // The index sorts on the rounded score; the exact threshold is checked here.
    page.items.retain(|s| s.score.at_risk);
    Ok(page)
}
