use super::*;
use crate::domain::billing_state::BillingState;
use crate::domain::factors::{BillingRules, billing_factors};
use crate::domain::signals::usage_signals;
use serde_json::json;

const T: i64 = 1_790_000_000;

fn item(id: &str, price: &str, amount: i64, qty: u64) -> serde_json::Value {
    json!({
        "id": id, "object": "subscription_item", "created": T - 86_400 * 200,
        "current_period_start": T - 86_400 * 10, "current_period_end": T + 86_400 * 20,
        "quantity": qty,
        "price": {
            "id": price, "object": "price", "active": true, "billing_scheme": "per_unit",
            "currency": "usd", "unit_amount": amount, "unit_amount_decimal": amount.to_string(),
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "type": "recurring"
        }
    })
}

fn subscription(status: &str, items: Vec<serde_json::Value>) -> serde_json::Value {
    json!({
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
        "currency": "usd", "created": T - 86_400 * 200, "start_date": T - 86_400 * 200,
        "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null, "ended_at": null,
        "collection_method": "charge_automatically", "default_payment_method": "pm_1",
        "discount": null, "discounts": [], "pause_collection": null, "trial_end": null,
        "items": {"object": "list", "data": items, "has_more": false, "url": "/v1/subscription_items?subscription=sub_1"},
        "livemode": false
    })
}

fn event(
    id: &str,
    kind: &str,
    created: i64,
    object: serde_json::Value,
    previous: Option<serde_json::Value>,
) -> m::Event {
    let mut data = json!({"object": object});
    if let Some(p) = previous {
        data["previous_attributes"] = p;
    }
    let body = json!({
        "id": id, "object": "event", "type": kind, "created": created, "livemode": false,
        "api_version": "2025-03-31.basil", "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "data": data
    });
    m::Event::parse(body.to_string().as_bytes()).unwrap()
}

fn downgrade_event() -> m::Event {
    event(
        "evt_down",
        "customer.subscription.updated",
        T - 86_400 * 3,
        subscription("active", vec![item("si_1", "price_small", 4_900, 1)]),
        Some(
            json!({"items": {"object": "list", "data": [item("si_1", "price_big", 9_900, 1)], "has_more": false, "url": "/v1/subscription_items?subscription=sub_1"}}),
        ),
    )
}

#[test]
fn subscription_updated_with_cheaper_items_is_a_downgrade() {
    let obs = observe_event(&downgrade_event());
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].customer.as_ref().map(|c| c.as_str()), Some("cus_1"));
    let rules = BillingRules::default();
    let state = BillingState::from_observations(&obs);
    let now = crate::domain::time::Timestamp::from_unix(T);
    let f = billing_factors(&usage_signals(&state, now, &rules), now, &rules);
    let down = f
        .iter()
        .find(|f| f.signal == crate::domain::factors::BillingSignal::StripeDowngrade)
        .unwrap();
    assert_eq!(down.impact, 10.0);
    assert_eq!(down.evidence, ["sub_1", "evt_down"]);
    assert!(
        down.explanation
            .starts_with("Plan dropped from 99.00 usd to 49.00 usd a month")
    );
}

#[test]
fn subscription_updated_with_dearer_items_is_an_upgrade_not_a_downgrade() {
    let e = event(
        "evt_up",
        "customer.subscription.updated",
        T - 86_400 * 3,
        subscription("active", vec![item("si_1", "price_big", 9_900, 2)]),
        Some(json!({"items": {"object": "list", "data": [item("si_1", "price_big", 9_900, 1)]}})),
    );
    let state = BillingState::from_observations(&observe_event(&e));
    let rules = BillingRules::default();
    let now = crate::domain::time::Timestamp::from_unix(T);
    let s = usage_signals(&state, now, &rules);
    assert!(s.downgrade.drops.is_empty());
    assert_eq!(
        state
            .samples_of(&state.subscriptions().next().unwrap().id)
            .count(),
        2
    );
}

#[test]
fn redelivered_events_and_backfill_build_the_same_state() {
    let e = downgrade_event();
    let once = BillingState::from_observations(&observe_event(&e));
    let twice: Vec<_> = observe_event(&e)
        .into_iter()
        .chain(observe_event(&e))
        .collect();
    assert_eq!(once, BillingState::from_observations(&twice));
    // The same subscription fetched by backfill a bit later agrees on everything current.
    let later = crate::domain::time::Timestamp::from_unix(T);
    let mut both = observe_event(&e);
    both.extend(observe_object(&e.data.object, later));
    let s = BillingState::from_observations(&both);
    assert_eq!(s.subscriptions().next(), once.subscriptions().next());
}

#[test]
fn invoice_payment_failed_is_one_failed_charge_per_event_and_a_redelivery_counts_once() {
    let invoice = |attempts: u32| {
        json!({
            "id": "in_1", "object": "invoice", "customer": "cus_1", "status": "open",
            "attempt_count": attempts, "attempted": true, "amount_due": 4_900, "amount_paid": 0,
            "amount_remaining": 4_900, "currency": "usd", "created": T - 86_400 * 5,
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
            "status_transitions": {"finalized_at": T - 86_400 * 5, "paid_at": null},
            "lines": {"object": "list", "data": [], "has_more": false}
        })
    };
    let e1 = event(
        "evt_f1",
        "invoice.payment_failed",
        T - 86_400 * 5,
        invoice(1),
        None,
    );
    let e2 = event(
        "evt_f2",
        "invoice.payment_failed",
        T - 86_400 * 2,
        invoice(2),
        None,
    );
    let obs: Vec<_> = [&e1, &e2, &e1]
        .iter()
        .flat_map(|e| observe_event(e))
        .collect();
    let state = BillingState::from_observations(&obs);
    let ids: Vec<_> = state.charges().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["in_1#evt_f1", "in_1#evt_f2"]);
    assert_eq!(
        state.invoices().next().map(|i| i.subscription.clone()),
        Some(Some(
            crate::domain::ids::StripeObjectId::parse("sub_1").unwrap()
        ))
    );
}

#[test]
fn a_paid_invoice_counts_as_a_successful_charge() {
    let paid = json!({
        "id": "in_2", "object": "invoice", "customer": "cus_1", "status": "paid",
        "attempt_count": 1, "amount_due": 4_900, "amount_paid": 4_900, "amount_remaining": 0,
        "currency": "usd", "created": T - 86_400, "subscription": "sub_1",
        "status_transitions": {"paid_at": T - 3_600}
    });
    let e = event("evt_p", "invoice.payment_succeeded", T - 3_600, paid, None);
    let state = BillingState::from_observations(&observe_event(&e));
    let c = state.charges().next().unwrap();
    assert_eq!(
        (c.id.to_string().as_str(), c.created.unix()),
        ("in_2#paid", T - 3_600)
    );
}

#[test]
fn tiered_prices_decimal_amounts_and_coupons_convert() {
    let mut s = subscription("active", vec![]);
    s["items"]["data"] = json!([{
        "id": "si_t", "quantity": 15,
        "price": {
            "id": "price_t", "currency": "usd", "billing_scheme": "tiered", "tiers_mode": "graduated",
            "unit_amount": null, "recurring": {"interval": "year", "interval_count": 1},
            "tiers": [{"up_to": 10, "unit_amount": 1_200, "flat_amount": 0}, {"up_to": null, "unit_amount": 600, "flat_amount": null}]
        }
    }, {
        "id": "si_d", "quantity": 1000,
        "price": {"id": "price_d", "currency": "usd", "unit_amount": null, "unit_amount_decimal": "0.5",
                  "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
    }, {
        "id": "si_m",
        "price": {"id": "price_m", "currency": "usd", "unit_amount": 10,
                  "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered"}}
    }]);
    s["discount"] = json!({"id": "di_1", "coupon": {"id": "TENOFF", "percent_off": 10.0, "duration": "forever"}, "end": null});
    let snap = subscription_snapshot(
        &serde_json::from_value(s).unwrap(),
        crate::domain::time::Timestamp::from_unix(T),
        &Catalog::default(),
    )
    .unwrap();
    let mrr = crate::domain::mrr::customer_mrr(
        [snap.as_mrr()],
        &Default::default(),
        crate::domain::time::Timestamp::from_unix(T),
    );
    // (10×1200 + 5×600)/12 = 1250, + 1000×0.5 = 500 → 1750, −10 % = 1575.
    assert_eq!(mrr.unwrap().primary().map(|m| m.minor), Some(1_575));
    assert_eq!(snap.discounts[0].coupon_id, "TENOFF");
}

#[test]
fn ignored_event_types_yield_nothing() {
    let e = event(
        "evt_x",
        "charge.refunded",
        T,
        json!({
            "id": "ch_1", "object": "charge", "customer": "cus_1", "status": "succeeded", "paid": true,
            "created": T, "amount": 4_900, "amount_refunded": 4_900, "refunded": true, "currency": "usd"
        }),
        None,
    );
    assert!(observe_event(&e).is_empty());
}
