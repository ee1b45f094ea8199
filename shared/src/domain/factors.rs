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
mod tests {
    use super::*;
    use crate::domain::billing_state::fixtures::*;
    use crate::domain::billing_state::{
        BillingState, ChargeStatus, Fact, InvoiceStatus, Observation, PreviousPlan,
    };
    use crate::domain::mrr::SubscriptionStatus::*;
    use crate::domain::signals::{MrrDeltaSignal, usage_signals};

    fn factors_of(obs: &[Observation]) -> Vec<Factor> {
        let rules = BillingRules::default();
        let state = BillingState::from_observations(obs);
        let signals = usage_signals(&state, NOW, &rules);
        let factors = billing_factors(&signals, NOW, &rules);
        // The fast path agrees with the detailed one.
        let sum: f64 = factors.iter().map(|f| f.impact).sum();
        assert!((billing_impact(&signals, NOW, &rules) - sum).abs() < 1e-9);
        factors
    }

    fn impact_of(obs: &[Observation], signal: BillingSignal) -> f64 {
        factors_of(obs)
            .iter()
            .filter(|f| f.signal == signal)
            .map(|f| f.impact)
            .sum()
    }

    fn active_sub() -> Observation {
        sub_obs(day(-1), Some(1), sub("sub_1", Active, 5_000, day(-20)))
    }

    fn failures(days_ago: &[i64]) -> Vec<Observation> {
        let mut v = vec![active_sub()];
        for (n, d) in days_ago.iter().enumerate() {
            v.push(charge(
                &format!("ch_{}", n + 1),
                day(-d),
                ChargeStatus::Failed,
            ));
        }
        v
    }

    #[test]
    fn three_failures_in_30_days_add_12() {
        assert_eq!(
            impact_of(&failures(&[1, 2, 3]), BillingSignal::StripePaymentFailure),
            12.0
        );
    }

    #[test]
    fn two_failures_in_30_days_add_6() {
        assert_eq!(
            impact_of(&failures(&[1, 2]), BillingSignal::StripePaymentFailure),
            6.0
        );
    }

    #[test]
    fn one_failure_in_30_days_adds_6() {
        assert_eq!(
            impact_of(&failures(&[5]), BillingSignal::StripePaymentFailure),
            6.0
        );
    }

    #[test]
    fn a_failure_29_days_ago_counts_and_31_days_ago_does_not() {
        assert_eq!(
            impact_of(&failures(&[1, 2, 29]), BillingSignal::StripePaymentFailure),
            12.0
        );
        assert_eq!(
            impact_of(&failures(&[1, 2, 31]), BillingSignal::StripePaymentFailure),
            6.0
        );
        assert_eq!(
            impact_of(&failures(&[30]), BillingSignal::StripePaymentFailure),
            6.0
        );
    }

    #[test]
    fn a_successful_payment_clears_the_failures_it_recovers() {
        let on_invoice = |mut o: Observation| {
            if let Fact::Charge(c) = &mut o.fact {
                c.invoice = Some(oid("in_1"));
            }
            o
        };
        let mut obs: Vec<Observation> = failures(&[10, 9, 8]).into_iter().map(on_invoice).collect();
        obs.push(on_invoice(charge(
            "ch_ok",
            day(-7),
            ChargeStatus::Succeeded,
        )));
        assert_eq!(impact_of(&obs, BillingSignal::StripePaymentFailure), 0.0);
        obs.push(charge("ch_again", day(-1), ChargeStatus::Failed));
        assert_eq!(impact_of(&obs, BillingSignal::StripePaymentFailure), 6.0);
    }

    #[test]
    fn a_success_that_recovers_nothing_clears_nothing() {
        let mut obs = failures(&[10, 9, 8]);
        obs.push(charge("ch_unrelated", day(-7), ChargeStatus::Succeeded));
        assert_eq!(impact_of(&obs, BillingSignal::StripePaymentFailure), 12.0);
    }

    #[test]
    fn a_single_failure_that_started_dunning_is_scored_once() {
        let past_due = sub_obs(day(-2), Some(1), sub("sub_1", PastDue, 5_000, day(-20)));
        let one = [
            past_due.clone(),
            charge("ch_1", day(-2), ChargeStatus::Failed),
        ];
        let f = factors_of(&one);
        assert_eq!(f.iter().map(|f| f.impact).sum::<f64>(), 10.0);
        assert!(f[0].explanation.ends_with("after a failed charge (ch_1)"));
        let two = [
            past_due,
            charge("ch_1", day(-9), ChargeStatus::Failed),
            charge("ch_2", day(-2), ChargeStatus::Failed),
        ];
        assert_eq!(impact_of(&two, BillingSignal::StripePaymentFailure), 6.0);
        assert_eq!(
            impact_of(&two, BillingSignal::StripeSubscriptionStatus),
            10.0
        );
    }

    #[test]
    fn failure_factor_names_every_charge() {
        let f = factors_of(&failures(&[3, 2, 1]));
        let f = f
            .iter()
            .find(|f| f.signal == BillingSignal::StripePaymentFailure)
            .unwrap();
        assert_eq!(
            f.explanation,
            "3 failed charges in the last 30 days (ch_1, ch_2, ch_3)"
        );
        assert_eq!(f.evidence, ["ch_1", "ch_2", "ch_3"]);
        assert_eq!(f.evidence_dates[0].at, day(-3));
    }

    #[test]
    fn canceled_adds_15() {
        let mut s = sub("sub_1", Canceled, 5_000, day(-100));
        s.ended_at = Some(day(-3));
        let f = factors_of(&[sub_obs(day(-3), Some(1), s)]);
        // MRR also fell by 100 % (its own factor); look at the status factor.
        let f: Vec<_> = f
            .iter()
            .filter(|f| f.signal == BillingSignal::StripeSubscriptionStatus)
            .collect();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].impact, 15.0);
        assert_eq!(
            f[0].explanation,
            format!("Subscription canceled on {} (sub_1)", day(-3).to_date())
        );
    }

    #[test]
    fn one_canceled_subscription_beside_a_running_one_is_not_canceled() {
        let canceled = sub_obs(day(-3), Some(1), sub("sub_1", Canceled, 5_000, day(-100)));
        let running = sub_obs(day(-3), Some(2), sub("sub_2", Active, 5_000, day(-10)));
        assert_eq!(
            impact_of(
                &[canceled, running],
                BillingSignal::StripeSubscriptionStatus
            ),
            0.0
        );
    }

    #[test]
    fn past_due_adds_10_and_unpaid_counts_as_dunning() {
        for status in [PastDue, Unpaid] {
            let o = sub_obs(day(-2), Some(1), sub("sub_1", status, 5_000, day(-20)));
            assert_eq!(
                impact_of(&[o], BillingSignal::StripeSubscriptionStatus),
                10.0,
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_paid_invoice_after_past_due_clears_it() {
        let past_due = sub_obs(day(-2), Some(1), sub("sub_1", PastDue, 5_000, day(-20)));
        let paid = invoice("in_1", "sub_1", InvoiceStatus::Paid, day(-3), Some(day(-1)));
        assert_eq!(
            impact_of(&[past_due, paid], BillingSignal::StripeSubscriptionStatus),
            0.0
        );
    }

    fn plan_change(days_ago: i64, from: i64, to: i64) -> Observation {
        let mut o = sub_obs(day(-days_ago), Some(7), sub("sub_1", Active, to, day(-200)));
        if let Fact::Subscription { previous, .. } = &mut o.fact {
            *previous = Some(PreviousPlan {
                items: vec![monthly(from)],
                status: None,
            });
        }
        o
    }

    #[test]
    fn a_plan_drop_29_days_ago_adds_10_and_31_days_ago_does_not() {
        assert_eq!(
            impact_of(
                &[plan_change(29, 10_000, 5_000)],
                BillingSignal::StripeDowngrade
            ),
            10.0
        );
        assert_eq!(
            impact_of(
                &[plan_change(31, 10_000, 5_000)],
                BillingSignal::StripeDowngrade
            ),
            0.0
        );
    }

    #[test]
    fn downgrade_explanation_gives_amounts_and_ids() {
        let f = factors_of(&[plan_change(5, 10_000, 5_000)]);
        let f = f
            .iter()
            .find(|f| f.signal == BillingSignal::StripeDowngrade)
            .unwrap();
        assert_eq!(
            f.explanation,
            format!(
                "Plan dropped from 100.00 usd to 50.00 usd a month on {} (sub_1, evt_7)",
                day(-5).to_date()
            )
        );
    }

    #[test]
    fn an_upgrade_is_not_a_downgrade_and_an_upgrade_back_clears_one() {
        assert_eq!(
            impact_of(
                &[plan_change(5, 5_000, 10_000)],
                BillingSignal::StripeDowngrade
            ),
            0.0
        );
        let back = sub_obs(day(-2), Some(8), sub("sub_1", Active, 10_000, day(-200)));
        assert_eq!(
            impact_of(
                &[plan_change(5, 10_000, 5_000), back],
                BillingSignal::StripeDowngrade
            ),
            0.0
        );
        let partly = sub_obs(day(-2), Some(8), sub("sub_1", Active, 8_000, day(-200)));
        assert_eq!(
            impact_of(
                &[plan_change(5, 10_000, 5_000), partly],
                BillingSignal::StripeDowngrade
            ),
            10.0
        );
    }

    fn charged(days_ago: i64) -> Vec<Observation> {
        vec![
            sub_obs(day(-1), Some(1), sub("sub_1", Active, 5_000, day(-400))),
            charge("ch_last", day(-days_ago), ChargeStatus::Succeeded),
        ]
    }

    #[test]
    fn forty_five_days_without_a_charge_add_8_and_44_do_not() {
        assert_eq!(
            impact_of(&charged(45), BillingSignal::StripeDaysSinceCharge),
            8.0
        );
        assert_eq!(
            impact_of(&charged(44), BillingSignal::StripeDaysSinceCharge),
            0.0
        );
    }

    #[test]
    fn yearly_plans_are_exempt_from_days_since_charge() {
        let mut s = sub("sub_1", Active, 120_000, day(-400));
        s.items[0].0.period = Some(crate::domain::mrr::BillingPeriod {
            interval: crate::domain::mrr::Interval::Year,
            count: 1,
        });
        let obs = [
            sub_obs(day(-1), Some(1), s),
            charge("ch_last", day(-200), ChargeStatus::Succeeded),
        ];
        assert_eq!(impact_of(&obs, BillingSignal::StripeDaysSinceCharge), 0.0);
    }

    fn delta(then: i64, now: i64) -> f64 {
        let state = BillingState::default();
        let mut s = usage_signals(&state, NOW, &BillingRules::default());
        s.mrr_delta = Some(MrrDeltaSignal {
            currency: usd(),
            then,
            now,
            subscriptions: vec![],
        });
        mrr_delta_impact(&s, &BillingRules::default())
    }

    #[test]
    fn mrr_down_exactly_10_percent_adds_nothing_and_10_01_percent_adds_10() {
        assert_eq!(delta(10_000, 9_000), 0.0);
        assert_eq!(delta(10_000, 8_999), 10.0);
    }

    #[test]
    fn mrr_up_more_than_10_percent_subtracts_8() {
        assert_eq!(delta(10_000, 11_000), 0.0);
        assert_eq!(delta(10_000, 11_001), -8.0);
    }

    #[test]
    fn mrr_delta_compares_with_the_plan_90_days_ago() {
        let obs = [
            sub_obs(day(-120), Some(1), sub("sub_1", Active, 10_000, day(-200))),
            sub_obs(day(-10), Some(2), sub("sub_1", Active, 7_000, day(-200))),
        ];
        let f = factors_of(&obs);
        let f = f
            .iter()
            .find(|f| f.signal == BillingSignal::StripeMrrDelta)
            .unwrap();
        assert_eq!(f.impact, 10.0);
        assert_eq!(
            f.explanation,
            "MRR down 30.0% over 90 days (100.00 usd → 70.00 usd)"
        );
    }

    #[test]
    fn a_new_customer_has_no_mrr_delta() {
        let obs = [sub_obs(
            day(-10),
            Some(1),
            sub("sub_1", Active, 10_000, day(-10)),
        )];
        assert_eq!(impact_of(&obs, BillingSignal::StripeMrrDelta), 0.0);
    }

    #[test]
    fn a_paused_subscription_adds_10_and_resuming_clears_it() {
        let paused = sub_obs(day(-3), Some(1), sub("sub_1", Paused, 5_000, day(-20)));
        assert_eq!(
            impact_of(
                std::slice::from_ref(&paused),
                BillingSignal::StripeSubscriptionPaused
            ),
            10.0
        );
        let resumed = sub_obs(day(-1), Some(2), sub("sub_1", Active, 5_000, day(-20)));
        assert_eq!(
            impact_of(&[paused, resumed], BillingSignal::StripeSubscriptionPaused),
            0.0
        );
    }

    #[test]
    fn a_dispute_adds_10_decaying_linearly_to_0_over_7_days() {
        let r = BillingRules::default();
        assert_eq!(dispute_decay(NOW, NOW, &r), 10.0);
        assert!((dispute_decay(NOW.plus_secs(-(7 * DAY) / 2), NOW, &r) - 5.0).abs() < 1e-9);
        assert!((dispute_decay(day(-6), NOW, &r) - 10.0 / 7.0).abs() < 1e-9);
        assert_eq!(dispute_decay(day(-7), NOW, &r), 0.0);
        let one_day = impact_of(&[dispute("dp_1", day(-1))], BillingSignal::StripeDispute);
        assert!((one_day - 10.0 * 6.0 / 7.0).abs() < 1e-9);
        assert_eq!(
            impact_of(&[dispute("dp_1", day(-8))], BillingSignal::StripeDispute),
            0.0
        );
    }

    #[test]
    fn money_formats_with_the_currency_exponent() {
        assert_eq!(format_money(123_456, usd()), "1234.56 usd");
        assert_eq!(format_money(-5, usd()), "-0.05 usd");
        assert_eq!(
            format_money(1_200, Currency::parse("jpy").unwrap()),
            "1200 jpy"
        );
    }
}
