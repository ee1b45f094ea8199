//! Dashboard use cases: put a profile (it and its new score commit together),
//! read a profile, its explained score, and the at-risk segment.

use crate::app::optimistic::{Round, until_committed};
use crate::app::score::score_profile;
use crate::domain::engine::EngineConfig;
use crate::domain::ids::{ProfileId, WorkspaceId};
use crate::domain::limits::check_profile;
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::domain::profile_history::{advance, rise_at};
use crate::domain::segment::{SegmentFilter, SegmentOrder};
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
    let connected = feeds_scores(store, ws).await?;
    let score = store_profile(store, cfg, now, ws, profile, connected).await?;
    let history = store
        .history(ws, &profile.profile_id, HISTORY_SHOWN)
        .await?;
    Ok(Explained { score, history })
}

/// Whether the workspace's Stripe connection feeds scores (the billing family).
pub async fn feeds_scores<S: ConnectionStore>(
    store: &S,
    ws: &WorkspaceId,
) -> Result<bool, DashboardError> {
    Ok(store
        .connection(ws)
        .await?
        .is_some_and(|(c, _)| c.feeds_scores()))
}

/// The write of [`put_profile`] alone (a batch entry): checks the limits,
/// scores with the matched customer's billing state, commits profile, match,
/// score and history together, and returns the stored score.
pub async fn store_profile<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    profile: &Profile,
    connected: bool,
) -> Result<StoredScore, DashboardError>
where
    S: ProfileStore + BillingStore,
{
    check_profile(profile).map_err(|e| DashboardError::Invalid(e.to_string()))?;
    let committed = until_committed(|| async {
        let billing = match &profile.stripe_customer_id {
            Some(c) => Some(store.load(ws, c).await?.0).filter(|b| b.newest.is_some()),
            None => None,
        };
        let previous = store.score(ws, &profile.profile_id).await?;
        let version = previous.as_ref().map(|(_, v)| *v).unwrap_or(0);
        let score = advance(
            previous.as_ref().map(|(s, _)| s),
            score_profile(
                profile,
                billing.as_ref(),
                connected,
                now,
                cfg,
                "profile update",
            ),
        );
        let outcome = store.save_scored(ws, profile, &score, version).await?;
        Ok::<_, StoreError>(Round::from_commit(outcome, |_| score))
    })
    .await?;
    committed.ok_or(DashboardError::Contended)
}

/// [`put_profile`], then customers still in review or unmatched are decided again: the
/// new or changed profile may be the one they were missing. Returns the profile's
/// explained score after matching. A matching failure is logged, not returned: the
/// profile is stored, and `POST …/rematch` decides again.
pub async fn put_profile_and_match<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    profile: &Profile,
) -> Result<Explained, DashboardError>
where
    S: crate::app::matching::MatchingStores,
{
    let stored = put_profile(store, cfg, now, ws, profile).await?;
    if profile.email.is_none() && profile.domain.is_none() {
        return Ok(stored);
    }
    match crate::app::matching::on_profile_written(store, cfg, now, ws).await {
        Ok(r) if r.matched > 0 => explained(store, ws, &profile.profile_id).await,
        Ok(_) => Ok(stored),
        Err(e) => {
            tracing::warn!(error = %e, "matching after a profile write failed");
            Ok(stored)
        }
    }
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

/// Index entries one at-risk request reads at most, so a filter that matches
/// little still answers promptly; the page then ends early with a cursor.
pub const AT_RISK_READ_BUDGET: usize = 1_000;

/// Index entries asked for per store read when a filter is set.
const FILTERED_READ: PageSize = match PageSize::new(200) {
    Some(p) => p,
    None => panic!("200 is a valid page size"),
};

/// What the at-risk route asks for.
#[derive(Debug, Clone, Default)]
pub struct AtRiskQuery {
    /// The order.
    pub order: SegmentOrder,
    /// The filters.
    pub filter: SegmentFilter,
}

/// One row of the at-risk segment.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRiskRow {
    /// The stored score.
    pub score: StoredScore,
    /// Its rise over the last 7 days as of now (`profile_history::rise_at`).
    pub rise: f64,
}

/// One page of the at-risk segment (scores at or above the engine's
/// threshold) in the asked order, filtered.
///
/// Pages never come back short-then-empty forever: every page reads the
/// index forward from the cursor and its `next_cursor` resumes right after
/// the last entry it read, so the cursor always advances and the walk ends.
/// A page holds `limit` rows unless the segment ends (then `next_cursor` is
/// `None`) or a filter matched fewer among the next [`AT_RISK_READ_BUDGET`]
/// entries (then it may be short, even empty, with a `next_cursor`).
pub async fn at_risk<S: ProfileStore>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    query: &AtRiskQuery,
    limit: PageSize,
    mut cursor: Option<StoreCursor>,
) -> Result<Page<AtRiskRow>, DashboardError> {
    let threshold = cfg.at_risk_threshold.clamp(0.0, 100.0);
    let floor = query.filter.min_score.unwrap_or(0.0).max(threshold);
    // The index sorts on the score in tenths; the exact bounds are checked below.
    let min_tenths = (floor * 10.0).floor().clamp(0.0, 1_000.0) as u16;
    let want = usize::from(limit.get());
    let filtered = query.filter != SegmentFilter::default() || query.order == SegmentOrder::Rising;
    let read = if filtered {
        FILTERED_READ.max(limit)
    } else {
        limit
    };
    let (mut rows, mut budget) = (Vec::new(), AT_RISK_READ_BUDGET);
    loop {
        let page = store
            .at_risk(ws, query.order, min_tenths, read, cursor.take())
            .await?;
        budget = budget.saturating_sub(page.items.len().max(1));
        let n = page.items.len();
        for (i, e) in page.items.into_iter().enumerate() {
            let rise = rise_at(&e.score, now);
            let keep = e.score.score.at_risk
                && e.score.score.score >= floor
                && query.filter.admits(&e.score)
                && (query.order == SegmentOrder::Score || rise > 0.0);
            if keep {
                rows.push(AtRiskRow {
                    score: e.score,
                    rise,
                });
            }
            if rows.len() == want {
                // Resume right after this row: the entries after it were not consumed.
                let next_cursor = if i + 1 == n {
                    page.next_cursor
                } else {
                    Some(e.resume)
                };
                return Ok(Page {
                    items: rows,
                    next_cursor,
                });
            }
        }
        match page.next_cursor {
            Some(next) if budget > 0 => cursor = Some(next),
            next => {
                return Ok(Page {
                    items: rows,
                    next_cursor: next,
                });
            }
        }
    }
}
