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
use crate::domain::ids::{PaymentRef, StripeCustomerId, StripeObjectId};
use crate::domain::time::Timestamp;
use std::collections::BTreeMap;

/// Which customer a charge or payment intent belongs to, learned from a payload that
/// says so: the charge itself (`charge.customer`), an invoice naming its payments
/// (`invoice.charge`/`payment_intent` before API 2025-03-31, `invoice.payments` after),
/// or a dispute whose charge was expanded. A dispute names only its charge, so ingest
/// stores these to route disputes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ChargeOwner {
    /// The charge or payment intent.
    pub payment: PaymentRef,
    /// Its customer.
    pub customer: StripeCustomerId,
}

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
    let in_window: Vec<&ChargeSnapshot> = state
        .charges()
        .filter(|c| c.status == ChargeStatus::Failed && c.created >= since)
        .collect();
    let event_known: Vec<&ChargeSnapshot> = in_window
        .iter()
        .copied()
        .filter(|c| !matches!(c.id, PaymentId::Charge(_)))
        .collect();
    // A real charge that names no invoice (API ≥ 2025-03-31) may be the very failure an
    // `invoice.payment_failed` event reported: it then belongs to that event's invoice.
    let twin_invoice = |c: &ChargeSnapshot| {
        event_known
            .iter()
            .find(|e| {
                e.currency == c.currency
                    && e.amount == c.amount
                    && e.created.secs_since(c.created).abs() <= SAME_FAILURE_WITHIN_SECS
            })
            .and_then(|e| e.id.invoice())
    };
    let mut real: BTreeMap<Option<&StripeObjectId>, Vec<&ChargeSnapshot>> = BTreeMap::new();
    let mut known: BTreeMap<&StripeObjectId, Vec<&ChargeSnapshot>> = BTreeMap::new();
    for c in in_window {
        let invoice = invoice_of(c, &links).or_else(|| twin_invoice(c));
        if recovered(state, c, invoice, &links) {
            continue;
        }
        match (&c.id, invoice) {
            (PaymentId::Charge(_), inv) => real.entry(inv).or_default().push(c),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing_state::fixtures::*;
    use crate::domain::billing_state::{Fact, InvoiceSnapshot, Observation};
    use crate::domain::ids::{StripeChargeId, StripePaymentIntentId};

    fn failed_charge(id: &str, at: Timestamp, pi: Option<&str>) -> Observation {
        let mut o = charge(id, at, ChargeStatus::Failed);
        if let Fact::Charge(c) = &mut o.fact {
            c.amount = 5_000;
            c.payment_intent = pi.map(|p| StripePaymentIntentId::parse(p).unwrap());
        }
        o
    }

    fn event_failure(invoice: &str, event: u32, at: Timestamp) -> Observation {
        let mut o = charge("ch_placeholder", at, ChargeStatus::Failed);
        if let Fact::Charge(c) = &mut o.fact {
            c.id = PaymentId::InvoiceFailure {
                invoice: oid(invoice),
                event: evt(event),
            };
            c.invoice = Some(oid(invoice));
        }
        o
    }

    fn ids(state: &BillingState) -> Vec<String> {
        unrecovered_failures(state, day(-30))
            .iter()
            .map(|c| c.id.to_string())
            .collect()
    }

    #[test]
    fn a_backfilled_charge_and_the_event_that_reported_it_are_one_failure() {
        let obs = [
            failed_charge("ch_1", day(-5), None),
            event_failure("in_1", 1, day(-5).plus_secs(20)),
        ];
        let s = BillingState::from_observations(&obs);
        assert_eq!(ids(&s), ["ch_1"]);
        // Paying that invoice recovers it, though the charge itself names no invoice.
        let paid = invoice("in_1", "sub_1", InvoiceStatus::Paid, day(-6), Some(day(-1)));
        let s = BillingState::from_observations(obs.iter().chain([&paid]));
        assert!(ids(&s).is_empty());
    }

    #[test]
    fn a_success_on_the_same_payment_intent_recovers_a_failure() {
        let mut ok = charge("ch_2", day(-3), ChargeStatus::Succeeded);
        if let Fact::Charge(c) = &mut ok.fact {
            c.payment_intent = Some(StripePaymentIntentId::parse("pi_1").unwrap());
        }
        let other = charge("ch_3", day(-2), ChargeStatus::Succeeded);
        let s = BillingState::from_observations(&[
            failed_charge("ch_1", day(-5), Some("pi_1")),
            other.clone(),
        ]);
        assert_eq!(ids(&s), ["ch_1"]);
        let s = BillingState::from_observations(&[
            failed_charge("ch_1", day(-5), Some("pi_1")),
            other,
            ok,
        ]);
        assert!(ids(&s).is_empty());
    }

    #[test]
    fn an_invoice_names_its_payments_for_charges_that_do_not() {
        let mut paid = invoice("in_1", "sub_1", InvoiceStatus::Paid, day(-6), Some(day(-1)));
        if let Fact::Invoice(InvoiceSnapshot { payments, .. }) = &mut paid.fact {
            payments.push(PaymentRef::Charge(StripeChargeId::parse("ch_1").unwrap()));
        }
        let s = BillingState::from_observations(&[failed_charge("ch_1", day(-5), None), paid]);
        assert!(ids(&s).is_empty());
    }

    #[test]
    fn an_older_invoice_paid_late_leaves_dunning_while_a_newer_one_is_owed() {
        let mut open = invoice("in_new", "sub_1", InvoiceStatus::Open, day(-10), None);
        if let Fact::Invoice(i) = &mut open.fact {
            i.attempt_count = 1;
        }
        let late = invoice(
            "in_old",
            "sub_1",
            InvoiceStatus::Paid,
            day(-40),
            Some(day(-1)),
        );
        let s = BillingState::from_observations(&[open, late.clone()]);
        assert!(!dunning_recovered(&s, &oid("sub_1"), day(-9)));
        let s = BillingState::from_observations(&[late]);
        assert!(dunning_recovered(&s, &oid("sub_1"), day(-9)));
    }
}
