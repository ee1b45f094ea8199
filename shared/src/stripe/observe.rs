//! The Stripe boundary: wire objects and events → billing-state observations. Webhook events and
//! backfilled objects go through the same conversions, so both paths build the same
//! state ([`crate::domain::billing_state`]).
//!
//! Payloads of every API version read the same: subscriptions of API ≥ 2025-03-31 send
//! discounts as ids and tiered prices without tiers, so amounts come from the
//! [`Catalog`] when the payload lacks them, and are marked unknown (never 0) when the
//! catalog lacks them too.

use crate::domain::billing_state::{
    CancellationReason, ChargeSnapshot, ChargeStatus, CustomerSnapshot, DisputeSnapshot, Fact,
    InvoiceSnapshot, InvoiceStatus, Item, Observation, PaymentId, PreviousPlan,
    SubscriptionSnapshot,
};
use crate::domain::ids::{PaymentRef, StripeCustomerId};
use crate::domain::money::Currency;
use crate::domain::mrr::{
    BillingPeriod, CouponDuration, Discount, DiscountValue, Interval, MissingAmount, PriceItem,
    Pricing, Ratio, SubscriptionStatus, Tier, UsageType,
};
use crate::domain::time::Timestamp;
use crate::stripe::catalog::{Catalog, CouponTerms, PriceTiers};
use crate::stripe::models as m;

pub use crate::domain::payments::ChargeOwner;

/// Everything one payload tells: the observations for the billing state, and the
/// charge owners for dispute routing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// What to apply to the customer's billing state.
    pub observations: Vec<Observation>,
    /// Charge and payment-intent owners named by the payload.
    pub charge_owners: Vec<ChargeOwner>,
}

/// The observations one webhook event carries. Event types the engine does not read
/// (and the Connect deauthorization, which concerns the connection, not a customer)
/// yield none. Amounts the payload lacks are read from `catalog`
/// ([`crate::stripe::catalog::event_needs`] lists what it should hold).
pub fn observe_event_with(event: &m::Event, catalog: &Catalog) -> Observed {
    if !event.kind.is_engine_type() {
        return Observed::default();
    }
    let mut out = observe(&event.data.object, event.created, Some(event), catalog);
    if let (m::EventType::InvoicePaymentFailed, m::EventObject::Invoice(inv)) =
        (&event.kind, &event.data.object)
    {
        out.observations.push(failed_payment(inv, event));
    }
    out
}

/// [`observe_event_with`] with an empty catalog: amounts a payload lacks stay unknown.
pub fn observe_event(event: &m::Event) -> Vec<Observation> {
    observe_event_with(event, &Catalog::default()).observations
}

/// The observations a backfilled or synced object carries, as of `fetched_at`.
pub fn observe_object_with(
    object: &m::EventObject,
    fetched_at: Timestamp,
    catalog: &Catalog,
) -> Observed {
    observe(object, fetched_at, None, catalog)
}

/// [`observe_object_with`] with an empty catalog.
pub fn observe_object(object: &m::EventObject, fetched_at: Timestamp) -> Vec<Observation> {
    observe_object_with(object, fetched_at, &Catalog::default()).observations
}

/// The payments a dispute names, in the order to look their owner up: the charge,
/// then its payment intent.
pub fn dispute_payments(d: &m::Dispute) -> Vec<PaymentRef> {
    let mut out = vec![PaymentRef::Charge(d.charge.id().clone())];
    out.extend(
        d.payment_intent
            .as_ref()
            .map(|p| PaymentRef::PaymentIntent(p.id().clone())),
    );
    out
}

fn owners(customer: &StripeCustomerId, payments: Vec<PaymentRef>) -> Vec<ChargeOwner> {
    payments
        .into_iter()
        .map(|payment| ChargeOwner {
            payment,
            customer: customer.clone(),
        })
        .collect()
}

fn charge_payments(c: &m::Charge) -> Vec<PaymentRef> {
    let mut out = vec![PaymentRef::Charge(c.id.clone())];
    out.extend(
        c.payment_intent
            .as_ref()
            .map(|p| PaymentRef::PaymentIntent(p.id().clone())),
    );
    out
}

fn observe(
    object: &m::EventObject,
    at: Timestamp,
    event: Option<&m::Event>,
    catalog: &Catalog,
) -> Observed {
    let obs = |customer: Option<StripeCustomerId>, fact: Fact| Observation {
        at,
        event: event.map(|e| e.id.clone()),
        customer,
        fact,
    };
    let mut out = Observed::default();
    match object {
        m::EventObject::Customer(c) => {
            let snap = customer_snapshot(c, at);
            out.observations
                .push(obs(Some(snap.id.clone()), Fact::Customer(snap)));
        }
        m::EventObject::Subscription(s) => {
            let Some(snapshot) = subscription_snapshot(s, at, catalog) else {
                return out;
            };
            let previous = event.and_then(|e| previous_plan(e, s, catalog));
            out.observations.push(obs(
                Some(snapshot.customer.clone()),
                Fact::Subscription { snapshot, previous },
            ));
        }
        m::EventObject::Invoice(i) => {
            let customer = i.customer.as_ref().map(|c| c.id().clone());
            if let Some(c) = &customer {
                out.charge_owners = owners(c, i.payment_refs());
            }
            let Some(snap) = invoice_snapshot(i, at) else {
                return out;
            };
            if snap.status == InvoiceStatus::Paid {
                // A paid invoice is a settled payment whatever the amount: a $0
                // promotional month and an invoice paid out of band are paid too.
                let paid = ChargeSnapshot {
                    id: PaymentId::InvoicePaid(i.id.clone()),
                    created: snap.paid_at.unwrap_or(snap.created),
                    status: ChargeStatus::Succeeded,
                    amount: i.amount_paid,
                    currency: i.currency,
                    invoice: Some(i.id.clone()),
                    payment_intent: None,
                };
                out.observations
                    .push(obs(customer.clone(), Fact::Charge(paid)));
            }
            out.observations.push(obs(customer, Fact::Invoice(snap)));
        }
        m::EventObject::Charge(c) => {
            let customer = c.customer.as_ref().map(|c| c.id().clone());
            if let Some(owner) = &customer {
                out.charge_owners = owners(owner, charge_payments(c));
            }
            out.observations
                .extend(charge_snapshot(c).map(|s| obs(customer, Fact::Charge(s))));
        }
        m::EventObject::Dispute(d) => {
            let customer = d
                .charge
                .object()
                .and_then(|c| c.customer.as_ref())
                .map(|c| c.id().clone());
            if let Some(owner) = &customer {
                out.charge_owners = owners(owner, dispute_payments(d));
            }
            out.observations
                .push(obs(customer, Fact::Dispute(dispute_snapshot(d))));
        }
        m::EventObject::Application(_) | m::EventObject::Other(_) => {}
    }
    out
}

/// `invoice.payment_failed` is one failed charge. Before API 2025-03-31 the invoice
/// names it (`invoice.charge`); after, the event itself stands for it, so a redelivery
/// counts once and customer-initiated retries (which keep `attempt_count`) each count.
fn failed_payment(inv: &m::Invoice, event: &m::Event) -> Observation {
    let id = match &inv.charge {
        Some(charge) => PaymentId::Charge(charge.id().clone()),
        None => PaymentId::InvoiceFailure {
            invoice: inv.id.clone(),
            event: event.id.clone(),
        },
    };
    let failure = ChargeSnapshot {
        id,
        created: event.created,
        status: ChargeStatus::Failed,
        amount: inv.amount_remaining.max(inv.amount_due),
        currency: inv.currency,
        invoice: Some(inv.id.clone()),
        payment_intent: inv.payment_intent.as_ref().map(|p| p.id().clone()),
    };
    Observation {
        at: event.created,
        event: Some(event.id.clone()),
        customer: inv.customer.as_ref().map(|c| c.id().clone()),
        fact: Fact::Charge(failure),
    }
}

/// A customer snapshot.
pub fn customer_snapshot(c: &m::Customer, at: Timestamp) -> CustomerSnapshot {
    CustomerSnapshot {
        id: c.id.clone(),
        email: c.email.clone(),
        created: c.created.unwrap_or(at),
        has_payment_method: c.invoice_settings.default_payment_method || c.default_source,
        deleted: c.deleted,
        currency: c.currency,
    }
}

fn status(s: &m::SubscriptionStatus) -> Option<SubscriptionStatus> {
    use m::SubscriptionStatus as W;
    Some(match s {
        W::Incomplete => SubscriptionStatus::Incomplete,
        W::IncompleteExpired => SubscriptionStatus::IncompleteExpired,
        W::Trialing => SubscriptionStatus::Trialing,
        W::Active => SubscriptionStatus::Active,
        W::PastDue => SubscriptionStatus::PastDue,
        W::Canceled => SubscriptionStatus::Canceled,
        W::Unpaid => SubscriptionStatus::Unpaid,
        W::Paused => SubscriptionStatus::Paused,
        W::Other(_) => return None,
    })
}

/// A discount, expanded or an id, with its coupon from the payload or the catalog;
/// unresolved (MRR unknown) when neither has it, `None` for a coupon we cannot read.
fn discount(
    d: &m::Expandable<m::Discount>,
    catalog: &Catalog,
    fallback: Option<Currency>,
) -> Option<Discount> {
    let (id, coupon_id, end) = match d {
        m::Expandable::Object(obj) => {
            if let Some(c) = obj.coupon() {
                let terms = CouponTerms::from_coupon(c, fallback)?;
                return Some(resolved(c.id.clone(), terms, obj.end));
            }
            let coupon_id = obj
                .source
                .as_ref()
                .and_then(|s| s.coupon.as_ref())
                .map(|c| c.id().clone());
            (obj.id.clone(), coupon_id, obj.end)
        }
        m::Expandable::Id(id) => match catalog.discounts.get(id) {
            Some(t) => (id.clone(), Some(t.coupon.clone()), t.end),
            None => (id.clone(), None, None),
        },
    };
    match coupon_id.and_then(|c| catalog.coupons.get(&c).map(|t| (c, t))) {
        Some((c, terms)) => Some(resolved(c, terms.clone(), end)),
        None => Some(Discount {
            coupon_id: id.to_string(),
            value: DiscountValue::Unresolved,
            duration: CouponDuration::Unknown,
            end,
        }),
    }
}

fn resolved(coupon_id: String, t: CouponTerms, end: Option<Timestamp>) -> Discount {
    Discount {
        coupon_id,
        value: t.value,
        duration: t.duration,
        end,
    }
}

/// Discounts in Stripe's order, each once (`discount` of older API versions may repeat
/// one of `discounts`).
fn discounts<'a>(
    list: impl IntoIterator<Item = &'a m::Expandable<m::Discount>>,
    single: Option<&'a m::Discount>,
    catalog: &Catalog,
    fallback: Option<Currency>,
) -> Vec<Discount> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let single = single.map(|d| (d.id.clone(), discount_of(d, catalog, fallback)));
    let listed = list
        .into_iter()
        .map(|d| (d.id().clone(), discount(d, catalog, fallback)));
    for (id, d) in single.into_iter().chain(listed) {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        out.extend(d);
    }
    out
}

fn discount_of(d: &m::Discount, catalog: &Catalog, fallback: Option<Currency>) -> Option<Discount> {
    discount(
        &m::Expandable::Object(Box::new(d.clone())),
        catalog,
        fallback,
    )
}

/// The subscription-level context an item's amount depends on.
struct ItemContext<'a> {
    sub: &'a m::Subscription,
    catalog: &'a Catalog,
}

/// One subscription item as a price item (`None` for a price we cannot read). A tiered
/// price without tiers takes them from the catalog, else its amount is unknown; a
/// tax-inclusive price has its inclusive tax rates taken out, or is unknown under
/// automatic tax (the tax inside it is not on record).
fn price_item(item: &m::SubscriptionItem, ctx: &ItemContext<'_>) -> Option<PriceItem> {
    let p = &item.price;
    let mut pricing = match &p.billing_scheme {
        Some(m::BillingScheme::Tiered) => {
            match PriceTiers::from_price(p).or_else(|| ctx.catalog.prices.get(&p.id).cloned()) {
                Some(t) => t.pricing,
                None => Pricing::Unknown {
                    missing: MissingAmount::Tiers,
                },
            }
        }
        _ => {
            let decimal = p
                .unit_amount_decimal
                .as_deref()
                .and_then(|d| Ratio::parse(d).ok());
            Pricing::PerUnit {
                unit_amount: decimal.or(p.unit_amount.map(Ratio::int))?,
            }
        }
    };
    let rates = if item.tax_rates.is_empty() {
        &ctx.sub.default_tax_rates
    } else {
        &item.tax_rates
    };
    let inclusive = rates
        .iter()
        .filter(|r| r.inclusive)
        .filter_map(|r| r.percentage.and_then(Ratio::from_f64))
        .fold(Ratio::ZERO, |acc, r| acc + r);
    let automatic = ctx.sub.automatic_tax.as_ref().is_some_and(|a| a.enabled);
    if inclusive != Ratio::ZERO {
        pricing = without_tax(
            pricing,
            Ratio::int(100) * (Ratio::int(100) + inclusive).recip(),
        );
    } else if automatic && p.tax_behavior == Some(m::TaxBehavior::Inclusive) {
        pricing = Pricing::Unknown {
            missing: MissingAmount::InclusiveTax,
        };
    }
    let period = p.recurring.as_ref().and_then(|r| {
        let interval = match r.interval {
            m::Interval::Day => Interval::Day,
            m::Interval::Week => Interval::Week,
            m::Interval::Month => Interval::Month,
            m::Interval::Year => Interval::Year,
            m::Interval::Other(_) => return None,
        };
        Some(BillingPeriod {
            interval,
            count: r.interval_count.max(1),
        })
    });
    let usage_type = match p.recurring.as_ref().and_then(|r| r.usage_type.as_ref()) {
        Some(m::UsageType::Metered) => UsageType::Metered,
        _ => UsageType::Licensed,
    };
    Some(PriceItem {
        price_id: Some(p.id.to_string()),
        product: p.product_id().map(str::to_owned),
        currency: p.currency,
        pricing,
        period,
        usage_type,
        quantity: item.quantity.unwrap_or(1),
        current_period_end: item.current_period_end,
    })
}

/// `pricing` with every amount multiplied by `keep` (the share that is not tax).
fn without_tax(pricing: Pricing, keep: Ratio) -> Pricing {
    let scale = |tiers: Vec<Tier>| {
        tiers
            .into_iter()
            .map(|t| Tier {
                up_to: t.up_to,
                unit_amount: t.unit_amount * keep,
                flat_amount: t.flat_amount * keep,
            })
            .collect()
    };
    match pricing {
        Pricing::PerUnit { unit_amount } => Pricing::PerUnit {
            unit_amount: unit_amount * keep,
        },
        Pricing::Graduated { tiers } => Pricing::Graduated {
            tiers: scale(tiers),
        },
        Pricing::Volume { tiers } => Pricing::Volume {
            tiers: scale(tiers),
        },
        unknown @ Pricing::Unknown { .. } => unknown,
    }
}

fn items(list: &m::List<m::SubscriptionItem>, ctx: &ItemContext<'_>) -> Vec<Item> {
    list.data
        .iter()
        .filter_map(|i| {
            let item = price_item(i, ctx)?;
            let item_discounts = discounts(&i.discounts, None, ctx.catalog, ctx.sub.currency);
            Some((item, item_discounts))
        })
        .collect()
}

/// A subscription snapshot (`None` for a status Stripe added after this code).
pub fn subscription_snapshot(
    s: &m::Subscription,
    at: Timestamp,
    catalog: &Catalog,
) -> Option<SubscriptionSnapshot> {
    let ctx = ItemContext { sub: s, catalog };
    Some(SubscriptionSnapshot {
        id: s.id.clone(),
        customer: s.customer.id().clone(),
        status: status(&s.status)?,
        created: s.start_date.or(s.created).unwrap_or(at),
        items: items(&s.items, &ctx),
        discounts: discounts(&s.discounts, s.discount.as_ref(), catalog, s.currency),
        cancel_at_period_end: s.cancel_at_period_end,
        cancel_at: s.cancel_at,
        canceled_at: s.canceled_at,
        ended_at: s.ended_at,
        cancellation_reason: s
            .cancellation_details
            .as_ref()
            .and_then(|d| match d.reason {
                Some(m::CancellationReason::CancellationRequested) => {
                    Some(CancellationReason::CancellationRequested)
                }
                Some(m::CancellationReason::PaymentFailed) => {
                    Some(CancellationReason::PaymentFailed)
                }
                Some(m::CancellationReason::PaymentDisputed) => {
                    Some(CancellationReason::PaymentDisputed)
                }
                _ => None,
            }),
        collection_paused: s.pause_collection.is_some(),
        trial_end: s.trial_end,
        current_period_end: s.current_period_end,
        has_payment_method: s.default_payment_method || s.default_source,
    })
}

/// The plan before a `customer.subscription.updated`, when its items changed.
fn previous_plan(event: &m::Event, s: &m::Subscription, catalog: &Catalog) -> Option<PreviousPlan> {
    if event.kind != m::EventType::CustomerSubscriptionUpdated {
        return None;
    }
    let list = event.previous_items()?.ok()?;
    let prev_status = event
        .previous::<m::SubscriptionStatus>("status")
        .and_then(Result::ok)
        .and_then(|st| status(&st));
    Some(PreviousPlan {
        items: items(&list, &ItemContext { sub: s, catalog }),
        status: prev_status,
    })
}

/// An invoice snapshot (`None` for upcoming-invoice previews and unknown statuses).
pub fn invoice_snapshot(i: &m::Invoice, at: Timestamp) -> Option<InvoiceSnapshot> {
    let status = match i.status.as_ref()? {
        m::InvoiceStatus::Draft => InvoiceStatus::Draft,
        m::InvoiceStatus::Open => InvoiceStatus::Open,
        m::InvoiceStatus::Paid => InvoiceStatus::Paid,
        m::InvoiceStatus::Uncollectible => InvoiceStatus::Uncollectible,
        m::InvoiceStatus::Void => InvoiceStatus::Void,
        m::InvoiceStatus::Other(_) => return None,
    };
    Some(InvoiceSnapshot {
        id: i.id.clone(),
        subscription: i.subscription_id().cloned(),
        status,
        created: i.created.unwrap_or(at),
        due_date: i.due_date,
        amount_remaining: i.amount_remaining,
        currency: i.currency,
        attempt_count: i.attempt_count,
        paid_at: i.status_transitions.paid_at,
        payments: i.payment_refs(),
    })
}

/// A charge snapshot (`None` for an unknown status).
pub fn charge_snapshot(c: &m::Charge) -> Option<ChargeSnapshot> {
    let status = match c.status {
        m::ChargeStatus::Succeeded => ChargeStatus::Succeeded,
        m::ChargeStatus::Pending => ChargeStatus::Pending,
        m::ChargeStatus::Failed => ChargeStatus::Failed,
        m::ChargeStatus::Other(_) => return None,
    };
    Some(ChargeSnapshot {
        id: PaymentId::Charge(c.id.clone()),
        created: c.created,
        status,
        amount: c.amount,
        currency: c.currency,
        invoice: c.invoice.as_ref().map(|i| i.id().clone()),
        payment_intent: c.payment_intent.as_ref().map(|p| p.id().clone()),
    })
}

/// A dispute snapshot.
pub fn dispute_snapshot(d: &m::Dispute) -> DisputeSnapshot {
    DisputeSnapshot {
        id: d.id.clone(),
        charge: Some(d.charge.id().clone()),
        created: d.created,
        amount: d.amount,
        currency: d.currency,
        reason: Some(d.reason.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests;
