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
