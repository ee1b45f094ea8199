use super::*;

fn usd() -> Currency {
    Currency::parse("usd").unwrap()
}

fn item(unit: i64, qty: u64, interval: Interval, count: u32) -> PriceItem {
    PriceItem {
        price_id: Some("price_1".into()),
        product: Some("prod_1".into()),
        currency: usd(),
        pricing: Pricing::PerUnit {
            unit_amount: Ratio::int(unit),
        },
        period: Some(BillingPeriod { interval, count }),
        usage_type: UsageType::Licensed,
        quantity: qty,
        current_period_end: None,
    }
}

fn mrr_of(items: Vec<PriceItem>, discounts: Vec<Discount>, status: SubscriptionStatus) -> i64 {
    mrr_with(items, discounts, status, false, MrrSettings::default())
}

fn mrr_with(
    items: Vec<PriceItem>,
    discounts: Vec<Discount>,
    status: SubscriptionStatus,
    collection_paused: bool,
    settings: MrrSettings,
) -> i64 {
    let items: Vec<_> = items.into_iter().map(|i| (i, vec![])).collect();
    let sub = MrrSubscription {
        status,
        collection_paused,
        items: &items,
        discounts: &discounts,
    };
    customer_mrr([sub], &settings, Timestamp::from_unix(1_000))
        .unwrap()
        .in_currency(usd())
}

fn coupon(value: DiscountValue, duration: CouponDuration) -> Discount {
    Discount {
        coupon_id: "co_1".into(),
        value,
        duration,
        end: None,
    }
}

use SubscriptionStatus::*;

#[test]
fn monthly_price_times_quantity() {
    assert_eq!(
        mrr_of(vec![item(2_000, 3, Interval::Month, 1)], vec![], Active),
        6_000
    );
}

#[test]
fn yearly_price_is_divided_by_twelve_times_count() {
    assert_eq!(
        mrr_of(vec![item(120_000, 1, Interval::Year, 1)], vec![], Active),
        10_000
    );
    assert_eq!(
        mrr_of(vec![item(240_000, 1, Interval::Year, 2)], vec![], Active),
        10_000
    );
}

#[test]
fn multi_month_price_is_divided_by_count() {
    assert_eq!(
        mrr_of(vec![item(30_000, 1, Interval::Month, 3)], vec![], Active),
        10_000
    );
}

#[test]
fn weekly_price_is_times_52_over_12_divided_by_count() {
    // 1200 × 52 / 12 = 5200 exactly; every two weeks halves it.
    assert_eq!(
        mrr_of(vec![item(1_200, 1, Interval::Week, 1)], vec![], Active),
        5_200
    );
    assert_eq!(
        mrr_of(vec![item(1_200, 1, Interval::Week, 2)], vec![], Active),
        2_600
    );
}

#[test]
fn daily_price_is_times_365_over_12_divided_by_count() {
    // 100 × 365 / 12 = 3041.67 → 3042.
    assert_eq!(
        mrr_of(vec![item(100, 1, Interval::Day, 1)], vec![], Active),
        3_042
    );
    assert_eq!(
        mrr_of(vec![item(120, 1, Interval::Day, 1)], vec![], Active),
        3_650
    );
}

#[test]
fn rounding_is_one_final_half_even_step() {
    // Two yearly 6-cent items are 0.5 each: rounded separately 0 + 0, exactly 1.
    assert_eq!(
        mrr_of(
            vec![item(6, 1, Interval::Year, 1), item(6, 1, Interval::Year, 1)],
            vec![],
            Active
        ),
        1
    );
    // 30/12 = 2.5 → 2 (even); 42/12 = 3.5 → 4 (even).
    assert_eq!(
        mrr_of(vec![item(30, 1, Interval::Year, 1)], vec![], Active),
        2
    );
    assert_eq!(
        mrr_of(vec![item(42, 1, Interval::Year, 1)], vec![], Active),
        4
    );
}

#[test]
fn fractional_unit_amounts_stay_exact() {
    let mut i = item(0, 1_000, Interval::Month, 1);
    i.pricing = Pricing::PerUnit {
        unit_amount: Ratio::parse("0.125").unwrap(),
    };
    assert_eq!(mrr_of(vec![i], vec![], Active), 125);
}

fn tiers() -> Vec<Tier> {
    vec![
        Tier {
            up_to: Some(10),
            unit_amount: Ratio::int(1_000),
            flat_amount: Ratio::int(500),
        },
        Tier {
            up_to: None,
            unit_amount: Ratio::int(800),
            flat_amount: Ratio::ZERO,
        },
    ]
}

#[test]
fn graduated_tiers_bill_each_band_at_its_rate_plus_flat_fees() {
    let mut i = item(0, 15, Interval::Month, 1);
    i.pricing = Pricing::Graduated { tiers: tiers() };
    // 10 × 1000 + 500 + 5 × 800
    assert_eq!(mrr_of(vec![i.clone()], vec![], Active), 14_500);
    i.quantity = 10;
    assert_eq!(mrr_of(vec![i], vec![], Active), 10_500);
}

#[test]
fn volume_tiers_bill_all_units_at_the_reached_tier() {
    let mut i = item(0, 15, Interval::Month, 1);
    i.pricing = Pricing::Volume { tiers: tiers() };
    assert_eq!(mrr_of(vec![i.clone()], vec![], Active), 12_000);
    i.quantity = 10;
    assert_eq!(mrr_of(vec![i], vec![], Active), 10_500);
}

#[test]
fn forever_percent_coupon_is_subtracted() {
    let d = coupon(
        DiscountValue::PercentOff(Ratio::parse("12.5").unwrap()),
        CouponDuration::Forever,
    );
    assert_eq!(
        mrr_of(vec![item(10_000, 1, Interval::Month, 1)], vec![d], Active),
        8_750
    );
}

#[test]
fn forever_amount_coupon_is_subtracted_per_billing_period() {
    let d = coupon(
        DiscountValue::AmountOff {
            amount: 12_000,
            currency: usd(),
        },
        CouponDuration::Forever,
    );
    // 120 000/yr − 12 000/yr = 108 000/yr = 9 000/month.
    assert_eq!(
        mrr_of(
            vec![item(120_000, 1, Interval::Year, 1)],
            vec![d.clone()],
            Active
        ),
        9_000
    );
    // Never below zero.
    assert_eq!(
        mrr_of(vec![item(5_000, 1, Interval::Year, 1)], vec![d], Active),
        0
    );
}

#[test]
fn once_and_repeating_coupons_only_count_with_the_setting() {
    let once = coupon(
        DiscountValue::PercentOff(Ratio::int(50)),
        CouponDuration::Once,
    );
    let rep = coupon(
        DiscountValue::PercentOff(Ratio::int(50)),
        CouponDuration::Repeating,
    );
    let items = vec![item(10_000, 1, Interval::Month, 1)];
    assert_eq!(mrr_of(items.clone(), vec![once.clone()], Active), 10_000);
    assert_eq!(mrr_of(items.clone(), vec![rep.clone()], Active), 10_000);
    let on = MrrSettings {
        include_limited_coupons: true,
    };
    assert_eq!(mrr_with(items.clone(), vec![rep], Active, false, on), 5_000);
    assert_eq!(mrr_with(items, vec![once], Active, false, on), 5_000);
}

#[test]
fn ended_discount_no_longer_counts() {
    let mut d = coupon(
        DiscountValue::PercentOff(Ratio::int(50)),
        CouponDuration::Forever,
    );
    d.end = Some(Timestamp::from_unix(999));
    assert_eq!(
        mrr_of(vec![item(10_000, 1, Interval::Month, 1)], vec![d], Active),
        10_000
    );
}

#[test]
fn metered_and_one_off_items_are_excluded() {
    let mut metered = item(10_000, 1, Interval::Month, 1);
    metered.usage_type = UsageType::Metered;
    let mut one_off = item(10_000, 1, Interval::Month, 1);
    one_off.period = None;
    assert_eq!(
        mrr_of(
            vec![metered, one_off, item(100, 1, Interval::Month, 1)],
            vec![],
            Active
        ),
        100
    );
}

#[test]
fn only_active_and_past_due_count() {
    let items = vec![item(10_000, 1, Interval::Month, 1)];
    for (status, want) in [
        (Active, 10_000),
        (PastDue, 10_000),
        (Trialing, 0),
        (Incomplete, 0),
        (IncompleteExpired, 0),
        (Paused, 0),
        (Unpaid, 0),
        (Canceled, 0),
    ] {
        assert_eq!(mrr_of(items.clone(), vec![], status), want, "{status:?}");
    }
}

#[test]
fn collection_paused_counts_zero() {
    let items = vec![item(10_000, 1, Interval::Month, 1)];
    assert_eq!(
        mrr_with(items, vec![], Active, true, MrrSettings::default()),
        0
    );
}

#[test]
fn the_main_currency_is_the_customers_own_else_the_largest_in_major_units() {
    let c = |code: &str| Currency::parse(code).unwrap();
    // 300.000 kwd (three decimals) against 1 000.00 usd: before, 300 000 minor
    // units beat 100 000.
    let mrr = Mrr(BTreeMap::from([(c("kwd"), 300_000), (c("usd"), 100_000)]));
    assert_eq!(mrr.primary(), Some(Money::new(100_000, c("usd"))));
    assert_eq!(
        mrr.primary_for(Some(c("kwd"))),
        Some(Money::new(300_000, c("kwd")))
    );
    // A preferred currency without MRR is ignored.
    assert_eq!(
        mrr.primary_for(Some(c("eur"))),
        Some(Money::new(100_000, c("usd")))
    );
    let yen = Mrr(BTreeMap::from([(c("jpy"), 5_000), (c("usd"), 10_000)]));
    assert_eq!(yen.primary(), Some(Money::new(5_000, c("jpy"))));
}

#[test]
fn an_unknown_price_or_unresolved_discount_makes_mrr_unknown_not_zero() {
    let mut tiered = item(0, 12, Interval::Month, 1);
    tiered.pricing = Pricing::Unknown {
        missing: MissingAmount::Tiers,
    };
    let items = vec![(tiered, vec![])];
    let sub = MrrSubscription {
        status: SubscriptionStatus::Active,
        collection_paused: false,
        items: &items,
        discounts: &[],
    };
    let err = customer_mrr([sub], &MrrSettings::default(), Timestamp::from_unix(1)).unwrap_err();
    assert_eq!(err.prices, ["price_1"]);
    let unresolved = Discount {
        coupon_id: "di_9".into(),
        value: DiscountValue::Unresolved,
        duration: CouponDuration::Unknown,
        end: None,
    };
    let items = vec![(item(1_000, 1, Interval::Month, 1), vec![])];
    let discounts = [unresolved];
    let sub = MrrSubscription {
        status: SubscriptionStatus::Active,
        collection_paused: false,
        items: &items,
        discounts: &discounts,
    };
    let err = customer_mrr([sub], &MrrSettings::default(), Timestamp::from_unix(1)).unwrap_err();
    assert_eq!(err.discounts, ["di_9"]);
    // A subscription that does not count needs no amount.
    let sub = MrrSubscription {
        status: SubscriptionStatus::Canceled,
        ..sub
    };
    assert!(customer_mrr([sub], &MrrSettings::default(), Timestamp::from_unix(1)).is_ok());
}

#[test]
fn ratio_round_trips_through_json_and_parses_decimals() {
    let r = Ratio::parse("-12.50").unwrap();
    assert_eq!(r, Ratio::new(-25, 2));
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, "\"-25/2\"");
    assert_eq!(serde_json::from_str::<Ratio>(&json).unwrap(), r);
    assert!(Ratio::parse("1.2.3").is_err());
    assert!(Ratio::parse("1/0").is_err());
    assert_eq!(Ratio::new(-5, 2).round_half_even(), -2);
    assert_eq!(Ratio::new(-7, 2).round_half_even(), -4);
}
