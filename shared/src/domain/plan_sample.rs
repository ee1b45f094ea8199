//! One subscription's plan at one instant, as the billing state keeps it, and how two
//! such samples compare (interval changes and coupons neutralised: `docs/scoring.md`).

use crate::domain::ids::{StripeEventId, StripeObjectId};
use crate::domain::money::Currency;
use crate::domain::mrr::{BillingPeriod, Ratio, SubscriptionStatus};
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One product of a plan sample: what a change of billing interval is judged on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlanLine {
    /// The product (`prod_…`), when the price names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// How often it bills.
    pub period: BillingPeriod,
    /// Seats (quantity).
    pub quantity: u64,
    /// Monthly list amount before any discount, exact minor units.
    pub monthly: Ratio,
}

/// The monthly plan amount of one subscription at one instant, and whether it counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlanSample {
    /// The subscription.
    pub subscription: StripeObjectId,
    /// When this was the plan.
    pub at: Timestamp,
    /// 0 = the plan just before an update event (`previous_attributes`), 1 = observed.
    pub phase: u8,
    /// Status at that time.
    pub status: SubscriptionStatus,
    /// Collection paused at that time.
    pub collection_paused: bool,
    /// Monthly plan amount (forever discounts applied, status ignored), rounded half to
    /// even; `None` when the subscription had no licensed recurring item or an amount
    /// was not known (`unknown`).
    pub plan: Option<(Currency, i64)>,
    /// The event that told us.
    pub event: Option<StripeEventId>,
    /// The licensed recurring items before discounts (empty in samples stored before
    /// interval changes were judged by product).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<PlanLine>,
    /// An amount of this plan was not known (tiers or a coupon not resolved yet): the
    /// sample takes part in no comparison.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
}

impl PlanSample {
    /// Whether the subscription counted toward MRR then.
    pub fn counts(&self) -> bool {
        self.status.counts_toward_mrr() && !self.collection_paused
    }

    /// Paused then: status `paused`, or collection paused while running.
    pub fn paused(&self) -> bool {
        self.status == SubscriptionStatus::Paused
            || (self.collection_paused && !self.status.is_terminal())
    }

    /// What the sample contributed to MRR: the plan amount when the status counted.
    pub fn contribution(&self) -> Option<(Currency, i64)> {
        let counts = self.counts();
        self.plan.map(|(c, a)| (c, if counts { a } else { 0 }))
    }

    /// The monthly list amount (before discounts), in the plan's currency.
    pub fn list_amount(&self) -> Option<(Currency, i64)> {
        let (currency, plan) = self.plan?;
        if self.lines.is_empty() {
            return Some((currency, plan));
        }
        let sum = self
            .lines
            .iter()
            .fold(Ratio::ZERO, |acc, l| acc + l.monthly);
        Some((currency, sum.round_half_even()))
    }

    /// This plan's lines re-priced against `earlier`: a product `earlier` billed at
    /// another interval is priced at `earlier`'s monthly amount per seat of that product,
    /// so moving the same product and seats to another interval changes nothing, while
    /// a seat or product change made with it still does. Returns (re-priced, actual)
    /// list sums; `None` when either sample has no lines.
    fn repriced_against(&self, earlier: &PlanSample) -> Option<(Ratio, Ratio)> {
        if self.lines.is_empty() || earlier.lines.is_empty() {
            return None;
        }
        let mut repriced = Ratio::ZERO;
        let mut actual = Ratio::ZERO;
        for line in &self.lines {
            actual = actual + line.monthly;
            let before: Vec<&PlanLine> = earlier
                .lines
                .iter()
                .filter(|e| e.product.is_some() && e.product == line.product)
                .collect();
            let seats: u64 = before.iter().map(|e| e.quantity).sum();
            let interval_changed =
                !before.is_empty() && before.iter().all(|e| e.period != line.period);
            repriced = repriced
                + if interval_changed && seats > 0 {
                    let amount = before.iter().fold(Ratio::ZERO, |acc, e| acc + e.monthly);
                    amount.scale(i128::from(line.quantity), i128::from(seats))
                } else {
                    line.monthly
                };
        }
        Some((repriced, actual))
    }

    /// The list amount to compare with `earlier`'s for a plan drop: interval changes of
    /// the same product neutralised ([`PlanSample::repriced_against`]); coupons never
    /// count (a discount is not a contraction).
    pub fn list_comparable_to(&self, earlier: &PlanSample) -> Option<(Currency, i64)> {
        let (currency, _) = self.plan?;
        match self.repriced_against(earlier) {
            Some((repriced, _)) => Some((currency, repriced.round_half_even())),
            None => self.list_amount(),
        }
    }

    /// The plan amount (discounts applied) to compare with `earlier`'s for the MRR
    /// change, with interval changes of the same product neutralised the same way.
    pub fn plan_comparable_to(&self, earlier: &PlanSample) -> Option<(Currency, i64)> {
        let (currency, plan) = self.plan?;
        match self.repriced_against(earlier) {
            // Discounts scale with the list amount (percentages exactly).
            Some((repriced, actual)) if actual != Ratio::ZERO => Some((
                currency,
                (Ratio::int(plan) * repriced * actual.recip()).round_half_even(),
            )),
            _ => Some((currency, plan)),
        }
    }
}
