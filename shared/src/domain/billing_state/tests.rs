use super::fixtures::*;
use super::*;
use SubscriptionStatus::*;
use proptest::prelude::*;

#[test]
fn an_older_event_never_regresses_a_subscription() {
    let newer = sub_obs(day(-1), Some(2), sub("sub_1", Active, 5_000, day(-100)));
    let older = sub_obs(day(-5), Some(1), sub("sub_1", PastDue, 5_000, day(-100)));
    let a = BillingState::from_observations([&newer, &older]);
    let b = BillingState::from_observations([&older, &newer]);
    assert_eq!(a, b);
    assert_eq!(a.subscriptions().next().map(|s| s.status), Some(Active));
}

#[test]
fn a_terminal_status_wins_over_a_later_observed_running_one() {
    // A backfill fetch stamped by our clock may claim a later time than the event.
    let canceled = sub_obs(day(-2), Some(1), sub("sub_1", Canceled, 5_000, day(-100)));
    let stale_fetch = sub_obs(day(-1), None, sub("sub_1", Active, 5_000, day(-100)));
    let s = BillingState::from_observations([&canceled, &stale_fetch]);
    assert_eq!(s.subscriptions().next().map(|s| s.status), Some(Canceled));
}

#[test]
fn a_paid_invoice_is_not_reopened_by_an_older_open_version() {
    let paid = invoice(
        "in_1",
        "sub_1",
        InvoiceStatus::Paid,
        day(-10),
        Some(day(-9)),
    );
    let open = invoice("in_1", "sub_1", InvoiceStatus::Open, day(-10), None);
    for order in [[&paid, &open], [&open, &paid]] {
        let s = BillingState::from_observations(order);
        assert_eq!(
            s.invoices().next().map(|i| i.status),
            Some(InvoiceStatus::Paid)
        );
    }
}

#[test]
fn charges_older_than_120_days_before_the_newest_observation_are_pruned() {
    let old = charge("ch_old", day(-121), ChargeStatus::Failed);
    let kept = charge("ch_kept", day(-120), ChargeStatus::Failed);
    let newest = charge("ch_new", day(0), ChargeStatus::Succeeded);
    let s = BillingState::from_observations([&old, &kept, &newest]);
    let ids: Vec<_> = s.charges().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["ch_kept", "ch_new"]);
    // Arriving after the horizon moved past it, the old charge is dropped the same way.
    let late = BillingState::from_observations([&newest, &kept, &old]);
    assert_eq!(s, late);
}

#[test]
fn the_newest_plan_sample_before_the_horizon_is_kept() {
    let first = sub_obs(day(-300), Some(1), sub("sub_1", Active, 10_000, day(-300)));
    let second = sub_obs(day(-200), Some(2), sub("sub_1", Active, 8_000, day(-300)));
    let now = sub_obs(day(0), Some(3), sub("sub_1", Active, 8_000, day(-300)));
    let s = BillingState::from_observations([&first, &second, &now]);
    let kept: Vec<_> = s.plan_samples.iter().map(|p| p.at).collect();
    assert_eq!(kept, [day(-200), day(0)]);
}

#[test]
fn state_round_trips_through_json() {
    let obs = [
        sub_obs(day(-3), Some(1), sub("sub_1", PastDue, 5_000, day(-60))),
        charge("ch_1", day(-3), ChargeStatus::Failed),
        dispute("dp_1", day(-1)),
        invoice("in_1", "sub_1", InvoiceStatus::Open, day(-3), None),
    ];
    let s = BillingState::from_observations(&obs);
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<BillingState>(&json).unwrap(), s);
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    let status = prop::sample::select(vec![Active, PastDue, Canceled, Trialing, Paused, Unpaid]);
    let day_ = (-300i64..5).prop_map(day);
    let ev = prop::option::of(1u32..6);
    prop_oneof![
        (
            day_.clone(),
            ev.clone(),
            1u8..3,
            status,
            prop::sample::select(vec![3_000i64, 5_000, 8_000])
        )
            .prop_map(|(t, e, n, st, amt)| sub_obs(
                t,
                e,
                sub(&format!("sub_{n}"), st, amt, day(-400))
            )),
        (
            day_.clone(),
            1u8..6,
            prop::sample::select(vec![
                ChargeStatus::Failed,
                ChargeStatus::Succeeded,
                ChargeStatus::Pending
            ])
        )
            .prop_map(|(t, n, st)| charge(&format!("ch_{n}"), t, st)),
        (day_.clone(), 1u8..3, any::<bool>()).prop_map(|(t, n, paid)| {
            let status = if paid {
                InvoiceStatus::Paid
            } else {
                InvoiceStatus::Open
            };
            invoice(
                &format!("in_{n}"),
                "sub_1",
                status,
                day(-40),
                paid.then_some(t),
            )
        }),
        (day_, 1u8..3).prop_map(|(t, n)| dispute(&format!("dp_{n}"), t)),
    ]
}

proptest! {
    #[test]
    fn any_permutation_with_duplicates_yields_the_same_state(
        (original, shuffled) in prop::collection::vec(arb_observation(), 1..30)
            .prop_flat_map(|v| {
                let n = v.len();
                (Just(v), prop::collection::vec(0..n, 0..10))
            })
            .prop_flat_map(|(v, dups)| {
                let mut with_dups = v.clone();
                with_dups.extend(dups.iter().map(|&i| v[i].clone()));
                (Just(v), Just(with_dups).prop_shuffle())
            })
    ) {
        let a = BillingState::from_observations(&original);
        let b = BillingState::from_observations(&shuffled);
        prop_assert_eq!(&a, &b);
        // Applying everything again changes nothing.
        let mut c = b.clone();
        for o in &original { c.apply(o); }
        prop_assert_eq!(&a, &c);
        // And so do the signals computed from it.
        let rules = crate::domain::factors::BillingRules::default();
        prop_assert_eq!(
            crate::domain::signals::usage_signals(&a, NOW, &rules),
            crate::domain::signals::usage_signals(&b, NOW, &rules)
        );
    }
}
