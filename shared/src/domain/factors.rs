//! The StripeProvider: usage signals → billing factors, exactly per the factor table
//! (`docs/scoring.md`, "Billing factors"). Every factor carries the Stripe ids and
//! dates it was computed from and a one-line explanation.
//!
//! Each rule is one small function returning its impact; [`billing_factors`] adds the
//! explanation and evidence, [`billing_impact`] only sums (the allocation-free path
//! used when rescoring many profiles). Both call the same rule functions.

use crate::domain::money::Currency;
use crate::domain::money::Money;
pub use crate::domain::signal_name::{BillingSignal, FactorSignal, SignalName};
use crate::domain::signals::{CustomerStatus, Evidence, SignalWindows, UsageSignals};
use crate::domain::time::{DAY, Timestamp};
use serde::{Deserialize, Serialize};

/// The numbers of the billing factor table. Part of [`crate::domain::engine::EngineConfig`].
/// The windows the usage signals are computed over are [`SignalWindows`], flattened in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingRules {
    /// The time windows shared with the usage signals (failures 30 days, drops 30 days,
    /// MRR 90 days, dispute decay 7 days, billing gap 31 days).
    #[serde(flatten)]
    pub windows: SignalWindows,
    /// Every subscription ended and one was canceled: +15.
    pub canceled: f64,
    /// A subscription is past due (or unpaid) and not yet recovered: +10.
    pub past_due: f64,
    /// At least this many failures count as "many": 3.
    pub many_failures: usize,
    /// Impact of many failures: +12.
    pub many_failures_impact: f64,
    /// Impact of one or two failures: +6.
    pub some_failures_impact: f64,
    /// A plan drop within the window: +10.
    pub downgrade: f64,
    /// Days without a successful charge that fire the factor: 45.
    pub days_since_charge: i64,
    /// Its impact: +8.
    pub days_since_charge_impact: f64,
    /// Strictly more than this many percent down or up fires: 10.
    pub mrr_delta_percent: i64,
    /// MRR declining: +10.
    pub mrr_decline: f64,
    /// MRR growing: −8.
    pub mrr_growth: f64,
    /// A paused subscription: +10.
    pub paused: f64,
    /// A dispute just opened: +10, decaying linearly to 0 over `dispute_decay_days`.
    pub dispute: f64,
}

impl Default for BillingRules {
    fn default() -> Self {
        Self {
            windows: SignalWindows::default(),
            canceled: 15.0,
            past_due: 10.0,
            many_failures: 3,
            many_failures_impact: 12.0,
            some_failures_impact: 6.0,
            downgrade: 10.0,
            days_since_charge: 45,
            days_since_charge_impact: 8.0,
            mrr_delta_percent: 10,
            mrr_decline: 10.0,
            mrr_growth: -8.0,
            paused: 10.0,
            dispute: 10.0,
        }
    }
}

impl AsRef<SignalWindows> for BillingRules {
    fn as_ref(&self) -> &SignalWindows {
        &self.windows
    }
}

/// One churn factor of any family: a signal name, a signed impact in score points, a
/// one-line explanation, and the ids (with dates) it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// The signal, e.g. `stripe_payment_failure` (serialized as the plain name).
    pub signal: FactorSignal,
    /// Signed impact in score points.
    pub impact: f64,
    /// One line for humans.
    pub explanation: String,
    /// The Stripe (or other source) ids behind it.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// The same ids with their dates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_dates: Vec<Evidence>,
}

impl Factor {
    fn billing(
        signal: BillingSignal,
        impact: f64,
        explanation: String,
        evidence: Vec<Evidence>,
    ) -> Self {
        Self {
            signal: FactorSignal::Billing(signal),
            impact,
            explanation,
            evidence: evidence.iter().map(|e| e.id.clone()).collect(),
            evidence_dates: evidence,
        }
    }
}

/// `stripe_subscription_status`: canceled or dunning.
pub fn status_impact(s: &UsageSignals, r: &BillingRules) -> f64 {
    match s.subscription_status.status {
        CustomerStatus::Canceled => r.canceled,
        CustomerStatus::PastDue => r.past_due,
        _ => 0.0,
    }
}

/// Failed charges inside the window ending at `now`.
pub fn failures_in_window<'a>(
    s: &'a UsageSignals,
    now: Timestamp,
    r: &BillingRules,
) -> impl Iterator<Item = &'a Evidence> {
    let start = now.plus_days(-r.windows.failure_window_days);
    s.payment_failure
        .failed
        .iter()
        .filter(move |e| e.at >= start)
}

/// `stripe_payment_failure`: ≥ 3 → +12, 1–2 → +6.
pub fn failure_impact(count: usize, r: &BillingRules) -> f64 {
    match count {
        0 => 0.0,
        n if n >= r.many_failures => r.many_failures_impact,
        _ => r.some_failures_impact,
    }
}

/// `stripe_payment_failure` for `count` failed charges in the window, scoring each event
/// once: the one failed charge that put a subscription into dunning is what the +10
/// dunning factor stands for, so with a subscription past due, a single failure adds
/// nothing more; from the second failure on the table applies (2 → +6, ≥ 3 → +12).
pub fn payment_failure_impact(s: &UsageSignals, count: usize, r: &BillingRules) -> f64 {
    if count == 1 && s.subscription_status.status == CustomerStatus::PastDue {
        return 0.0;
    }
    failure_impact(count, r)
}

/// `stripe_downgrade`: any unrecovered plan drop inside the window.
pub fn downgrade_impact(s: &UsageSignals, now: Timestamp, r: &BillingRules) -> f64 {
    let start = now.plus_days(-r.windows.downgrade_window_days);
    if s.downgrade.drops.iter().any(|d| d.at >= start) {
        r.downgrade
    } else {
        0.0
    }
}

/// Whole days since the last successful charge (or since billing started), when the
/// rule applies.
pub fn days_without_charge(s: &UsageSignals, now: Timestamp) -> Option<i64> {
    s.days_since_charge
        .since
        .map(|since| now.secs_since(since).div_euclid(DAY))
}

/// `stripe_days_since_charge`: ≥ 45 days → +8.
pub fn days_since_charge_impact(s: &UsageSignals, now: Timestamp, r: &BillingRules) -> f64 {
    match days_without_charge(s, now) {
        Some(d) if d >= r.days_since_charge => r.days_since_charge_impact,
        _ => 0.0,
    }
}

/// `stripe_mrr_delta`: strictly more than 10 % down → +10, up → −8, compared exactly in
/// integers (`now·100 < then·90`).
pub fn mrr_delta_impact(s: &UsageSignals, r: &BillingRules) -> f64 {
    let Some(d) = &s.mrr_delta else { return 0.0 };
    let (now, then) = (i128::from(d.now) * 100, i128::from(d.then));
    if now < then * i128::from(100 - r.mrr_delta_percent) {
        r.mrr_decline
    } else if now > then * i128::from(100 + r.mrr_delta_percent) {
        r.mrr_growth
    } else {
        0.0
    }
}

/// `stripe_subscription_paused`: +10 while any subscription is paused.
pub fn paused_impact(s: &UsageSignals, r: &BillingRules) -> f64 {
    if s.paused.is_empty() { 0.0 } else { r.paused }
}

/// The decayed impact of one dispute opened at `at`: +10 at opening, linearly to 0 at
/// 7 days (a dispute dated in the future counts fully).
pub fn dispute_decay(at: Timestamp, now: Timestamp, r: &BillingRules) -> f64 {
    let span = (r.windows.dispute_decay_days * DAY) as f64;
    let age = now.secs_since(at).max(0) as f64;
    if age >= span {
        0.0
    } else {
        r.dispute * (1.0 - age / span)
    }
}

/// `stripe_dispute`: the strongest decayed dispute (not the sum: five disputes in one
/// day are one signal).
pub fn dispute_impact(s: &UsageSignals, now: Timestamp, r: &BillingRules) -> f64 {
    s.disputes
        .iter()
        .map(|d| dispute_decay(d.at, now, r))
        .fold(0.0, f64::max)
}

/// The raw (unclamped) billing impact: the sum of every rule. No allocation.
pub fn billing_impact(s: &UsageSignals, now: Timestamp, r: &BillingRules) -> f64 {
    status_impact(s, r)
        // Only "none / some / many" matters, so stop counting at "many".
        + payment_failure_impact(s, failures_in_window(s, now, r).take(r.many_failures).count(), r)
        + downgrade_impact(s, now, r)
        + days_since_charge_impact(s, now, r)
        + mrr_delta_impact(s, r)
        + paused_impact(s, r)
        + dispute_impact(s, now, r)
}

/// Formats minor units for humans: `1234.50 usd`, `1200 jpy`, `12.345 kwd`.
pub fn format_money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_string()
}

fn ids(e: &[Evidence]) -> String {
    e.iter()
        .map(|e| e.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The billing factors that fire for `signals` at `now`, in factor-table order.
pub fn billing_factors(s: &UsageSignals, now: Timestamp, r: &BillingRules) -> Vec<Factor> {
    let mut out = Vec::new();
    let status = status_impact(s, r);
    if status != 0.0 {
        let mut ev = s.subscription_status.evidence.clone();
        let last = ev
            .iter()
            .map(|e| e.at)
            .max()
            .map(Timestamp::to_date)
            .unwrap_or_default();
        let text = match (s.subscription_status.status, ev.len()) {
            (CustomerStatus::Canceled, 1) => {
                format!("Subscription canceled on {last} ({})", ids(&ev))
            }
            (CustomerStatus::Canceled, n) => {
                format!(
                    "All {n} subscriptions canceled, the last on {last} ({})",
                    ids(&ev)
                )
            }
            _ => format!(
                "Subscription past due (dunning) since {last} ({})",
                ids(&ev)
            ),
        };
        // The single failed charge that started the dunning is scored here, not twice.
        let failed: Vec<&Evidence> = failures_in_window(s, now, r).collect();
        let text = match (s.subscription_status.status, failed.as_slice()) {
            (CustomerStatus::PastDue, [only]) => {
                ev.push((*only).clone());
                format!("{text} after a failed charge ({})", only.id)
            }
            _ => text,
        };
        out.push(Factor::billing(
            BillingSignal::StripeSubscriptionStatus,
            status,
            text,
            ev,
        ));
    }
    let failed: Vec<Evidence> = failures_in_window(s, now, r).cloned().collect();
    let impact = payment_failure_impact(s, failed.len(), r);
    if impact != 0.0 {
        let n = failed.len();
        let text = format!(
            "{n} failed charge{} in the last {} days ({})",
            if n == 1 { "" } else { "s" },
            r.windows.failure_window_days,
            ids(&failed)
        );
        out.push(Factor::billing(
            BillingSignal::StripePaymentFailure,
            impact,
            text,
            failed,
        ));
    }
    let impact = downgrade_impact(s, now, r);
    if impact != 0.0 {
        let start = now.plus_days(-r.windows.downgrade_window_days);
        let drops: Vec<_> = s.downgrade.drops.iter().filter(|d| d.at >= start).collect();
        let mut ev = Vec::new();
        for d in &drops {
            ev.push(Evidence {
                id: d.subscription.to_string(),
                at: d.at,
            });
            if let Some(e) = &d.event {
                ev.push(Evidence {
                    id: e.clone(),
                    at: d.at,
                });
            }
        }
        let text = match drops.last() {
            Some(d) => format!(
                "Plan dropped from {} to {} a month on {} ({})",
                format_money(d.from, d.currency),
                format_money(d.to, d.currency),
                d.at.to_date(),
                ids(&ev)
            ),
            None => String::new(),
        };
        out.push(Factor::billing(
            BillingSignal::StripeDowngrade,
            impact,
            text,
            ev,
        ));
    }
    let impact = days_since_charge_impact(s, now, r);
    if impact != 0.0 {
        let days = days_without_charge(s, now).unwrap_or_default();
        let d = &s.days_since_charge;
        let (text, ev) = match (&d.last_success, &d.first_unpaid) {
            (Some(l), _) => (
                format!(
                    "{days} days without a successful charge (last: {} on {})",
                    l.id,
                    l.at.to_date()
                ),
                vec![l.clone()],
            ),
            (None, Some(u)) => (
                format!(
                    "{days} days without a successful charge ({} unpaid since {})",
                    u.id,
                    u.at.to_date()
                ),
                vec![u.clone()],
            ),
            (None, None) => (format!("{days} days without a successful charge"), vec![]),
        };
        out.push(Factor::billing(
            BillingSignal::StripeDaysSinceCharge,
            impact,
            text,
            ev,
        ));
    }
    let impact = mrr_delta_impact(s, r);
    if let (true, Some(d)) = (impact != 0.0, &s.mrr_delta) {
        let pct = (d.now - d.then) as f64 * 100.0 / d.then as f64;
        let text = format!(
            "MRR {} {:.1}% over {} days ({} → {})",
            if pct < 0.0 { "down" } else { "up" },
            pct.abs(),
            r.windows.mrr_delta_days,
            format_money(d.then, d.currency),
            format_money(d.now, d.currency)
        );
        let ev = d
            .subscriptions
            .iter()
            .map(|id| Evidence {
                id: id.to_string(),
                at: s.as_of,
            })
            .collect();
        out.push(Factor::billing(
            BillingSignal::StripeMrrDelta,
            impact,
            text,
            ev,
        ));
    }
    let impact = paused_impact(s, r);
    if impact != 0.0 {
        let since = s
            .paused
            .iter()
            .map(|e| e.at)
            .min()
            .map(Timestamp::to_date)
            .unwrap_or_default();
        let text = format!("Subscription paused since {since} ({})", ids(&s.paused));
        out.push(Factor::billing(
            BillingSignal::StripeSubscriptionPaused,
            impact,
            text,
            s.paused.clone(),
        ));
    }
    let impact = dispute_impact(s, now, r);
    if impact > 0.0 {
        let live: Vec<Evidence> = s
            .disputes
            .iter()
            .filter(|d| dispute_decay(d.at, now, r) > 0.0)
            .cloned()
            .collect();
        let newest = live.iter().map(|e| e.at).max().unwrap_or(now);
        let text = format!(
            "Dispute opened on {}, impact decaying to 0 over {} days ({})",
            newest.to_date(),
            r.windows.dispute_decay_days,
            ids(&live)
        );
        out.push(Factor::billing(
            BillingSignal::StripeDispute,
            impact,
            text,
            live,
        ));
    }
    out
}

#[cfg(test)]
mod tests;
