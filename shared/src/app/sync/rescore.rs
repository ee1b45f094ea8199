//! The rescore phase: every matched profile scored again against now, so time windows
//! expire (a dispute 8 days old no longer counts, a failure 31 days old drops out) even
//! when no event arrived. The same scoring function as every other path.

use super::lists::{Flow, PAGE};
use super::worker::Ctx;
use super::{SyncError, SyncStores};
use crate::app::optimistic::{Round, until_committed};
use crate::app::score::score_profile;
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::ports::store::{PageSize, StoreCursor, StoreError};
use std::time::Instant;

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
        let mut n = 0;
        for (customer, profile) in &page.items {
            if rescore_one(ctx, customer, profile).await? {
                n += 1;
            }
        }
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
        let Some(profile) = store.profile(ws, pid).await? else {
            return Ok(Round::Done(false));
        };
        // A link left behind by a changed override: the profile names another customer.
        if profile.stripe_customer_id.as_ref() != Some(customer) {
            return Ok(Round::Done(false));
        }
        let (billing, _) = store.load(ws, customer).await?;
        let billing = Some(billing).filter(|b| b.newest.is_some());
        let stored = store.score(ws, pid).await?;
        let score = score_profile(
            &profile,
            billing.as_ref(),
            ctx.connection.feeds_scores(),
            ctx.now,
            ctx.cfg,
            ctx.reason,
        );
        if let Some((old, _)) = &stored
            && old.score == score.score
            && old.billing == score.billing
        {
            return Ok(Round::Done(false));
        }
        let version = stored.map(|(_, v)| v).unwrap_or(0);
        let outcome = store.save_scored(ws, &profile, &score, version).await?;
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
