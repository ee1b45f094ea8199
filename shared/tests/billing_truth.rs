//! Billing truth on today's Stripe API versions: each rule run through the real chain
//! (`observe_event → BillingState → usage_signals → score`) on Stripe-shaped events of
//! API 2024-06-20 (legacy) and 2025-03-31 (basil). One test per rule of
//! `docs/scoring.md`; the scores in the comments are what the chain gave before the rule.

use kustiq::domain::billing_state::{BillingState, Fact, Observation};
use kustiq::domain::engine::{ChurnScore, EngineConfig, ScoreInput, score};
use kustiq::domain::factors::BillingSignal;
use kustiq::domain::ids::{PaymentRef, StripeCustomerId, StripeObjectId};
use kustiq::domain::lifecycle::Lifecycle;
use kustiq::domain::money::{Currency, Money};
use kustiq::domain::mrr::{CouponDuration, DiscountValue, Pricing, Ratio, Tier};
use kustiq::domain::profile_view::{ProfileBillingView, profile_billing_view};
use kustiq::domain::segment::segment_rank;
use kustiq::domain::signals::usage_signals;
use kustiq::domain::time::{DAY, Timestamp};
use kustiq::stripe::catalog::{Catalog, CouponTerms, DiscountTerms, PriceTiers, event_needs};
use kustiq::stripe::models::{Event, EventObject};
use kustiq::stripe::observe::{dispute_payments, observe_event_with, observe_object_with};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const NOW: i64 = 1_790_000_000 - 1_790_000_000 % DAY;
const BASIL: &str = "2025-03-31.basil";
const LEGACY: &str = "2024-06-20";

fn ago(days: i64) -> i64 {
    NOW - days * DAY
}

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn usd() -> Currency {
    Currency::parse("usd").unwrap()
}

fn fixture(name: &str) -> Event {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Event::parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn price(id: &str, product: &str, amount: i64, interval: &str) -> Value {
    json!({
        "id": id, "object": "price", "active": true, "billing_scheme": "per_unit",
        "currency": "usd", "product": product, "tax_behavior": "exclusive",
        "unit_amount": amount, "unit_amount_decimal": amount.to_string(),
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring"
    })
}

fn tiered_price(id: &str) -> Value {
    json!({
        "id": id, "object": "price", "active": true, "billing_scheme": "tiered",
        "currency": "usd", "product": "prod_seats", "tax_behavior": "exclusive",
        "tiers_mode": "graduated", "unit_amount": null, "unit_amount_decimal": null,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring"
    })
}

fn item(id: &str, price: Value, qty: u64) -> Value {
    json!({
        "id": id, "object": "subscription_item", "created": ago(400),
        "current_period_start": ago(10), "current_period_end": ago(-20),
        "discounts": [], "quantity": qty, "price": price, "tax_rates": []
    })
}

fn list(data: Vec<Value>) -> Value {
    json!({"object": "list", "data": data, "has_more": false, "url": "/v1/subscription_items"})
}

fn subscription(status: &str, items: Vec<Value>) -> Value {
    json!({
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
        "currency": "usd", "created": ago(400), "start_date": ago(400),
        "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null, "ended_at": null,
        "collection_method": "charge_automatically", "default_payment_method": "pm_1",
        "default_tax_rates": [], "automatic_tax": {"enabled": false, "liability": null},
        "discounts": [], "pause_collection": null, "trial_end": null,
        "items": list(items), "livemode": false
    })
}

fn event(
    id: &str,
    kind: &str,
    days_ago: i64,
    version: &str,
    object: Value,
    previous: Option<Value>,
) -> Event {
    let mut data = json!({"object": object});
    if let Some(p) = previous {
        data["previous_attributes"] = p;
    }
    let body = json!({
        "id": id, "object": "event", "type": kind, "created": ago(days_ago), "livemode": false,
        "api_version": version, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "data": data
    });
    Event::parse(body.to_string().as_bytes()).unwrap()
}

fn basil_invoice(id: &str, status: &str, attempt: u32, paid: i64, days_ago: i64) -> Value {
    json!({
        "id": id, "object": "invoice", "customer": "cus_1", "status": status,
        "attempt_count": attempt, "attempted": true, "amount_due": 10_000, "amount_paid": paid,
        "amount_remaining": if status == "paid" { 0 } else { 10_000 - paid },
        "currency": "usd", "created": ago(days_ago),
        "collection_method": "charge_automatically", "billing_reason": "subscription_cycle",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1", "metadata": {}}},
        "status_transitions": {"finalized_at": ago(days_ago), "paid_at": if status == "paid" { json!(ago(days_ago)) } else { Value::Null }},
        "lines": {"object": "list", "data": [], "has_more": false, "url": "/v1/invoices/x/lines"}
    })
}

fn monthly() -> Value {
    price("price_m", "prod_team", 10_000, "month")
}

/// The subscription as an update event `days` ago: one seat of the 100.00 monthly plan.
fn active(days: i64) -> Event {
    event(
        &format!("evt_a{days}"),
        "customer.subscription.updated",
        days,
        BASIL,
        subscription("active", vec![item("si_1", monthly(), 1)]),
        None,
    )
}

/// A renewal paid 25 days ago: payments are on record.
fn paid_renewal() -> Event {
    event(
        "evt_p0",
        "invoice.payment_succeeded",
        25,
        BASIL,
        basil_invoice("in_0", "paid", 1, 10_000, 25),
        None,
    )
}

/// What the chain makes of a run of payloads: the billing state, its score now and the
/// billing view. Owners are routed the way ingest routes them: a dispute goes to the
/// customer that a payload (or the retrieved charge) named as its charge's owner.
struct Chain {
    state: BillingState,
    score: ChurnScore,
    view: ProfileBillingView,
}

fn chain_with(events: &[Event], objects: &[EventObject], catalog: &Catalog) -> Chain {
    chain_at(events, objects, catalog, now())
}

/// The chain scored at `now`, backfilled objects fetched just before it.
fn chain_at(events: &[Event], objects: &[EventObject], catalog: &Catalog, now: Timestamp) -> Chain {
    let mut owners: BTreeMap<PaymentRef, StripeCustomerId> = BTreeMap::new();
    let mut observations: Vec<Observation> = Vec::new();
    let observed = events.iter().map(|e| observe_event_with(e, catalog)).chain(
        objects
            .iter()
            .map(|o| observe_object_with(o, now.plus_secs(-60), catalog)),
    );
    for o in observed {
        owners.extend(o.charge_owners.into_iter().map(|c| (c.payment, c.customer)));
        observations.extend(o.observations);
    }
    for e in events {
        if let EventObject::Dispute(d) = &e.data.object {
            let owner = dispute_payments(d)
                .iter()
                .find_map(|p| owners.get(p).cloned());
            for o in observations.iter_mut().filter(|o| o.customer.is_none()) {
                o.customer = owner.clone();
            }
        }
    }
    // A dispute whose owner nobody named is not applied (ingest defers it).
    observations.retain(|o| o.customer.is_some() || !matches!(o.fact, Fact::Dispute(_)));
    let state = BillingState::from_observations(&observations);
    let cfg = EngineConfig::default();
    let signals = usage_signals(&state, now, &cfg.billing);
    let none = BTreeMap::new();
    let score = score(
        &ScoreInput {
            now,
            stripe_connected: true,
            billing: Some(&signals),
            families: &none,
            classifier_churn_risk: None,
        },
        &cfg,
    );
    let view = profile_billing_view(&state, now);
    Chain { state, score, view }
}

fn chain(events: &[Event]) -> Chain {
    chain_with(events, &[], &Catalog::default())
}

fn impact(c: &Chain, signal: BillingSignal) -> f64 {
    c.score
        .families
        .values()
        .flat_map(|f| f.factors.iter())
        .filter(|f| f.signal == signal)
        .map(|f| f.impact)
        .sum()
}

fn seats_tiers() -> PriceTiers {
    PriceTiers {
        pricing: Pricing::Graduated {
            tiers: vec![
                Tier {
                    up_to: Some(10),
                    unit_amount: Ratio::int(1_000),
                    flat_amount: Ratio::ZERO,
                },
                Tier {
                    up_to: None,
                    unit_amount: Ratio::int(800),
                    flat_amount: Ratio::ZERO,
                },
            ],
        },
    }
}

// 1. Tiered prices ---------------------------------------------------------------

fn to_tiered() -> Event {
    event(
        "evt_t",
        "customer.subscription.updated",
        5,
        BASIL,
        subscription("active", vec![item("si_1", tiered_price("price_t"), 12)]),
        Some(json!({"items": list(vec![item("si_1", monthly(), 1)])})),
    )
}

#[test]
fn tiers_not_known_make_mrr_unknown_never_0_and_fire_no_mrr_factor() {
    // Before: MRR 0, +10 downgrade (100.00 → 0.00) and +10 MRR −100 %: score 70.
    let c = chain(&[active(100), paid_renewal(), to_tiered()]);
    assert_eq!(c.score.score, 50.0);
    assert_eq!(impact(&c, BillingSignal::StripeDowngrade), 0.0);
    assert_eq!(impact(&c, BillingSignal::StripeMrrDelta), 0.0);
    assert_eq!(c.view.mrr, None);
    let unknown = c.view.mrr_unknown.expect("MRR is unknown");
    assert_eq!(unknown.prices, ["price_t"]);
    // What the app must fetch once: the tiered price.
    assert_eq!(event_needs(&to_tiered()).prices[0].as_str(), "price_t");
}

#[test]
fn cached_tiers_price_a_tiered_item_on_every_path() {
    let catalog = Catalog {
        prices: BTreeMap::from([(StripeObjectId::parse("price_t").unwrap(), seats_tiers())]),
        ..Catalog::default()
    };
    // 12 seats: 10 × 10.00 + 2 × 8.00 = 116.00 a month, an upgrade from 100.00.
    let c = chain_with(&[active(100), paid_renewal(), to_tiered()], &[], &catalog);
    assert_eq!(c.view.mrr, Some(Money::new(11_600, usd())));
    assert_eq!(impact(&c, BillingSignal::StripeDowngrade), 0.0);
    assert_eq!(impact(&c, BillingSignal::StripeMrrDelta), -8.0);
    // The same subscription read by backfill gives the same MRR.
    let object = to_tiered().data.object;
    let backfill = chain_with(&[], &[object], &catalog);
    assert_eq!(backfill.view.mrr, Some(Money::new(11_600, usd())));
}

// 2. Coupons ----------------------------------------------------------------------

fn coupon_catalog() -> Catalog {
    let twenty = CouponTerms {
        value: DiscountValue::PercentOff(Ratio::int(20)),
        duration: CouponDuration::Forever,
    };
    let ten = CouponTerms {
        value: DiscountValue::PercentOff(Ratio::int(10)),
        duration: CouponDuration::Forever,
    };
    let discount = |coupon: &str| DiscountTerms {
        coupon: coupon.to_owned(),
        end: None,
    };
    Catalog {
        prices: BTreeMap::from([(
            StripeObjectId::parse("price_1R5zZx2eZvKYlo2CSeatsTier").unwrap(),
            seats_tiers(),
        )]),
        discounts: BTreeMap::from([
            (
                StripeObjectId::parse("di_1RDdIr2eZvKYlo2CsUbTwEnTy").unwrap(),
                discount("TWENTY"),
            ),
            (
                StripeObjectId::parse("di_1RDdIr2eZvKYlo2CiTeMtEn").unwrap(),
                discount("SEATS10"),
            ),
        ]),
        coupons: BTreeMap::from([("TWENTY".to_owned(), twenty), ("SEATS10".to_owned(), ten)]),
    }
}

#[test]
fn a_forever_coupon_sent_as_a_discount_id_counts_once_resolved() {
    // Basil: discounts are ids, the seats price comes without tiers. Before: the coupon
    // was invisible and the tiered item counted 0 (MRR 100.00 eur).
    let e = fixture("subscription_updated_2025-03-31_discount_ids.json");
    let needs = event_needs(&e);
    assert_eq!(needs.discounts.len(), 2);
    assert_eq!(needs.prices.len(), 1);
    let unresolved = chain(std::slice::from_ref(&e));
    assert_eq!(unresolved.view.mrr, None);
    assert_eq!(
        unresolved.view.mrr_unknown.map(|u| u.discounts.len()),
        Some(2)
    );
    let c = chain_with(&[e], &[], &coupon_catalog());
    // Base 100.00 + seats (10 × 10.00 + 2 × 8.00 = 116.00, −10 % on the item = 104.40),
    // then −20 % on the subscription: (100.00 + 104.40) × 0.8 = 163.52 eur.
    let eur = Currency::parse("eur").unwrap();
    assert_eq!(c.view.mrr, Some(Money::new(16_352, eur)));
}

#[test]
fn item_level_discounts_apply_to_their_item() {
    let mut s = subscription(
        "active",
        vec![
            item("si_1", monthly(), 1),
            item("si_2", price("price_x", "prod_extra", 5_000, "month"), 1),
        ],
    );
    s["items"]["data"][1]["discounts"] = json!([{
        "id": "di_item", "object": "discount", "end": null, "start": ago(30),
        "coupon": {"id": "HALF", "object": "coupon", "percent_off": 50.0, "duration": "forever"}
    }]);
    let e = event("evt_i", "customer.subscription.updated", 1, BASIL, s, None);
    // 100.00 + 50.00 × 0.5. Before: item-level discounts were never read (150.00).
    assert_eq!(chain(&[e]).view.mrr, Some(Money::new(12_500, usd())));
}

#[test]
fn a_20_percent_forever_coupon_is_mrr_80_on_every_api_version() {
    let mut legacy = subscription("active", vec![item("si_1", monthly(), 1)]);
    legacy["discount"] = json!({"id": "di_1", "object": "discount", "end": null, "start": ago(2),
        "coupon": {"id": "TWENTY", "object": "coupon", "percent_off": 20.0, "duration": "forever"}});
    let mut basil = subscription("active", vec![item("si_1", monthly(), 1)]);
    basil["discounts"] = json!(["di_1"]);
    let catalog = Catalog {
        discounts: BTreeMap::from([(
            StripeObjectId::parse("di_1").unwrap(),
            DiscountTerms {
                coupon: "TWENTY".into(),
                end: None,
            },
        )]),
        coupons: BTreeMap::from([(
            "TWENTY".to_owned(),
            CouponTerms {
                value: DiscountValue::PercentOff(Ratio::int(20)),
                duration: CouponDuration::Forever,
            },
        )]),
        ..Catalog::default()
    };
    for (version, s) in [(LEGACY, legacy), (BASIL, basil)] {
        let e = event(
            "evt_v",
            "customer.subscription.updated",
            1,
            version,
            s,
            None,
        );
        let c = chain_with(&[e], &[], &catalog);
        assert_eq!(c.view.mrr, Some(Money::new(8_000, usd())), "{version}");
    }
}

#[test]
fn a_newly_added_forever_coupon_is_not_a_downgrade() {
    let mut with_coupon = subscription("active", vec![item("si_1", monthly(), 1)]);
    with_coupon["discount"] = json!({"id": "di_1", "object": "discount", "end": null, "start": ago(2),
        "coupon": {"id": "TWENTY", "object": "coupon", "percent_off": 20.0, "duration": "forever"}});
    let added = event(
        "evt_c",
        "customer.subscription.updated",
        2,
        LEGACY,
        with_coupon,
        Some(json!({"discount": null})),
    );
    // Before: +10 downgrade (100.00 → 80.00) and +10 MRR −20 %: 70.
    let c = chain(&[active(10), paid_renewal(), added]);
    assert_eq!(impact(&c, BillingSignal::StripeDowngrade), 0.0);
    // The revenue did fall 20 % within 90 days: that factor stays.
    assert_eq!(impact(&c, BillingSignal::StripeMrrDelta), 10.0);
    assert_eq!(c.score.score, 60.0);
}

// 3. Disputes ---------------------------------------------------------------------

#[test]
fn a_basil_dispute_scores_at_once_through_its_charges_owner() {
    // The basil invoice names no charge, so nothing had named the owner of ch_3RFf…:
    // before, the dispute was never applied (50). The charge retrieved by id names it.
    let dispute = fixture("dispute_created_2025-03-31.json");
    let EventObject::Dispute(d) = &dispute.data.object else {
        panic!("not a dispute")
    };
    let a_day_later = d.created.plus_days(1);
    let charge = fixture_object("charge_2025-03-31.json");
    let retrieved = [EventObject::Charge(Box::new(
        serde_json::from_value(charge).unwrap(),
    ))];
    let c = chain_at(
        std::slice::from_ref(&dispute),
        &retrieved,
        &Catalog::default(),
        a_day_later,
    );
    assert_eq!(c.state.disputes().count(), 1);
    // 10 × 6/7 a day after opening.
    assert!((impact(&c, BillingSignal::StripeDispute) - 60.0 / 7.0).abs() < 0.05);
    // Without the charge's owner the dispute cannot be routed.
    let unrouted = chain_at(&[dispute], &[], &Catalog::default(), a_day_later);
    assert_eq!(unrouted.state.disputes().count(), 0);
}

fn fixture_object(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[test]
fn charge_owners_come_from_the_charge_and_from_invoice_payments() {
    let charge: kustiq::stripe::models::Charge =
        serde_json::from_value(fixture_object("charge_2025-03-31.json")).unwrap();
    let o = observe_object_with(
        &EventObject::Charge(Box::new(charge)),
        now(),
        &Catalog::default(),
    );
    let named: Vec<String> = o
        .charge_owners
        .iter()
        .map(|c| c.payment.to_string())
        .collect();
    assert_eq!(
        named,
        ["ch_3RFfGi2eZvKYlo2C0cHaRgE1", "pi_3RFfGi2eZvKYlo2C0pAyInT2"]
    );
    // A basil invoice retrieved with its payments names them too.
    let mut inv = basil_invoice("in_9", "paid", 1, 10_000, 3);
    inv["payments"] = json!({"object": "list", "has_more": false, "url": "/v1/invoice_payments", "data": [
        {"id": "inpay_1", "object": "invoice_payment", "status": "paid",
         "payment": {"type": "payment_intent", "payment_intent": "pi_9"}}
    ]});
    let o = observe_object_with(
        &EventObject::Invoice(Box::new(serde_json::from_value(inv).unwrap())),
        now(),
        &Catalog::default(),
    );
    assert_eq!(o.charge_owners[0].payment.to_string(), "pi_9");
    assert_eq!(o.charge_owners[0].customer.as_str(), "cus_1");
}

// 4. Failures ---------------------------------------------------------------------

fn failed(n: u32, days_ago: i64, attempt: u32) -> Event {
    event(
        &format!("evt_f{n}"),
        "invoice.payment_failed",
        days_ago,
        BASIL,
        basil_invoice("in_1", "open", attempt, 0, 12),
        None,
    )
}

#[test]
fn three_customer_initiated_retries_are_three_failed_charges_and_add_12() {
    // Manual retries keep attempt_count 1. Before: counted as one failure, +6 (56).
    let c = chain(&[
        active(20),
        paid_renewal(),
        failed(1, 10, 1),
        failed(2, 9, 1),
        failed(3, 8, 1),
    ]);
    assert_eq!(impact(&c, BillingSignal::StripePaymentFailure), 12.0);
    assert_eq!(c.score.score, 62.0);
    // A redelivered event is the same failure.
    let again = chain(&[
        active(20),
        paid_renewal(),
        failed(1, 10, 1),
        failed(1, 10, 1),
    ]);
    assert_eq!(
        again
            .state
            .charges()
            .filter(|c| c.id.invoice().is_some())
            .count(),
        2
    );
}

#[test]
fn a_success_on_another_invoice_does_not_clear_failures() {
    let other_paid = event(
        "evt_p2",
        "invoice.payment_succeeded",
        3,
        BASIL,
        basil_invoice("in_2", "paid", 1, 10_000, 3),
        None,
    );
    // Before: the success on in_2 erased in_1's failures (50).
    let c = chain(&[
        active(20),
        paid_renewal(),
        failed(1, 10, 1),
        failed(2, 9, 1),
        other_paid,
    ]);
    assert_eq!(impact(&c, BillingSignal::StripePaymentFailure), 6.0);
    // Paying in_1 itself recovers them.
    let recovered = event(
        "evt_p1",
        "invoice.payment_succeeded",
        2,
        BASIL,
        basil_invoice("in_1", "paid", 1, 10_000, 12),
        None,
    );
    let c = chain(&[active(20), failed(1, 10, 1), failed(2, 9, 1), recovered]);
    assert_eq!(impact(&c, BillingSignal::StripePaymentFailure), 0.0);
}

#[test]
fn a_basil_invoice_payment_failed_fixture_is_one_failed_charge() {
    let e = fixture("invoice_payment_failed_2025-03-31.json");
    let o = observe_event_with(&e, &Catalog::default());
    let failures: Vec<String> = o
        .observations
        .iter()
        .filter_map(|o| match &o.fact {
            Fact::Charge(c) => Some(c.id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        ["in_1RFfGg2eZvKYlo2CrEnEwAl1#evt_1RFfGh2eZvKYlo2CpAyFaIl1"]
    );
}

#[test]
fn a_legacy_invoice_payment_failed_counts_its_charge_and_names_its_owner() {
    let e = fixture("invoice_payment_failed_2024-06-20.json");
    let o = observe_event_with(&e, &Catalog::default());
    let failure = o.observations.iter().find_map(|o| match &o.fact {
        Fact::Charge(c) => Some(c.id.to_string()),
        _ => None,
    });
    assert_eq!(failure.as_deref(), Some("ch_3PrAa92eZvKYlo2C0fAiLeD2"));
    let owners: Vec<(String, String)> = o
        .charge_owners
        .iter()
        .map(|c| (c.payment.to_string(), c.customer.to_string()))
        .collect();
    assert_eq!(
        owners,
        [
            (
                "ch_3PrAa92eZvKYlo2C0fAiLeD2".into(),
                "cus_QhXw9aBcDeFgHi".into()
            ),
            (
                "pi_3PrAa92eZvKYlo2C0pAyInT2".into(),
                "cus_QhXw9aBcDeFgHi".into()
            ),
        ]
    );
}

// 5. Billing interval -------------------------------------------------------------

#[test]
fn monthly_to_annual_of_the_same_product_and_seats_is_neither_a_downgrade_nor_an_mrr_decline() {
    let annual = event(
        "evt_y",
        "customer.subscription.updated",
        5,
        BASIL,
        subscription(
            "active",
            vec![item(
                "si_2",
                price("price_y", "prod_team", 100_000, "year"),
                1,
            )],
        ),
        Some(json!({"items": list(vec![item("si_1", monthly(), 1)])})),
    );
    // Before: +10 downgrade (100.00 → 83.33) and +10 MRR −16.7 %: 70.
    let c = chain(&[active(100), paid_renewal(), annual]);
    assert_eq!(impact(&c, BillingSignal::StripeDowngrade), 0.0);
    assert_eq!(impact(&c, BillingSignal::StripeMrrDelta), 0.0);
    assert_eq!(c.score.score, 50.0);
    // The displayed MRR is still the real one.
    assert_eq!(c.view.mrr, Some(Money::new(8_333, usd())));
}

#[test]
fn a_seat_reduction_made_with_an_interval_change_still_counts_on_normalised_amounts() {
    let seat =
        |amount, interval| price(&format!("price_{interval}"), "prod_team", amount, interval);
    let ten_monthly = event(
        "evt_m",
        "customer.subscription.updated",
        100,
        BASIL,
        subscription("active", vec![item("si_1", seat(1_000, "month"), 10)]),
        None,
    );
    let eight_annual = event(
        "evt_y",
        "customer.subscription.updated",
        5,
        BASIL,
        subscription("active", vec![item("si_2", seat(10_000, "year"), 8)]),
        Some(json!({"items": list(vec![item("si_1", seat(1_000, "month"), 10)])})),
    );
    let c = chain(&[ten_monthly, paid_renewal(), eight_annual]);
    let down = c
        .score
        .families
        .values()
        .flat_map(|f| f.factors.iter())
        .find(|f| f.signal == BillingSignal::StripeDowngrade)
        .expect("the two lost seats are a downgrade");
    // Measured at the monthly seat price: 10 × 10.00 → 8 × 10.00.
    assert!(
        down.explanation
            .starts_with("Plan dropped from 100.00 usd to 80.00 usd")
    );
    assert_eq!(impact(&c, BillingSignal::StripeMrrDelta), 10.0);
}

// 6. Pause ------------------------------------------------------------------------

#[test]
fn a_collection_pause_is_one_factor() {
    let mut paused = subscription("active", vec![item("si_1", monthly(), 1)]);
    paused["pause_collection"] = json!({"behavior": "void", "resumes_at": null});
    let pause = event(
        "evt_pause",
        "customer.subscription.updated",
        3,
        BASIL,
        paused,
        Some(json!({"pause_collection": null})),
    );
    // Before: pause +10 and MRR −100 % +10: 70.
    let c = chain(&[active(100), paid_renewal(), pause]);
    assert_eq!(impact(&c, BillingSignal::StripeSubscriptionPaused), 10.0);
    assert_eq!(impact(&c, BillingSignal::StripeMrrDelta), 0.0);
    assert_eq!(c.score.score, 60.0);
}

// 7. Evidence ---------------------------------------------------------------------

#[test]
fn no_days_since_charge_factor_without_evidence_on_record() {
    // Day one: a 400-day-old subscription, no history read. Before: +8, "400 days
    // without a successful charge (none on record)" (58).
    let c = chain(&[active(0)]);
    assert_eq!(impact(&c, BillingSignal::StripeDaysSinceCharge), 0.0);
    assert_eq!(c.score.score, 50.0);
}

#[test]
fn an_invoice_unpaid_for_45_days_is_evidence() {
    let open = event(
        "evt_o",
        "invoice.finalized",
        50,
        BASIL,
        basil_invoice("in_5", "open", 0, 0, 50),
        None,
    );
    let c = chain(&[active(0), open]);
    let f = c
        .score
        .families
        .values()
        .flat_map(|f| f.factors.iter())
        .find(|f| f.signal == BillingSignal::StripeDaysSinceCharge)
        .expect("fires");
    assert_eq!(f.impact, 8.0);
    assert!(
        f.explanation.contains("(in_5 unpaid since"),
        "{}",
        f.explanation
    );
}

#[test]
fn free_promotional_months_and_out_of_band_payments_count_as_settled() {
    let zero = |n: i64| {
        event(
            &format!("evt_z{n}"),
            "invoice.payment_succeeded",
            n,
            BASIL,
            basil_invoice(&format!("in_z{n}"), "paid", 1, 0, n),
            None,
        )
    };
    // $0 invoices of a 100 %-off repeating coupon. Before: +8 (58).
    let c = chain(&[active(80), zero(60), zero(30), zero(1)]);
    assert_eq!(impact(&c, BillingSignal::StripeDaysSinceCharge), 0.0);
    // Paid out of band: status paid, nothing charged.
    let mut oob = basil_invoice("in_oob", "paid", 0, 0, 2);
    oob["paid_out_of_band"] = json!(true);
    let old = event(
        "evt_old",
        "invoice.payment_succeeded",
        70,
        BASIL,
        basil_invoice("in_old", "paid", 1, 10_000, 70),
        None,
    );
    let oob = event("evt_oob", "invoice.payment_succeeded", 2, BASIL, oob, None);
    let c = chain(&[active(80), old, oob]);
    assert_eq!(impact(&c, BillingSignal::StripeDaysSinceCharge), 0.0);
}

// 8. Minor rules ------------------------------------------------------------------

fn past_due(days_ago: i64) -> Event {
    event(
        "evt_pd",
        "customer.subscription.updated",
        days_ago,
        BASIL,
        subscription("past_due", vec![item("si_1", monthly(), 1)]),
        Some(json!({"status": "active"})),
    )
}

#[test]
fn an_older_invoice_paid_late_does_not_clear_a_newer_failure() {
    let old_paid = event(
        "evt_op",
        "invoice.payment_succeeded",
        1,
        BASIL,
        {
            let mut i = basil_invoice("in_old", "paid", 1, 10_000, 40);
            i["status_transitions"]["paid_at"] = json!(ago(1));
            i
        },
        None,
    );
    // Before: the late payment of in_old cleared the dunning of in_1 (50).
    let c = chain(&[past_due(10), failed(1, 10, 1), old_paid]);
    assert_eq!(impact(&c, BillingSignal::StripeSubscriptionStatus), 10.0);
}

#[test]
fn the_customers_currency_is_the_main_one_and_amounts_compare_in_major_units() {
    let yen = json!({
        "id": "price_jpy", "object": "price", "billing_scheme": "per_unit", "currency": "jpy",
        "product": "prod_jp", "unit_amount": 10_000, "recurring": {"interval": "month", "interval_count": 1}
    });
    let mut s = subscription("active", vec![item("si_1", monthly(), 1)]);
    let mut s2 = subscription("active", vec![item("si_2", yen, 1)]);
    s2["id"] = json!("sub_2");
    s2["currency"] = json!("jpy");
    s["id"] = json!("sub_1");
    let a = event("evt_1", "customer.subscription.updated", 1, BASIL, s, None);
    let b = event("evt_2", "customer.subscription.updated", 1, BASIL, s2, None);
    // 10 000 jpy against 100.00 usd: before, 10 000 minor units beat 10 000 minor units
    // alphabetically (jpy). In major units usd's 100 < jpy's 10 000, so without a
    // customer currency jpy is still the larger; with the customer's own currency usd
    // wins.
    let customer = event(
        "evt_c",
        "customer.updated",
        1,
        BASIL,
        json!({"id": "cus_1", "object": "customer", "created": ago(400), "currency": "usd",
               "invoice_settings": {"default_payment_method": null}, "livemode": false}),
        None,
    );
    let c = chain(&[a, b, customer]);
    assert_eq!(c.view.mrr, Some(Money::new(10_000, usd())));
}

#[test]
fn a_default_source_counts_as_a_payment_method() {
    let mut trial = subscription("trialing", vec![item("si_1", monthly(), 1)]);
    trial["trial_end"] = json!(ago(-3));
    trial["default_payment_method"] = Value::Null;
    let s = event(
        "evt_tr",
        "customer.subscription.updated",
        1,
        BASIL,
        trial,
        None,
    );
    let customer = event(
        "evt_cu",
        "customer.updated",
        1,
        BASIL,
        json!({"id": "cus_1", "object": "customer", "created": ago(10), "default_source": "card_1",
               "invoice_settings": {"default_payment_method": null}, "livemode": false}),
        None,
    );
    // Before: flagged as a trial ending without a payment method.
    assert!(
        !chain(&[s, customer])
            .view
            .trial_ending_without_payment_method
    );
}

#[test]
fn tax_inclusive_prices_count_without_their_tax() {
    let mut inclusive = price("price_incl", "prod_team", 11_900, "month");
    inclusive["tax_behavior"] = json!("inclusive");
    let mut s = subscription("active", vec![item("si_1", inclusive.clone(), 1)]);
    s["default_tax_rates"] =
        json!([{"id": "txr_1", "object": "tax_rate", "percentage": 19.0, "inclusive": true}]);
    let e = event("evt_tx", "customer.subscription.updated", 1, BASIL, s, None);
    // Before: 119.00 (the tax counted).
    assert_eq!(chain(&[e]).view.mrr, Some(Money::new(10_000, usd())));
    // Under automatic tax the tax inside the price is not on record: unknown, not a guess.
    let mut auto = subscription("active", vec![item("si_1", inclusive, 1)]);
    auto["automatic_tax"] = json!({"enabled": true});
    let e = event(
        "evt_ta",
        "customer.subscription.updated",
        1,
        BASIL,
        auto,
        None,
    );
    assert_eq!(chain(&[e]).view.mrr, None);
}

// 9. The seeds' example -----------------------------------------------------------

#[test]
fn two_payment_failures_inside_14_days_put_a_customer_at_the_top_of_the_at_risk_segment() {
    let twice = chain(&[
        paid_renewal(),
        past_due(10),
        failed(1, 10, 1),
        failed(2, 3, 2),
    ]);
    // Before: 66 with the threshold at 70, not at risk.
    assert_eq!(twice.score.score, 66.0);
    assert!(twice.score.at_risk);
    // One failure is not an alarm: the dunning factor stands for it (60).
    let once = chain(&[paid_renewal(), past_due(10), failed(1, 10, 1)]);
    assert_eq!(once.score.score, 60.0);
    assert!(!once.score.at_risk);
    // Nor is a lone failure outside dunning (56).
    let lone = chain(&[paid_renewal(), active(20), failed(1, 10, 1)]);
    assert!(!lone.score.at_risk);
    // Ranked against the rest of the segment: a churned customer scores higher (75) but
    // cannot be saved; a live customer with an older problem of the same weight comes
    // after the fresh one.
    let mut canceled = subscription("canceled", vec![item("si_1", monthly(), 1)]);
    canceled["ended_at"] = json!(ago(4));
    let churned = chain(&[
        active(120),
        event(
            "evt_x",
            "customer.subscription.deleted",
            4,
            BASIL,
            canceled,
            None,
        ),
    ]);
    assert!(churned.score.score > twice.score.score);
    let older = chain(&[
        paid_renewal(),
        past_due(29),
        failed(1, 29, 1),
        failed(2, 20, 2),
    ]);
    assert_eq!(older.score.score, 66.0);
    let mut segment = [
        segment_rank("p_churned", &churned.score, Some(churned.view.lifecycle)),
        segment_rank("p_older", &older.score, Some(older.view.lifecycle)),
        segment_rank("p_twice", &twice.score, Some(twice.view.lifecycle)),
    ];
    segment.sort();
    assert_eq!(churned.view.lifecycle, Lifecycle::Churned);
    assert_eq!(
        segment[0],
        segment_rank("p_twice", &twice.score, Some(twice.view.lifecycle))
    );
    // The at-risk index stores this order: its sort keys, read descending, list the same.
    fn keyed(id: &'static str, c: &Chain) -> (String, &'static str) {
        let pid = kustiq::domain::ids::ProfileId::parse(id).unwrap_or_else(|e| panic!("{e}"));
        let rank = segment_rank(id, &c.score, Some(c.view.lifecycle));
        (kustiq::adapters::dynamo::keys::score_sort(&rank, &pid), id)
    }
    let mut index = [
        keyed("p_churned", &churned),
        keyed("p_older", &older),
        keyed("p_twice", &twice),
    ];
    index.sort_by(|a, b| b.0.cmp(&a.0));
    assert_eq!(index.map(|(_, id)| id), ["p_twice", "p_older", "p_churned"]);
}
