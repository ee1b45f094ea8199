use super::*;
use crate::domain::billing_state::BillingState;
use crate::domain::engine::{EngineConfig, Family, FamilyContribution};
use crate::domain::ids::ProfileId;
use crate::domain::profile::Profile;
use crate::domain::profile_view::profile_billing_view;
use crate::domain::signal_name::{BillingSignal, FactorSignal};
use std::collections::BTreeMap;

const T0: Timestamp = Timestamp::from_unix(1_790_000_000);

fn ws() -> WorkspaceId {
    WorkspaceId::parse("ws_derive").unwrap()
}

/// A stored score at `at` with `score` points; billing in `lifecycle`, renewing at `renewal`.
fn stored(
    at: Timestamp,
    score: f64,
    lifecycle: Option<Lifecycle>,
    renewal: Option<Timestamp>,
) -> StoredScore {
    let profile = Profile {
        profile_id: ProfileId::parse("p_1").unwrap(),
        email: None,
        domain: None,
        name: None,
        stripe_customer_id: None,
        families: BTreeMap::new(),
        classifier_churn_risk: None,
    };
    let cfg = EngineConfig::default();
    let mut s = crate::app::score::score_profile(&profile, None, false, at, &cfg, "test");
    s.score.score = score;
    s.score.at_risk = score >= cfg.at_risk_threshold;
    s.billing = lifecycle.map(|l| {
        let mut b = profile_billing_view(&BillingState::default(), at);
        b.lifecycle = l;
        b.renewal_date = renewal;
        b
    });
    s
}

fn with_failures(mut s: StoredScore, ids: &[&str]) -> StoredScore {
    let factor = Factor {
        signal: FactorSignal::Billing(BillingSignal::StripePaymentFailure),
        impact: 12.0,
        explanation: "payment failed".into(),
        evidence: ids.iter().map(|i| (*i).to_owned()).collect(),
        evidence_dates: Vec::new(),
    };
    s.score.families.insert(
        Family::Billing,
        FamilyContribution {
            impact: 12.0,
            raw_impact: 12.0,
            max_abs: 40.0,
            factors: vec![factor],
        },
    );
    s
}

fn types(events: &[OutboundEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.event_type).collect()
}

#[test]
fn crossing_the_threshold_up_enters_and_down_leaves_the_segment() {
    let low = stored(T0, 50.0, None, None);
    let high = stored(T0.plus_secs(60), 70.0, None, None);
    let up = derive(&ws(), Some(&low), &high, 2);
    assert_eq!(types(&up), [EventType::EnteredAtRisk]);
    assert_eq!(up[0].data["score"], 70.0);
    assert_eq!(up[0].data["previous_score"], 50.0);
    assert_eq!(
        types(&derive(&ws(), Some(&high), &low, 3)),
        [EventType::LeftAtRisk]
    );
    assert!(derive(&ws(), Some(&high), &high, 3).is_empty());
}

#[test]
fn a_first_score_at_risk_enters_the_segment_and_one_below_says_nothing() {
    assert_eq!(
        types(&derive(&ws(), None, &stored(T0, 80.0, None, None), 1)),
        [EventType::EnteredAtRisk]
    );
    assert!(derive(&ws(), None, &stored(T0, 20.0, None, None), 1).is_empty());
}

#[test]
fn trial_to_customer_to_churned_each_change_the_lifecycle_once() {
    let trial = stored(T0, 40.0, Some(Lifecycle::Trial), None);
    let customer = stored(T0.plus_secs(10), 40.0, Some(Lifecycle::Customer), None);
    let churned = stored(T0.plus_secs(20), 40.0, Some(Lifecycle::Churned), None);
    let e = derive(&ws(), Some(&trial), &customer, 5);
    assert_eq!(types(&e), [EventType::LifecycleChanged]);
    assert_eq!(e[0].data["previous_lifecycle"], "trial");
    assert_eq!(e[0].data["lifecycle"], "customer");
    assert_eq!(
        types(&derive(&ws(), Some(&customer), &churned, 6)),
        [EventType::LifecycleChanged]
    );
    assert!(derive(&ws(), Some(&customer), &customer, 6).is_empty());
    // Learning a lifecycle for the first time is not a change.
    assert!(derive(&ws(), Some(&stored(T0, 40.0, None, None)), &customer, 6).is_empty());
}

#[test]
fn a_renewal_within_7_days_fires_once_per_renewal() {
    let renewal = T0.plus_days(30);
    let far = stored(T0, 40.0, Some(Lifecycle::Customer), Some(renewal));
    let near = stored(
        renewal.plus_days(-7),
        40.0,
        Some(Lifecycle::Customer),
        Some(renewal),
    );
    let e = derive(&ws(), Some(&far), &near, 2);
    assert_eq!(types(&e), [EventType::RenewalDue]);
    assert_eq!(e[0].data["renewal_date"], renewal.to_date());
    // The nightly rescore a day later: already announced.
    let later = stored(
        renewal.plus_days(-6),
        40.0,
        Some(Lifecycle::Customer),
        Some(renewal),
    );
    assert!(derive(&ws(), Some(&near), &later, 3).is_empty());
    // The next period's renewal fires again when it comes near.
    let next = renewal.plus_days(30);
    let next_near = stored(
        next.plus_days(-3),
        40.0,
        Some(Lifecycle::Customer),
        Some(next),
    );
    assert_eq!(
        types(&derive(&ws(), Some(&later), &next_near, 4)),
        [EventType::RenewalDue]
    );
    // Eight days ahead is not due yet.
    let eight = stored(
        renewal.plus_days(-8),
        40.0,
        Some(Lifecycle::Customer),
        Some(renewal),
    );
    assert!(derive(&ws(), Some(&far), &eight, 2).is_empty());
}

#[test]
fn only_new_failed_payments_fire_payment_failed() {
    let one = with_failures(stored(T0, 40.0, None, None), &["ch_1"]);
    let two = with_failures(stored(T0.plus_secs(5), 40.0, None, None), &["ch_1", "ch_2"]);
    let e = derive(&ws(), Some(&one), &two, 7);
    assert_eq!(types(&e), [EventType::PaymentFailed]);
    assert_eq!(e[0].data["failed_payments"], serde_json::json!(["ch_2"]));
    assert!(derive(&ws(), Some(&two), &two, 8).is_empty());
    assert!(derive(&ws(), Some(&two), &one, 8).is_empty());
}

#[test]
fn one_commit_orders_its_events_and_names_them_stably() {
    let before = stored(T0, 40.0, Some(Lifecycle::Trial), None);
    let after = with_failures(stored(T0, 90.0, Some(Lifecycle::Customer), None), &["ch_9"]);
    let a = derive(&ws(), Some(&before), &after, 12);
    assert_eq!(
        types(&a),
        [
            EventType::EnteredAtRisk,
            EventType::LifecycleChanged,
            EventType::PaymentFailed
        ]
    );
    let seqs: Vec<&str> = a.iter().map(|e| e.seq.as_str()).collect();
    assert_eq!(seqs, ["000000000012.0", "000000000012.1", "000000000012.2"]);
    assert_eq!(a, derive(&ws(), Some(&before), &after, 12));
    let other = WorkspaceId::parse("ws_other").unwrap();
    assert_ne!(a[0].id, derive(&other, Some(&before), &after, 12)[0].id);
    let body: serde_json::Value = serde_json::from_str(&a[0].body()).unwrap();
    assert_eq!(body["type"], "profile.entered_at_risk");
    assert_eq!(body["workspace_id"], "ws_derive");
    assert_eq!(body["data"]["profile_id"], "p_1");
    assert_eq!(
        body["data"]["top_factors"][0]["signal"],
        "stripe_payment_failure"
    );
}
