//! The usage signals: what the billing state says about one customer at an instant,
//! with the dates and Stripe ids behind it. Stored as they are, so a later rescoring
//! re-applies the time windows against its own `now` (see [`crate::domain::factors`]).

use crate::domain::billing_state::BillingState;
use crate::domain::ids::StripeObjectId;
use crate::domain::money::Currency;
use crate::domain::mrr::{MrrSettings, SubscriptionStatus, main_currency, plan_amount_exact};
use crate::domain::payments::{
    dunning_recovered, first_unpaid, last_settled, unrecovered_failures,
};
use crate::domain::plan_history::{mrr_then_and_now, unrecovered_drops};
use crate::domain::time::{DAY, Timestamp};
use serde::{Deserialize, Serialize};

/// The time windows the usage signals are computed over. Owned here; the factor rules
/// ([`crate::domain::factors::BillingRules`]) carry them flattened, so one config holds
/// every number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalWindows {
    /// Failed charges are counted over this many days: 30.
    pub failure_window_days: i64,
    /// Plan drops are looked for over this many days: 30.
    pub downgrade_window_days: i64,
    /// Subscriptions billed less often than every this many days are exempt from
    /// days-since-charge: 31.
    pub max_expected_billing_gap_days: i64,
    /// MRR is compared with its value this many days earlier: 90.
    pub mrr_delta_days: i64,
    /// A dispute's impact decays to 0 over this many days: 7.
    pub dispute_decay_days: i64,
}

impl Default for SignalWindows {
    fn default() -> Self {
        Self {
            failure_window_days: 30,
            downgrade_window_days: 30,
            max_expected_billing_gap_days: 31,
            mrr_delta_days: 90,
            dispute_decay_days: 7,
        }
    }
}

impl AsRef<SignalWindows> for SignalWindows {
    fn as_ref(&self) -> &SignalWindows {
        self
    }
}

/// A Stripe object or event id with the date it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    /// `ch_…`, `sub_…`, `in_…`, `dp_…` or `evt_…`.
    pub id: String,
    /// When it happened.
    pub at: Timestamp,
}

/// The customer-level subscription status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// No subscription known.
    None,
    /// Every known subscription has ended and at least one was canceled.
    Canceled,
    /// A subscription is in dunning (`past_due` or `unpaid`) and not yet recovered.
    PastDue,
    /// Otherwise: the best current status of any subscription.
    Current(SubscriptionStatus),
}

/// `stripe_subscription_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSignal {
    /// The customer-level status.
    pub status: CustomerStatus,
    /// Subscriptions behind `Canceled` (at = ended/canceled at) or `PastDue` (at = observed).
    pub evidence: Vec<Evidence>,
}

/// `stripe_payment_failure`: unrecovered failed charges in the window, newest last.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentFailureSignal {
    /// Failed charges not recovered since (by charge id, or one per
    /// `invoice.payment_failed` event when Stripe names no charge).
    pub failed: Vec<Evidence>,
}

/// One plan-amount drop of one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDrop {
    /// The subscription.
    pub subscription: StripeObjectId,
    /// The event that carried it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// When the plan dropped.
    pub at: Timestamp,
    /// Currency of the amounts.
    pub currency: Currency,
    /// Monthly plan amount before, minor units.
    pub from: i64,
    /// Monthly plan amount after.
    pub to: i64,
}

/// `stripe_downgrade`: unrecovered plan drops within the window.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DowngradeSignal {
    /// Drops whose subscription has not since returned to its pre-drop amount.
    pub drops: Vec<PlanDrop>,
}

/// `stripe_days_since_charge`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DaysSinceChargeSignal {
    /// The newest settled payment: a successful charge, or a paid invoice of any amount
    /// (`$0` and paid out of band included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Evidence>,
    /// With no settled payment on record: the oldest unpaid invoice or failed charge,
    /// the evidence that a payment was due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_unpaid: Option<Evidence>,
    /// Counting starts here: the later of that evidence and when the first
    /// monthly-or-shorter paying subscription started billing; `None` = the rule does
    /// not apply (no such subscription, or nothing on record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

/// `stripe_mrr_delta`: MRR now against MRR 90 days earlier, in the main currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrrDeltaSignal {
    /// Currency compared.
    pub currency: Currency,
    /// MRR 90 days before `as_of`, minor units.
    pub then: i64,
    /// MRR at `as_of`.
    pub now: i64,
    /// Subscriptions involved.
    pub subscriptions: Vec<StripeObjectId>,
}

/// The five usage signals plus pause and dispute, as of one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSignals {
    /// When these were computed.
    pub as_of: Timestamp,
    /// `stripe_subscription_status`.
    pub subscription_status: StatusSignal,
    /// `stripe_payment_failure`.
    pub payment_failure: PaymentFailureSignal,
    /// `stripe_downgrade`.
    pub downgrade: DowngradeSignal,
    /// `stripe_days_since_charge`.
    pub days_since_charge: DaysSinceChargeSignal,
    /// `stripe_mrr_delta`; `None` when MRR 90 days ago was zero, or an amount that
    /// counts is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrr_delta: Option<MrrDeltaSignal>,
    /// `stripe_subscription_paused`: paused subscriptions (at = observed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused: Vec<Evidence>,
    /// `stripe_dispute`: disputes opened within the decay window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputes: Vec<Evidence>,
}

/// Computes the usage signals of `state` at `now`, with the windows of `rules` (a
/// [`SignalWindows`], or the billing rules that carry them).
pub fn usage_signals(
    state: &BillingState,
    now: Timestamp,
    rules: &impl AsRef<SignalWindows>,
) -> UsageSignals {
    let rules = rules.as_ref();
    UsageSignals {
        as_of: now,
        subscription_status: status_signal(state),
        payment_failure: payment_failure_signal(state, now, rules),
        downgrade: downgrade_signal(state, now, rules),
        days_since_charge: days_since_charge_signal(state, rules),
        mrr_delta: mrr_delta_signal(state, now, rules),
        paused: state
            .subscriptions
            .values()
            .filter(|v| v.value.is_paused())
            .map(|v| Evidence {
                id: v.value.id.to_string(),
                at: v.at,
            })
            .collect(),
        disputes: {
            let mut d: Vec<Evidence> = state
                .disputes()
                .filter(|d| now.secs_since(d.created) < rules.dispute_decay_days * DAY)
                .map(|d| Evidence {
                    id: d.id.to_string(),
                    at: d.created,
                })
                .collect();
            d.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
            d
        },
    }
}

fn status_signal(state: &BillingState) -> StatusSignal {
    let subs: Vec<_> = state.subscriptions.values().collect();
    if subs.is_empty() {
        return StatusSignal {
            status: CustomerStatus::None,
            evidence: vec![],
        };
    }
    let all_ended = subs.iter().all(|v| v.value.status.is_terminal());
    let canceled: Vec<Evidence> = subs
        .iter()
        .filter(|v| v.value.status == SubscriptionStatus::Canceled)
        .map(|v| Evidence {
            id: v.value.id.to_string(),
            at: v.value.ended_at.or(v.value.canceled_at).unwrap_or(v.at),
        })
        .collect();
    if all_ended && !canceled.is_empty() {
        return StatusSignal {
            status: CustomerStatus::Canceled,
            evidence: canceled,
        };
    }
    let dunning: Vec<Evidence> = subs
        .iter()
        .filter(|v| {
            matches!(
                v.value.status,
                SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid
            )
        })
        .filter(|v| !dunning_recovered(state, &v.value.id, v.at))
        .map(|v| Evidence {
            id: v.value.id.to_string(),
            at: v.at,
        })
        .collect();
    if !dunning.is_empty() {
        return StatusSignal {
            status: CustomerStatus::PastDue,
            evidence: dunning,
        };
    }
    // The "best" running status: active beats trialing beats the rest.
    let best = subs
        .iter()
        .map(|v| v.value.status)
        .min_by_key(|s| match s {
            SubscriptionStatus::Active => 0,
            SubscriptionStatus::Trialing => 1,
            SubscriptionStatus::Paused => 2,
            SubscriptionStatus::Incomplete => 3,
            _ => 4,
        })
        .unwrap_or(SubscriptionStatus::Canceled);
    StatusSignal {
        status: CustomerStatus::Current(best),
        evidence: vec![],
    }
}

/// Failed charges in the window that nothing has recovered ([`unrecovered_failures`]).
fn payment_failure_signal(
    state: &BillingState,
    now: Timestamp,
    rules: &SignalWindows,
) -> PaymentFailureSignal {
    let window_start = now.plus_days(-rules.failure_window_days);
    PaymentFailureSignal {
        failed: unrecovered_failures(state, window_start)
            .into_iter()
            .map(|c| Evidence {
                id: c.id.to_string(),
                at: c.created,
            })
            .collect(),
    }
}

fn downgrade_signal(
    state: &BillingState,
    now: Timestamp,
    rules: &SignalWindows,
) -> DowngradeSignal {
    let window_start = now.plus_days(-rules.downgrade_window_days);
    let mut drops: Vec<PlanDrop> = state
        .subscriptions
        .keys()
        .flat_map(|sub| unrecovered_drops(state, sub, window_start, now))
        .map(|d| PlanDrop {
            subscription: d.after.subscription.clone(),
            event: d.after.event.as_ref().map(ToString::to_string),
            at: d.after.at,
            currency: d.currency,
            from: d.from,
            to: d.to,
        })
        .collect();
    drops.sort_by(|a, b| a.at.cmp(&b.at).then(a.subscription.cmp(&b.subscription)));
    DowngradeSignal { drops }
}

/// Counting starts at the newest settled payment on record; with none, at the oldest
/// unpaid invoice or failed charge on record. Without either there is no evidence, and
/// the rule does not apply (absence of data is not evidence). Only paying subscriptions
/// billed at least every 31 days are expected to pay that often.
fn days_since_charge_signal(state: &BillingState, rules: &SignalWindows) -> DaysSinceChargeSignal {
    let billing_start = state
        .subscriptions()
        .filter(|s| {
            s.as_mrr().counts()
                && s.items
                    .iter()
                    .filter_map(|(i, _)| i.period)
                    .any(|p| p.approx_days() <= rules.max_expected_billing_gap_days)
                && plan_amount_exact(&s.items, &s.discounts, &MrrSettings::default(), s.created)
                    // An amount not known yet is still a paying plan.
                    .map_or(true, |a| a.values().any(|r| r.round_half_even() > 0))
        })
        .map(|s| s.created.max(s.trial_end.unwrap_or(s.created)))
        .min();
    let evidence = |(id, at): (String, Timestamp)| Evidence { id, at };
    let last_success = last_settled(state).map(evidence);
    let first_unpaid = match last_success {
        Some(_) => None,
        None => first_unpaid(state).map(evidence),
    };
    let since = billing_start.and_then(|start| {
        last_success
            .as_ref()
            .or(first_unpaid.as_ref())
            .map(|e| e.at.max(start))
    });
    DaysSinceChargeSignal {
        last_success,
        first_unpaid,
        since,
    }
}

fn mrr_delta_signal(
    state: &BillingState,
    now: Timestamp,
    rules: &SignalWindows,
) -> Option<MrrDeltaSignal> {
    let then_at = now.plus_days(-rules.mrr_delta_days);
    let (then, current) = mrr_then_and_now(state, then_at, now)?;
    let preferred = state.customer.as_ref().and_then(|c| c.value.currency);
    // Main currency: the customer's own, else the largest amount then or now.
    let currency = main_currency(
        current.iter().chain(then.iter()).map(|(c, a)| (*c, *a)),
        preferred,
    )?;
    let then_amount = then.get(&currency).copied().unwrap_or(0);
    if then_amount <= 0 {
        return None;
    }
    Some(MrrDeltaSignal {
        currency,
        then: then_amount,
        now: current.get(&currency).copied().unwrap_or(0),
        subscriptions: state.subscriptions.keys().cloned().collect(),
    })
}
