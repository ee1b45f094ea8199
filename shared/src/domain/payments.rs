//! Payments on record: which failed charges are still unrecovered, which payment was
//! the last one settled, and since when an invoice has stayed unpaid. The usage
//! signals ([`crate::domain::signals`]) are built from these.
//!
//! The counting unit of a failure is one failed charge: a real charge by its id
//! (`ch_…`), or, when Stripe names no charge (invoices of API ≥ 2025-03-31), one
//! `invoice.payment_failed` event. A success clears only what it recovers: the
//! failures of the invoice it paid, or of the payment intent it completed.

use crate::domain::billing_state::{
    BillingState, ChargeSnapshot, ChargeStatus, InvoiceSnapshot, InvoiceStatus, PaymentId,
};
use crate::domain::ids::{PaymentRef, StripeObjectId};
use crate::domain::time::Timestamp;
use std::collections::BTreeMap;

/// An unlinked real failed charge is taken for an invoice's event-known failure when
/// both are this close in time (Stripe sends `invoice.payment_failed` seconds after the
/// charge fails) with the same amount and currency.
pub const SAME_FAILURE_WITHIN_SECS: i64 = 3_600;

/// Which invoice each charge and payment intent paid or tried to pay, from the
/// invoices' own payment lists.
fn payment_invoices(state: &BillingState) -> BTreeMap<&PaymentRef, &StripeObjectId> {
    state
        .invoices()
        .flat_map(|i| i.payments.iter().map(move |p| (p, &i.id)))
        .collect()
}

/// The invoice a payment record belongs to, when anything on record says.
fn invoice_of<'a>(
    c: &'a ChargeSnapshot,
    links: &BTreeMap<&PaymentRef, &'a StripeObjectId>,
) -> Option<&'a StripeObjectId> {
    if let Some(i) = c.id.invoice().or(c.invoice.as_ref()) {
        return Some(i);
    }
    let by_charge = match &c.id {
        PaymentId::Charge(id) => links.get(&PaymentRef::Charge(id.clone())).copied(),
        _ => None,
    };
    by_charge.or_else(|| {
        c.payment_intent
            .as_ref()
            .and_then(|pi| links.get(&PaymentRef::PaymentIntent(pi.clone())).copied())
    })
}

/// When an invoice was settled, if it was: paid (any amount, out of band included).
fn settled_at(i: &InvoiceSnapshot) -> Option<Timestamp> {
    (i.status == InvoiceStatus::Paid).then(|| i.paid_at.unwrap_or(i.created))
}

/// Whether the failed charge `c` was recovered: its invoice was paid (an invoice is paid
/// once, after every failed attempt on it), or a later success paid the same invoice or
/// completed the same payment intent.
fn recovered(
    state: &BillingState,
    c: &ChargeSnapshot,
    invoice: Option<&StripeObjectId>,
    links: &BTreeMap<&PaymentRef, &StripeObjectId>,
) -> bool {
    if let Some(inv) = invoice
        && state
            .invoices
            .get(inv)
            .is_some_and(|v| settled_at(&v.value).is_some())
    {
        return true;
    }
    state.charges().any(|s| {
        s.status == ChargeStatus::Succeeded
            && s.created >= c.created
            && ((invoice.is_some() && invoice_of(s, links) == invoice)
                || (c.payment_intent.is_some() && s.payment_intent == c.payment_intent))
    })
}

/// Unrecovered failed charges created at or after `since`, each counted once, oldest
/// first. Per invoice, the failures known from real charges and those known only from
/// `invoice.payment_failed` events describe the same attempts, so the larger of the
/// two sets counts (real charges on a tie).
pub fn unrecovered_failures(state: &BillingState, since: Timestamp) -> Vec<&ChargeSnapshot> {
    let links = payment_invoices(state);
    let failed: Vec<(&ChargeSnapshot, Option<&StripeObjectId>)> = state
        .charges()
        .filter(|c| c.status == ChargeStatus::Failed && c.created >= since)
        .map(|c| (c, invoice_of(c, &links)))
        .filter(|(c, inv)| !recovered(state, c, *inv, &links))
        .collect();
    let event_known: Vec<&(&ChargeSnapshot, Option<&StripeObjectId>)> = failed
        .iter()
        .filter(|(c, _)| !matches!(c.id, PaymentId::Charge(_)))
        .collect();
    let mut real: BTreeMap<Option<&StripeObjectId>, Vec<&ChargeSnapshot>> = BTreeMap::new();
    let mut known: BTreeMap<&StripeObjectId, Vec<&ChargeSnapshot>> = BTreeMap::new();
    for (c, inv) in &failed {
        match (&c.id, inv) {
            (PaymentId::Charge(_), Some(inv)) => real.entry(Some(inv)).or_default().push(c),
            (PaymentId::Charge(_), None) => {
                // A charge that names no invoice (API ≥ 2025-03-31) may be the very
                // failure an `invoice.payment_failed` event reported.
                let twin = event_known.iter().find(|(e, _)| {
                    e.currency == c.currency
                        && e.amount == c.amount
                        && e.created.secs_since(c.created).abs() <= SAME_FAILURE_WITHIN_SECS
                });
                real.entry(twin.and_then(|(_, i)| *i)).or_default().push(c);
            }
            (_, Some(inv)) => known.entry(inv).or_default().push(c),
            (_, None) => real.entry(None).or_default().push(c),
        }
    }
    for (invoice, attempts) in known {
        let slot = real.entry(Some(invoice)).or_default();
        if attempts.len() > slot.len() {
            *slot = attempts;
        }
    }
    let mut out: Vec<&ChargeSnapshot> = real.into_values().flatten().collect();
    out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    out
}

/// The newest settled payment: a successful charge, or a paid invoice of any amount
/// ($0 promotional months and invoices paid out of band included).
pub fn last_settled(state: &BillingState) -> Option<(String, Timestamp)> {
    let charges = state
        .charges()
        .filter(|c| c.status == ChargeStatus::Succeeded)
        .map(|c| (c.id.to_string(), c.created));
    let invoices = state
        .invoices()
        .filter_map(|i| settled_at(i).map(|t| (format!("{}", i.id), t)));
    charges
        .chain(invoices)
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)))
}

/// With no settled payment on record, the oldest evidence that one was due and did
/// not come: an open or uncollectible invoice (from its due date, else its creation),
/// or a failed charge.
pub fn first_unpaid(state: &BillingState) -> Option<(String, Timestamp)> {
    let invoices = state
        .invoices()
        .filter(|i| matches!(i.status, InvoiceStatus::Open | InvoiceStatus::Uncollectible))
        .map(|i| (i.id.to_string(), i.due_date.unwrap_or(i.created)));
    let failures = state
        .charges()
        .filter(|c| c.status == ChargeStatus::Failed)
        .map(|c| (c.id.to_string(), c.created));
    invoices
        .chain(failures)
        .min_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)))
}

/// Whether a subscription seen `past_due`/`unpaid` at `since` has recovered: one of
/// its invoices was paid after `since`, and none of its invoices is still open or
/// uncollectible after a payment attempt. An older invoice paid late does not clear a
/// newer one that failed.
pub fn dunning_recovered(state: &BillingState, sub: &StripeObjectId, since: Timestamp) -> bool {
    let of_sub = || {
        state
            .invoices()
            .filter(move |i| i.subscription.as_ref() == Some(sub))
    };
    let paid_after = of_sub().any(|i| settled_at(i).is_some_and(|t| t > since));
    let still_owed = of_sub().any(|i| {
        matches!(i.status, InvoiceStatus::Open | InvoiceStatus::Uncollectible)
            && i.attempt_count > 0
    });
    paid_after && !still_owed
}
