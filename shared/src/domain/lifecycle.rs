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
