use super::*;
use crate::domain::mrr::{BillingPeriod, Interval, Pricing, Ratio, UsageType};
use crate::domain::time::DAY;

/// The tests' "now": 2026-09-21T00:00:00Z.
pub const NOW: Timestamp = Timestamp::from_unix(1_790_000_000 - 1_790_000_000 % DAY);

/// `NOW` plus `days` (negative: ago).
pub fn day(days: i64) -> Timestamp {
    NOW.plus_days(days)
}

pub fn usd() -> Currency {
    Currency::parse("usd").unwrap()
}

pub fn cus() -> StripeCustomerId {
    StripeCustomerId::parse("cus_1").unwrap()
}

pub fn oid(id: &str) -> StripeObjectId {
    StripeObjectId::parse(id).unwrap()
}

pub fn evt(n: u32) -> StripeEventId {
    StripeEventId::parse(format!("evt_{n}")).unwrap()
}

pub fn monthly(amount: i64) -> Item {
    (
        PriceItem {
            price_id: Some(format!("price_{amount}")),
            product: Some("prod_plan".into()),
            currency: usd(),
            pricing: Pricing::PerUnit {
                unit_amount: Ratio::int(amount),
            },
            period: Some(BillingPeriod {
                interval: Interval::Month,
                count: 1,
            }),
            usage_type: UsageType::Licensed,
            quantity: 1,
            current_period_end: None,
        },
        Vec::new(),
    )
}

pub fn sub(
    id: &str,
    status: SubscriptionStatus,
    amount: i64,
    created: Timestamp,
) -> SubscriptionSnapshot {
    SubscriptionSnapshot {
        id: oid(id),
        customer: cus(),
        status,
        created,
        items: vec![monthly(amount)],
        discounts: vec![],
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        ended_at: None,
        cancellation_reason: None,
        collection_paused: false,
        trial_end: None,
        current_period_end: None,
        has_payment_method: true,
    }
}

pub fn at(at: Timestamp, event: Option<u32>, fact: Fact) -> Observation {
    Observation {
        at,
        event: event.map(evt),
        customer: Some(cus()),
        fact,
    }
}

pub fn sub_obs(at_: Timestamp, event: Option<u32>, s: SubscriptionSnapshot) -> Observation {
    at(
        at_,
        event,
        Fact::Subscription {
            snapshot: s,
            previous: None,
        },
    )
}

pub fn charge(id: &str, created: Timestamp, status: ChargeStatus) -> Observation {
    at(
        created,
        None,
        Fact::Charge(ChargeSnapshot {
            id: PaymentId::parse(id).unwrap(),
            created,
            status,
            amount: 5_000,
            currency: usd(),
            invoice: None,
            payment_intent: None,
        }),
    )
}

pub fn invoice(
    id: &str,
    sub: &str,
    status: InvoiceStatus,
    created: Timestamp,
    paid_at: Option<Timestamp>,
) -> Observation {
    at(
        paid_at.unwrap_or(created),
        None,
        Fact::Invoice(InvoiceSnapshot {
            id: oid(id),
            subscription: Some(oid(sub)),
            status,
            created,
            due_date: None,
            amount_remaining: if status == InvoiceStatus::Paid {
                0
            } else {
                5_000
            },
            currency: usd(),
            attempt_count: 1,
            paid_at,
            payments: vec![],
        }),
    )
}

pub fn dispute(id: &str, created: Timestamp) -> Observation {
    at(
        created,
        None,
        Fact::Dispute(DisputeSnapshot {
            id: oid(id),
            charge: Some(StripeChargeId::parse("ch_disputed").unwrap()),
            created,
            amount: 5_000,
            currency: usd(),
            reason: Some("fraudulent".into()),
        }),
    )
}

/// A customer a year in: a subscription (upgraded once), twelve monthly invoices with
/// their charges (one failed then retried), a dispute, the customer object.
pub fn long_lived_state() -> BillingState {
    let mut state = BillingState::default();
    state.apply(&at(
        day(-365),
        Some(1),
        Fact::Customer(CustomerSnapshot {
            id: cus(),
            email: Some("billing@acme.io".into()),
            created: day(-365),
            has_payment_method: true,
            currency: Some(usd()),
            deleted: false,
        }),
    ));
    state.apply(&sub_obs(
        day(-365),
        Some(2),
        sub("sub_1", SubscriptionStatus::Active, 5_000, day(-365)),
    ));
    state.apply(&sub_obs(
        day(-100),
        Some(3),
        sub("sub_1", SubscriptionStatus::Active, 9_000, day(-365)),
    ));
    for m in 0..12 {
        let created = day(-365 + 30 * m);
        let paid = created.plus_days(i64::from(m == 5) * 3);
        state.apply(&invoice(
            &format!("in_{m}"),
            "sub_1",
            InvoiceStatus::Paid,
            created,
            Some(paid),
        ));
        if m == 5 {
            state.apply(&charge(
                &format!("ch_{m}_failed"),
                created,
                ChargeStatus::Failed,
            ));
        }
        state.apply(&charge(&format!("ch_{m}"), paid, ChargeStatus::Succeeded));
    }
    state.apply(&dispute("dp_1", day(-20)));
    state
}
