//! The billing part of a profile: MRR, renewal date, lifecycle, churn type, trial,
//! open-invoice aging and active discounts.

use crate::domain::billing_state::{BillingState, InvoiceStatus};
use crate::domain::ids::{StripeCustomerId, StripeObjectId};
use crate::domain::lifecycle::{ChurnType, Lifecycle, churn_type, lifecycle};
use crate::domain::money::Money;
use crate::domain::mrr::{
    CouponDuration, DiscountValue, Mrr, MrrSettings, SubscriptionStatus, customer_mrr,
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
    /// MRR in the main currency.
    pub mrr: Option<Money>,
    /// MRR in every currency.
    pub mrr_by_currency: Mrr,
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
    let mrr = customer_mrr(
        state.subscriptions().map(|s| s.as_mrr()),
        &MrrSettings::default(),
        now,
    );
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
        mrr: mrr.primary(),
        mrr_by_currency: mrr,
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
