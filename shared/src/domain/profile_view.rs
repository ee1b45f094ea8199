//! The billing part of a profile: MRR, renewal date, lifecycle, churn type, trial,
//! open-invoice aging and active discounts.

use crate::domain::billing_state::{BillingState, InvoiceStatus};
use crate::domain::ids::{StripeCustomerId, StripeObjectId};
use crate::domain::lifecycle::{ChurnType, Lifecycle, churn_type, lifecycle};
use crate::domain::money::Money;
use crate::domain::mrr::{
    CouponDuration, DiscountValue, Mrr, MrrSettings, SubscriptionStatus, UnknownAmounts,
    customer_mrr,
};
use crate::domain::time::{DAY, Timestamp};
use serde::{Deserialize, Serialize};

/// A trial ending within this many days without a payment method is flagged.
pub const TRIAL_ENDING_NOTICE_DAYS: i64 = 7;

/// An open invoice and how old it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvoice {
    /// `in_…`.
    pub id: StripeObjectId,
    /// Still owed.
    pub amount_remaining: Money,
    /// Age is counted from here: the due date, or creation when there is none.
    pub since: Timestamp,
    /// Whole days since `since` (0 when not yet due).
    pub age_days: i64,
    /// Aging bucket.
    pub bucket: AgingBucket,
}

/// A discount still applying to a running subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveDiscount {
    /// The subscription.
    pub subscription: StripeObjectId,
    /// The coupon.
    pub coupon_id: String,
    /// Percent or amount off.
    pub value: DiscountValue,
    /// Forever / once / repeating.
    pub duration: CouponDuration,
    /// When it ends, if known.
    pub end: Option<Timestamp>,
}

/// A subscription that will cancel at a scheduled time (MRR still counts until then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledCancel {
    /// The subscription.
    pub subscription: StripeObjectId,
    /// When it cancels: `cancel_at`, or the period end for cancel-at-period-end.
    pub at: Option<Timestamp>,
}

/// The billing view of one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileBillingView {
    /// The matched Stripe customer.
    pub stripe_customer_id: Option<StripeCustomerId>,
    /// MRR in the main currency (0 when subscriptions exist but none counts; `None`
    /// when an amount is not known yet, see `mrr_unknown`).
    pub mrr: Option<Money>,
    /// MRR in every currency (empty while unknown).
    pub mrr_by_currency: Mrr,
    /// What keeps the MRR unknown (prices whose tiers, discounts whose coupon are not
    /// resolved yet); absent when the MRR is known. Unknown is never shown as 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrr_unknown: Option<UnknownAmounts>,
    /// Trial / customer / churned.
    pub lifecycle: Lifecycle,
    /// Next current-period end of a running subscription.
    pub renewal_date: Option<Timestamp>,
    /// Voluntary or involuntary, when churned.
    pub churn_type: Option<ChurnType>,
    /// Scheduled cancellations.
    pub scheduled_cancel: Vec<ScheduledCancel>,
    /// Latest trial end of a trialing subscription.
    pub trial_end: Option<Timestamp>,
    /// A trial ends within 7 days and no payment method is on file.
    pub trial_ending_without_payment_method: bool,
    /// Open invoices, oldest first.
    pub open_invoices: Vec<OpenInvoice>,
    /// Discounts in force.
    pub active_discounts: Vec<ActiveDiscount>,
}

/// Open-invoice aging bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AgingBucket {
    /// Up to 30 days.
    #[serde(rename = "0-30")]
    UpTo30,
    /// 31 to 60 days.
    #[serde(rename = "31-60")]
    UpTo60,
    /// 61 to 90 days.
    #[serde(rename = "61-90")]
    UpTo90,
    /// More than 90 days.
    #[serde(rename = "90+")]
    Over90,
}

fn bucket(days: i64) -> AgingBucket {
    match days {
        ..=30 => AgingBucket::UpTo30,
        31..=60 => AgingBucket::UpTo60,
        61..=90 => AgingBucket::UpTo90,
        _ => AgingBucket::Over90,
    }
}

/// The billing view of `state` at `now`.
pub fn profile_billing_view(state: &BillingState, now: Timestamp) -> ProfileBillingView {
    let (mrr, mrr_unknown) = match customer_mrr(
        state.subscriptions().map(|s| s.as_mrr()),
        &MrrSettings::default(),
        now,
    ) {
        Ok(m) => (m, None),
        Err(missing) => (Mrr::default(), Some(missing)),
    };
    let preferred = state.customer.as_ref().and_then(|c| c.value.currency);
    let running: Vec<_> = state
        .subscriptions()
        .filter(|s| !s.status.is_terminal())
        .collect();
    let trialing: Vec<_> = running
        .iter()
        .filter(|s| s.status == SubscriptionStatus::Trialing)
        .collect();
    let trial_end = trialing.iter().filter_map(|s| s.trial_end).max();
    let trial_ending_without_payment_method = trialing.iter().any(|s| {
        s.trial_end
            .is_some_and(|e| e >= now && e.secs_since(now) <= TRIAL_ENDING_NOTICE_DAYS * DAY)
            && !state.has_payment_method(s)
    });
    let mut open_invoices: Vec<OpenInvoice> = state
        .invoices()
        .filter(|i| i.status == InvoiceStatus::Open)
        .map(|i| {
            let since = i.due_date.unwrap_or(i.created);
            let age_days = now.secs_since(since).div_euclid(DAY).max(0);
            OpenInvoice {
                id: i.id.clone(),
                amount_remaining: Money::new(i.amount_remaining, i.currency),
                since,
                age_days,
                bucket: bucket(age_days),
            }
        })
        .collect();
    open_invoices.sort_by(|a, b| a.since.cmp(&b.since).then(a.id.cmp(&b.id)));
    let active_discounts = running
        .iter()
        .flat_map(|s| {
            let item_level = s.items.iter().flat_map(|(_, d)| d.iter());
            s.discounts.iter().chain(item_level).map(move |d| (s, d))
        })
        .filter(|(_, d)| d.end.is_none_or(|e| e > now))
        .map(|(s, d)| ActiveDiscount {
            subscription: s.id.clone(),
            coupon_id: d.coupon_id.clone(),
            value: d.value.clone(),
            duration: d.duration,
            end: d.end,
        })
        .collect();
    ProfileBillingView {
        stripe_customer_id: state
            .customer
            .as_ref()
            .map(|c| c.value.id.clone())
            .or_else(|| state.subscriptions().next().map(|s| s.customer.clone())),
        // A customer whose subscriptions do not count (trial, canceled) shows 0, not nothing.
        mrr: mrr.primary_for(preferred).or_else(|| {
            if mrr_unknown.is_some() {
                return None;
            }
            let currency = state
                .subscriptions()
                .flat_map(|s| s.items.iter())
                .next()?
                .0
                .currency;
            Some(Money::new(0, currency))
        }),
        mrr_by_currency: mrr,
        mrr_unknown,
        lifecycle: lifecycle(state),
        renewal_date: running.iter().filter_map(|s| s.renewal_date()).min(),
        churn_type: churn_type(state),
        scheduled_cancel: running
            .iter()
            .filter(|s| s.scheduled_cancel())
            .map(|s| ScheduledCancel {
                subscription: s.id.clone(),
                at: s.cancel_at.or(s.renewal_date()),
            })
            .collect(),
        trial_end,
        trial_ending_without_payment_method,
        open_invoices,
        active_discounts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing_state::fixtures::*;
    use crate::domain::billing_state::{BillingState, Fact, InvoiceSnapshot};
    use crate::domain::mrr::{Discount, Ratio};
    use SubscriptionStatus::*;

    #[test]
    fn renewal_date_is_the_subscription_period_end_or_else_the_earliest_item_end() {
        let mut old_api = sub("sub_1", Active, 5_000, day(-40));
        old_api.current_period_end = Some(day(20));
        old_api.items[0].0.current_period_end = Some(day(25));
        let v = profile_billing_view(
            &BillingState::from_observations([&sub_obs(day(0), None, old_api)]),
            NOW,
        );
        assert_eq!(v.renewal_date, Some(day(20)));

        let mut new_api = sub("sub_1", Active, 5_000, day(-40));
        new_api.items.push(monthly(1_000));
        new_api.items[0].0.current_period_end = Some(day(12));
        new_api.items[1].0.current_period_end = Some(day(9));
        let v = profile_billing_view(
            &BillingState::from_observations([&sub_obs(day(0), None, new_api)]),
            NOW,
        );
        assert_eq!(v.renewal_date, Some(day(9)));
        assert_eq!(v.mrr, Some(Money::new(6_000, usd())));
        assert_eq!(v.lifecycle, Lifecycle::Customer);
    }

    #[test]
    fn cancel_at_period_end_keeps_mrr_and_is_flagged() {
        let mut s = sub("sub_1", Active, 5_000, day(-40));
        s.cancel_at_period_end = true;
        s.current_period_end = Some(day(10));
        let v = profile_billing_view(
            &BillingState::from_observations([&sub_obs(day(0), None, s)]),
            NOW,
        );
        assert_eq!(v.mrr, Some(Money::new(5_000, usd())));
        assert_eq!(
            v.scheduled_cancel,
            vec![ScheduledCancel {
                subscription: oid("sub_1"),
                at: Some(day(10))
            }]
        );
    }

    #[test]
    fn a_trial_ending_within_7_days_without_a_payment_method_is_flagged() {
        let trial = |ends: i64, pm: bool| {
            let mut s = sub("sub_1", Trialing, 5_000, day(-10));
            s.trial_end = Some(day(ends));
            s.has_payment_method = pm;
            profile_billing_view(
                &BillingState::from_observations([&sub_obs(day(0), None, s)]),
                NOW,
            )
        };
        assert!(trial(7, false).trial_ending_without_payment_method);
        assert!(!trial(8, false).trial_ending_without_payment_method);
        assert!(!trial(3, true).trial_ending_without_payment_method);
        assert_eq!(trial(3, false).lifecycle, Lifecycle::Trial);
        assert_eq!(trial(3, false).mrr, Some(Money::new(0, usd())));
    }

    #[test]
    fn open_invoices_are_aged_from_due_date_or_creation() {
        let inv = |id: &str, created: i64, due: Option<i64>| {
            at(
                day(0),
                None,
                Fact::Invoice(InvoiceSnapshot {
                    id: oid(id),
                    subscription: None,
                    status: InvoiceStatus::Open,
                    created: day(created),
                    due_date: due.map(day),
                    amount_remaining: 900,
                    currency: usd(),
                    attempt_count: 2,
                    paid_at: None,
                    payments: vec![],
                }),
            )
        };
        let s = BillingState::from_observations(&[
            inv("in_a", -95, None),
            inv("in_b", -40, Some(-10)),
            inv("in_c", -1, Some(5)),
        ]);
        let v = profile_billing_view(&s, NOW);
        let got: Vec<_> = v
            .open_invoices
            .iter()
            .map(|i| (i.id.as_str(), i.age_days, i.bucket))
            .collect();
        assert_eq!(
            got,
            [
                ("in_a", 95, AgingBucket::Over90),
                ("in_b", 10, AgingBucket::UpTo30),
                ("in_c", 0, AgingBucket::UpTo30)
            ]
        );
    }

    #[test]
    fn active_discounts_exclude_ended_ones() {
        let mut s = sub("sub_1", Active, 10_000, day(-40));
        let d = |id: &str, end: Option<i64>| Discount {
            coupon_id: id.into(),
            value: DiscountValue::PercentOff(Ratio::int(20)),
            duration: CouponDuration::Forever,
            end: end.map(day),
        };
        s.discounts = vec![d("live", None), d("gone", Some(-1))];
        let v = profile_billing_view(
            &BillingState::from_observations([&sub_obs(day(0), None, s)]),
            NOW,
        );
        let ids: Vec<_> = v
            .active_discounts
            .iter()
            .map(|d| d.coupon_id.as_str())
            .collect();
        assert_eq!(ids, ["live"]);
        assert_eq!(v.mrr, Some(Money::new(8_000, usd())));
    }
}
