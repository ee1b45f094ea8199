//! What the plan samples say over time: plan drops (downgrades) and MRR at an instant.
//!
//! Both compare amounts of one subscription at two instants, and both neutralise what
//! is not a contraction: a change of billing interval of the same product and seats
//! (monthly → annual is a commitment, even with the annual discount), and a coupon
//! (drops are measured on list amounts). Samples whose amount is not known take part
//! in no comparison: no factor fires on a guess.

use crate::domain::billing_state::{BillingState, PlanSample};
use crate::domain::ids::StripeObjectId;
use crate::domain::money::Currency;
use crate::domain::mrr::SubscriptionStatus;
use crate::domain::time::Timestamp;
use std::collections::BTreeMap;

/// One plan-amount drop between two samples of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drop<'a> {
    /// The sample before.
    pub before: &'a PlanSample,
    /// The sample after.
    pub after: &'a PlanSample,
    /// Currency of the amounts.
    pub currency: Currency,
    /// Monthly list amount before.
    pub from: i64,
    /// Monthly list amount after, re-priced against `before`.
    pub to: i64,
}

/// Drops of `sub` at or after `window_start` (up to `now`) that the subscription has not
/// since recovered from (come back to at least its amount before the first of them).
/// Consecutive known samples are compared; a status change is not a plan change.
pub fn unrecovered_drops<'a>(
    state: &'a BillingState,
    sub: &'a StripeObjectId,
    window_start: Timestamp,
    now: Timestamp,
) -> Vec<Drop<'a>> {
    let samples: Vec<&PlanSample> = state
        .samples_of(sub)
        .filter(|s| s.at <= now && !s.unknown && s.plan.is_some())
        .collect();
    let Some(current) = samples.last() else {
        return Vec::new();
    };
    let mut drops = Vec::new();
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let (Some((ca, from)), Some((cb, to))) = (a.list_amount(), b.list_comparable_to(a)) else {
            continue;
        };
        if ca == cb && to < from && b.at >= window_start {
            drops.push(Drop {
                before: a,
                after: b,
                currency: cb,
                from,
                to,
            });
        }
    }
    // Recovery: the current plan is back to at least the amount before the first drop.
    let recovered = drops.first().is_some_and(|first| {
        let pre = first.before;
        match (pre.list_amount(), current.list_comparable_to(pre)) {
            (Some((c1, before)), Some((c2, now))) => c1 == c2 && now >= before,
            _ => false,
        }
    });
    if recovered { Vec::new() } else { drops }
}

/// The sample that stands for `sub` at `t`, and whether the subscription counted then.
/// Before its first sample, the first one is projected back while the subscription had
/// started, was out of trial and had not ended (a backfill sees only the current object).
pub fn sample_at<'a>(
    state: &'a BillingState,
    sub: &'a StripeObjectId,
    t: Timestamp,
) -> Option<(&'a PlanSample, bool)> {
    if let Some(s) = state.samples_of(sub).filter(|s| s.at <= t).last() {
        return Some((s, s.counts()));
    }
    let first = state.samples_of(sub).next()?;
    let v = &state.subscription(sub)?.value;
    let started = v.created <= t;
    let in_trial = v.trial_end.is_some_and(|e| e > t);
    let ended = v.ended_at.is_some_and(|e| e <= t);
    let never_paid = matches!(
        first.status,
        SubscriptionStatus::Incomplete | SubscriptionStatus::IncompleteExpired
    );
    Some((first, started && !in_trial && !ended && !never_paid))
}

/// MRR at `t` per currency, summed from per-subscription contributions (`None` when a
/// counted subscription's amount was not known then).
pub fn mrr_at(state: &BillingState, t: Timestamp) -> Option<BTreeMap<Currency, i64>> {
    let mut out = BTreeMap::new();
    for sub in state.subscriptions.keys() {
        let Some((s, counts)) = sample_at(state, sub, t) else {
            continue;
        };
        if counts && s.unknown {
            return None;
        }
        if let Some((c, a)) = s.plan {
            *out.entry(c).or_insert(0) += if counts { a } else { 0 };
        }
    }
    Some(out)
}

/// MRR then and now per currency, for the MRR-change signal: a subscription paused at
/// either instant is left out (its pause is its own factor: one event, one factor), and
/// each subscription's amount now is re-priced against its plan then, so a change of
/// billing interval of the same product and seats is no change. `None` when an amount
/// that counts was not known.
#[allow(clippy::type_complexity)]
pub fn mrr_then_and_now(
    state: &BillingState,
    then_at: Timestamp,
    now: Timestamp,
) -> Option<(BTreeMap<Currency, i64>, BTreeMap<Currency, i64>)> {
    let mut then = BTreeMap::new();
    let mut current = BTreeMap::new();
    for sub in state.subscriptions.keys() {
        let before = sample_at(state, sub, then_at);
        let after = sample_at(state, sub, now);
        if before.is_some_and(|(s, _)| s.paused()) || after.is_some_and(|(s, _)| s.paused()) {
            continue;
        }
        if before.is_some_and(|(s, counts)| counts && s.unknown)
            || after.is_some_and(|(s, counts)| counts && s.unknown)
        {
            return None;
        }
        if let Some((s, counts)) = before
            && let Some((c, a)) = s.plan
        {
            *then.entry(c).or_insert(0) += if counts { a } else { 0 };
        }
        if let Some((s, counts)) = after {
            let amount = match before {
                Some((b, _)) => s.plan_comparable_to(b),
                None => s.plan,
            };
            if let Some((c, a)) = amount {
                *current.entry(c).or_insert(0) += if counts { a } else { 0 };
            }
        }
    }
    Some((then, current))
}
