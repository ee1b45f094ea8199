//! The rescore phase: every matched profile scored again against now, so time windows
//! expire (a dispute 8 days old no longer counts, a failure 31 days old drops out) even
//! when no event arrived. The same scoring function as every other path.

use super::lists::{Flow, PAGE};
use super::worker::Ctx;
use super::{SyncError, SyncStores};
use crate::app::optimistic::{Round, until_committed};
use crate::app::outbound::derive::derive;
use crate::app::score::score_profile;
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::domain::profile_history::advance;
use crate::ports::store::{PageSize, StoreCursor, StoreError};
use futures::{StreamExt, TryStreamExt};
use std::time::Instant;

/// Profiles rescored at once within a page.
const RESCORE_CONCURRENCY: usize = 8;

/// Rescores every linked profile, a page at a time, from the checkpoint.
pub async fn rescore_all<S: SyncStores, T>(ctx: &Ctx<'_, S, T>) -> Result<Flow, SyncError> {
    let page_size = PageSize::new(PAGE as u16).unwrap_or(PageSize::MIN);
    loop {
        if Instant::now() >= ctx.deadline {
            return Ok(Flow::OutOfTime);
        }
        let after = ctx
            .held
            .state()
            .await
            .run
            .and_then(|r| r.rescore_after)
            .map(StoreCursor::new);
        let page = ctx
            .store
            .links(&ctx.connection.workspace_id, page_size, after)
            .await?;
        // A page's profiles are independent (one customer each): several at once, so
        // the run waits on the store's latency once per batch, not once per profile.
        let written: Vec<bool> = futures::stream::iter(page.items.iter().cloned())
            .map(|(customer, profile)| async move { rescore_one(ctx, &customer, &profile).await })
            .buffer_unordered(RESCORE_CONCURRENCY)
            .try_collect()
            .await?;
        let n = written.iter().filter(|w| **w).count() as u64;
        let next = page.next_cursor.map(|c| c.as_str().to_owned());
        ctx.held
            .update(ctx.now, |s| {
                if let Some(run) = &mut s.run {
                    run.rescore_after = next.clone();
                    run.rescored += n;
                }
            })
            .await?;
        if next.is_none() {
            return Ok(Flow::Done);
        }
    }
}

/// Scores one profile against now; writes only when something changed. Returns
/// whether a new score was written.
async fn rescore_one<S: SyncStores, T>(
    ctx: &Ctx<'_, S, T>,
    customer: &StripeCustomerId,
    pid: &ProfileId,
) -> Result<bool, SyncError> {
    let ws = &ctx.connection.workspace_id;
    let store = ctx.store;
    let written = until_committed(|| async {
        // Billing state, match, profile and score in two batched reads.
        let snap = store.snapshot(ws, None, customer).await?;
        let Some(profile) = snap.profile else {
            return Ok(Round::Done(false));
        };
        // A link left behind by a changed override: the profile names another customer.
        if &profile.profile_id != pid || profile.stripe_customer_id.as_ref() != Some(customer) {
            return Ok(Round::Done(false));
        }
        let billing = Some(snap.billing.0).filter(|b| b.newest.is_some());
        let previous = snap.previous_score.as_ref();
        // Through the history (one point per change, the 7-day rise) like every score write.
        let score = advance(
            previous,
            score_profile(
                &profile,
                billing.as_ref(),
                ctx.connection.feeds_scores(),
                ctx.now,
                ctx.cfg,
                ctx.reason,
            ),
        );
        let version = snap.score_version;
        // Time alone can move a profile in or out of the segment or make a renewal due:
        // those are outbound events, committed with the score.
        let events = derive(ws, previous, &score, version + 1);
        if let Some(old) = previous
            && old.score == score.score
            && old.billing == score.billing
            && events.is_empty()
        {
            return Ok(Round::Done(false));
        }
        let outcome = store
            .save_scored_with_events(ws, &profile, &score, version, &events)
            .await?;
        Ok::<_, StoreError>(Round::from_commit(outcome, |_| true))
    })
    .await?;
    match written {
        Some(w) => Ok(w),
        None => Err(SyncError::Store(StoreError::Unavailable(
            "the profile's score kept changing concurrently".into(),
        ))),
    }
}
