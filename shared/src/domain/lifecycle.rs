//! Lifecycle stage and churn type from subscription statuses, following the lifecycle
//! connector's mapping (trial / customer / churned).

use crate::domain::billing_state::{BillingState, CancellationReason, ChargeStatus};
use crate::domain::mrr::SubscriptionStatus;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// No subscription known.
    None,
    /// `trialing`.
    Trial,
    /// `active`, `incomplete`, `incomplete_expired`, `past_due`, `unpaid` (and `paused`).
    Customer,
    /// `canceled`.
    Churned,
}

impl Lifecycle {
    /// The stage one subscription status maps to.
    pub fn of_status(status: SubscriptionStatus) -> Lifecycle {
        use SubscriptionStatus::*;
        match status {
            Trialing => Lifecycle::Trial,
            Active | Incomplete | IncompleteExpired | PastDue | Unpaid | Paused => {
                Lifecycle::Customer
            }
            Canceled => Lifecycle::Churned,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Trial => "trial",
            Self::Customer => "customer",
            Self::Churned => "churned",
        }
    }
}

/// The customer's stage: customer if any subscription maps to customer, else trial if
/// any maps to trial, else churned if any was canceled, else none.
pub fn lifecycle(state: &BillingState) -> Lifecycle {
    let stages = || {
        state
            .subscriptions()
            .map(|s| Lifecycle::of_status(s.status))
    };
    [Lifecycle::Customer, Lifecycle::Trial, Lifecycle::Churned]
        .into_iter()
        .find(|want| stages().any(|s| s == *want))
        .unwrap_or(Lifecycle::None)
}

/// Why a churned customer left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnType {
    /// Canceled on request.
    Voluntary,
    /// Canceled after failed payments or a dispute.
    Involuntary,
}

/// Failed payments this many days before the end make an unexplained cancellation
/// involuntary.
pub const INVOLUNTARY_LOOKBACK_DAYS: i64 = 30;

/// The churn type of a churned customer (`None` unless [`lifecycle`] is `Churned`),
/// from the most recently ended canceled subscription: Stripe's
/// `cancellation_details.reason` when given; otherwise involuntary when a payment failed
/// in the 30 days before the end with no successful charge after it, else voluntary.
pub fn churn_type(state: &BillingState) -> Option<ChurnType> {
    if lifecycle(state) != Lifecycle::Churned {
        return None;
    }
    let last = state
        .subscriptions
        .values()
        .filter(|v| v.value.status == SubscriptionStatus::Canceled)
        .max_by_key(|v| {
            (
                v.value.ended_at.or(v.value.canceled_at).unwrap_or(v.at),
                &v.value.id,
            )
        })?;
    let end: Timestamp = last
        .value
        .ended_at
        .or(last.value.canceled_at)
        .unwrap_or(last.at);
    Some(match last.value.cancellation_reason {
        Some(CancellationReason::CancellationRequested) => ChurnType::Voluntary,
        Some(CancellationReason::PaymentFailed | CancellationReason::PaymentDisputed) => {
            ChurnType::Involuntary
        }
        None => {
            let from = end.plus_days(-INVOLUNTARY_LOOKBACK_DAYS);
            let last_failure = state
                .charges()
                .filter(|c| {
                    c.status == ChargeStatus::Failed && c.created >= from && c.created <= end
                })
                .map(|c| c.created)
                .max();
            let recovered = |f: Timestamp| {
                state.charges().any(|c| {
                    c.status == ChargeStatus::Succeeded && c.created > f && c.created <= end
                })
            };
            match last_failure {
                Some(f) if !recovered(f) => ChurnType::Involuntary,
                _ => ChurnType::Voluntary,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing_state::fixtures::*;
    use crate::domain::billing_state::{BillingState, ChargeStatus, Observation};
    use SubscriptionStatus::*;

    #[test]
    fn every_stripe_status_maps_to_the_connector_stage() {
        for (status, stage) in [
            (Trialing, Lifecycle::Trial),
            (Active, Lifecycle::Customer),
            (Incomplete, Lifecycle::Customer),
            (IncompleteExpired, Lifecycle::Customer),
            (PastDue, Lifecycle::Customer),
            (Unpaid, Lifecycle::Customer),
            (Paused, Lifecycle::Customer),
            (Canceled, Lifecycle::Churned),
        ] {
            assert_eq!(Lifecycle::of_status(status), stage, "{status:?}");
            let s = BillingState::from_observations([&sub_obs(
                day(0),
                None,
                sub("sub_1", status, 1, day(-9)),
            )]);
            assert_eq!(lifecycle(&s), stage, "{status:?}");
        }
        assert_eq!(lifecycle(&BillingState::default()), Lifecycle::None);
    }

    #[test]
    fn customer_beats_trial_beats_churned() {
        let obs = |st, id| sub_obs(day(0), None, sub(id, st, 1, day(-9)));
        let s = BillingState::from_observations([&obs(Canceled, "sub_1"), &obs(Trialing, "sub_2")]);
        assert_eq!(lifecycle(&s), Lifecycle::Trial);
        let s = BillingState::from_observations([&obs(Trialing, "sub_1"), &obs(Active, "sub_2")]);
        assert_eq!(lifecycle(&s), Lifecycle::Customer);
    }

    fn canceled(reason: Option<CancellationReason>) -> Observation {
        let mut s = sub("sub_1", Canceled, 5_000, day(-100));
        s.ended_at = Some(day(-2));
        s.cancellation_reason = reason;
        sub_obs(day(-2), Some(1), s)
    }

    #[test]
    fn stripe_cancellation_reason_decides_churn_type() {
        let t = |r| churn_type(&BillingState::from_observations([&canceled(Some(r))]));
        assert_eq!(
            t(CancellationReason::CancellationRequested),
            Some(ChurnType::Voluntary)
        );
        assert_eq!(
            t(CancellationReason::PaymentFailed),
            Some(ChurnType::Involuntary)
        );
        assert_eq!(
            t(CancellationReason::PaymentDisputed),
            Some(ChurnType::Involuntary)
        );
    }

    #[test]
    fn without_a_reason_unrecovered_failures_make_churn_involuntary() {
        let failed = charge("ch_1", day(-10), ChargeStatus::Failed);
        let s = BillingState::from_observations([&canceled(None), &failed]);
        assert_eq!(churn_type(&s), Some(ChurnType::Involuntary));
        let ok = charge("ch_2", day(-5), ChargeStatus::Succeeded);
        let s = BillingState::from_observations([&canceled(None), &failed, &ok]);
        assert_eq!(churn_type(&s), Some(ChurnType::Voluntary));
        let s = BillingState::from_observations([&canceled(None)]);
        assert_eq!(churn_type(&s), Some(ChurnType::Voluntary));
    }

    #[test]
    fn a_running_customer_has_no_churn_type() {
        let s = BillingState::from_observations([&sub_obs(
            day(0),
            None,
            sub("sub_1", Active, 1, day(-9)),
        )]);
        assert_eq!(churn_type(&s), None);
    }
}
