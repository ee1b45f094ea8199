//! The usage signals: what the billing state says about one customer at an instant,
//! with the dates and Stripe ids behind it. Stored as they are, so a later rescoring
//! re-applies the time windows against its own `now` (see [`crate::domain::factors`]).

use crate::domain::billing_state::{BillingState, ChargeStatus, InvoiceStatus, PlanSample};
use crate::domain::factors::BillingRules;
use crate::domain::ids::StripeObjectId;
use crate::domain::money::Currency;
use crate::domain::mrr::{MrrSettings, SubscriptionStatus, plan_amount_exact};
use crate::domain::time::{DAY, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Failed charges (or invoice payment attempts) after the last successful charge.
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
    /// The newest successful charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Evidence>,
    /// Counting starts here: the last success, or when the first monthly-or-shorter
    /// paying subscription started billing; `None` = rule does not apply (no such
    /// subscription).
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
    /// `stripe_mrr_delta`; `None` when MRR 90 days ago was zero or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrr_delta: Option<MrrDeltaSignal>,
    /// `stripe_subscription_paused`: paused subscriptions (at = observed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused: Vec<Evidence>,
    /// `stripe_dispute`: disputes opened within the decay window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputes: Vec<Evidence>,
}

/// Computes the usage signals of `state` at `now`, with the windows of `rules`.
pub fn usage_signals(state: &BillingState, now: Timestamp, rules: &BillingRules) -> UsageSignals {
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

/// Whether a past-due subscription was since paid: a paid invoice of that subscription
/// later than the past-due snapshot.
fn recovered_since(state: &BillingState, sub: &StripeObjectId, since: Timestamp) -> bool {
    state.invoices.values().any(|i| {
        i.value.subscription.as_ref() == Some(sub)
            && i.value.status == InvoiceStatus::Paid
            && i.value.paid_at.unwrap_or(i.at) > since
    })
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
        .filter(|v| !recovered_since(state, &v.value.id, v.at))
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

/// Failed payments: each real failed charge counts once; attempts known only from an
/// invoice (`in_…#attempt-N`) count per invoice as the larger of their number and the
/// number of real failed charges linked to that invoice, so a charge seen both ways
/// is not counted twice.
fn payment_failure_signal(
    state: &BillingState,
    now: Timestamp,
    rules: &BillingRules,
) -> PaymentFailureSignal {
    let last_success = state
        .charges()
        .filter(|c| c.status == ChargeStatus::Succeeded)
        .map(|c| c.created)
        .max();
    let window_start = now.plus_days(-rules.failure_window_days);
    let mut real: BTreeMap<Option<String>, Vec<Evidence>> = BTreeMap::new();
    let mut synthetic: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    for c in state.charges().filter(|c| {
        c.status == ChargeStatus::Failed
            && c.created >= window_start
            && last_success.is_none_or(|s| c.created > s)
    }) {
        let ev = Evidence {
            id: c.id.clone(),
            at: c.created,
        };
        match c.id.split_once('#') {
            Some((invoice, _)) => synthetic.entry(invoice.to_owned()).or_default().push(ev),
            None => real
                .entry(c.invoice.as_ref().map(ToString::to_string))
                .or_default()
                .push(ev),
        }
    }
    for (invoice, attempts) in synthetic {
        let slot = real.entry(Some(invoice)).or_default();
        if attempts.len() > slot.len() {
            *slot = attempts;
        }
    }
    let mut failed: Vec<Evidence> = real.into_values().flatten().collect();
    failed.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    PaymentFailureSignal { failed }
}

fn downgrade_signal(state: &BillingState, now: Timestamp, rules: &BillingRules) -> DowngradeSignal {
    let window_start = now.plus_days(-rules.downgrade_window_days);
    let mut drops = Vec::new();
    for sub in state.subscriptions.keys() {
        let samples: Vec<&PlanSample> = state.samples_of(sub).filter(|s| s.at <= now).collect();
        let Some(current) = samples.last().and_then(|s| s.plan) else {
            continue;
        };
        let mut in_window: Vec<PlanDrop> = Vec::new();
        let mut pre_drop: Option<i64> = None;
        for pair in samples.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (Some((ca, fa)), Some((cb, tb))) = (a.plan, b.plan) else {
                continue;
            };
            if ca == cb && tb < fa && b.at >= window_start {
                pre_drop.get_or_insert(fa);
                in_window.push(PlanDrop {
                    subscription: sub.clone(),
                    event: b.event.as_ref().map(ToString::to_string),
                    at: b.at,
                    currency: cb,
                    from: fa,
                    to: tb,
                });
            }
        }
        // Recovery: an upgrade back to at least the pre-drop amount clears the drops.
        if pre_drop.is_some_and(|pre| current.1 < pre) {
            drops.extend(in_window);
        }
    }
    drops.sort_by(|a, b| a.at.cmp(&b.at).then(a.subscription.cmp(&b.subscription)));
    DowngradeSignal { drops }
}

fn days_since_charge_signal(state: &BillingState, rules: &BillingRules) -> DaysSinceChargeSignal {
    let last_success = state
        .charges()
        .filter(|c| c.status == ChargeStatus::Succeeded)
        .max_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)))
        .map(|c| Evidence {
            id: c.id.clone(),
            at: c.created,
        });
    // Only paying subscriptions billed at least monthly are expected to charge often.
    let billing_start = state
        .subscriptions()
        .filter(|s| {
            let mrr = s.as_mrr();
            mrr.counts()
                && s.items
                    .iter()
                    .filter_map(|(i, _)| i.period)
                    .any(|p| p.approx_days() <= rules.max_expected_billing_gap_days)
                && plan_amount_exact(&s.items, &s.discounts, &MrrSettings::default(), s.created)
                    .values()
                    .any(|r| r.round_half_even() > 0)
        })
        .map(|s| s.created.max(s.trial_end.unwrap_or(s.created)))
        .min();
    let since = billing_start.map(|start| last_success.as_ref().map_or(start, |l| l.at.max(start)));
    DaysSinceChargeSignal {
        last_success,
        since,
    }
}

/// One subscription's MRR contribution at `t`, from its plan samples; before its first
/// sample, the first sample's plan amount is projected back while the subscription
/// had started, was out of trial and had not ended.
fn contribution_at(
    state: &BillingState,
    sub: &StripeObjectId,
    t: Timestamp,
) -> Option<(Currency, i64)> {
    let mut samples = state.samples_of(sub).peekable();
    let first = samples.peek().copied()?;
    if let Some(s) = state.samples_of(sub).filter(|s| s.at <= t).last() {
        return s.contribution();
    }
    let v = &state.subscription(sub)?.value;
    let (currency, plan) = first.plan?;
    let started = v.created <= t;
    let in_trial = v.trial_end.is_some_and(|e| e > t);
    let ended = v.ended_at.is_some_and(|e| e <= t);
    let never_paid = matches!(
        first.status,
        SubscriptionStatus::Incomplete | SubscriptionStatus::IncompleteExpired
    );
    let counts = started && !in_trial && !ended && !never_paid;
    Some((currency, if counts { plan } else { 0 }))
}

/// MRR at `t` per currency, summed from per-subscription contributions.
pub fn mrr_at(state: &BillingState, t: Timestamp) -> BTreeMap<Currency, i64> {
    let mut out = BTreeMap::new();
    for sub in state.subscriptions.keys() {
        if let Some((c, a)) = contribution_at(state, sub, t) {
            *out.entry(c).or_insert(0) += a;
        }
    }
    out
}

fn mrr_delta_signal(
    state: &BillingState,
    now: Timestamp,
    rules: &BillingRules,
) -> Option<MrrDeltaSignal> {
    let then_at = now.plus_days(-rules.mrr_delta_days);
    let current = mrr_at(state, now);
    let then = mrr_at(state, then_at);
    // Main currency: the largest amount then or now (ties alphabetical).
    let currency = current
        .iter()
        .chain(then.iter())
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(c, _)| *c)?;
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
