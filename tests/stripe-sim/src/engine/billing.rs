//! The billing cycle's money side: invoices, payment attempts, retries and payment results.

use super::{Account, Action, DAY, Outcome};
use crate::model::{
    BillingReason, CancelReason, Charge, Interval, Invoice, InvoiceStatus, Line, SubStatus,
};

impl Account {
    pub(super) fn new_invoice(&mut self, s: u32, reason: BillingReason, zero: bool) -> Option<u32> {
        let sub = self.subs.get(s as usize)?;
        let currency = sub.currency(&self.prices);
        let lines: Box<[Line]> = sub
            .items
            .iter()
            .map(|it| Line {
                item: it.index,
                price: it.price,
                quantity: it.quantity,
                amount: if zero {
                    0
                } else {
                    self.prices
                        .get(usize::from(it.price))
                        .map_or(0, |p| p.amount(it.quantity))
                },
            })
            .collect();
        let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
        let discount = sub
            .discount
            .map_or(0, |d| d.amount_off(subtotal, currency, self.now));
        let discount_source = sub.discount.filter(|_| discount > 0);
        let customer = sub.customer;
        let (period_start, period_end) = (sub.period_start, sub.period_end);
        let i = self.invoices.len() as u32;
        let number = self
            .cust_invoices
            .get(customer as usize)
            .map_or(0, Vec::len) as u32
            + 1;
        self.invoices.push(Invoice {
            customer,
            subscription: s,
            created: self.now,
            period_start,
            period_end,
            status: InvoiceStatus::Open,
            attempt_count: 0,
            subtotal,
            discount,
            discount_source,
            currency,
            reason,
            lines,
            charge: None,
            next_payment_attempt: None,
            closed_at: None,
            number,
        });
        if let Some(v) = self.cust_invoices.get_mut(customer as usize) {
            v.push(i);
        }
        if let Some(v) = self.sub_invoices.get_mut(s as usize) {
            v.push(i);
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.latest_invoice = Some(i);
        }
        Some(i)
    }

    pub(super) fn void_invoice(&mut self, s: u32) {
        let now = self.now;
        if let Some(inv) = self
            .new_invoice(s, BillingReason::Cycle, false)
            .and_then(|i| self.invoices.get_mut(i as usize))
        {
            inv.status = InvoiceStatus::Void;
            inv.closed_at = Some(now);
        }
    }

    /// Creates and finalizes an invoice for the subscription's current period and tries to pay it.
    pub(super) fn bill(
        &mut self,
        s: u32,
        reason: BillingReason,
        outcome: Outcome,
        zero: bool,
    ) -> Option<u32> {
        let i = self.new_invoice(s, reason, zero)?;
        if self.recording() {
            let obj = self.snap_invoice(i);
            self.record("invoice.finalized", obj, None);
        }
        self.attempt(s, i, outcome);
        Some(i)
    }

    pub(super) fn attempt(&mut self, s: u32, i: u32, outcome: Outcome) {
        let Some(inv) = self.invoices.get(i as usize) else {
            return;
        };
        let (customer, total, currency, attempts) =
            (inv.customer, inv.total(), inv.currency, inv.attempt_count);
        let Some(cust) = self.customers.get(customer as usize) else {
            return;
        };
        let (risk, has_pm) = (cust.risk, cust.has_payment_method);
        if total <= 0 {
            self.mark_paid(s, i, None);
            return;
        }
        let fails = match outcome {
            Outcome::Succeed => false,
            Outcome::Fail => true,
            Outcome::Random if attempts > 0 => self.rng.u8(0..100) < 50 + risk / 2,
            Outcome::Random => !has_pm || self.rng.u8(0..100) < risk,
        };
        let ch = self.charges.len() as u32;
        let failure = if fails {
            Some(if has_pm { self.rng.u8(0..4) } else { 0 })
        } else {
            None
        };
        self.charges.push(Charge {
            customer,
            invoice: i,
            created: self.now,
            amount: total,
            currency,
            failure,
            amount_refunded: 0,
            dispute: None,
        });
        if let Some(v) = self.cust_charges.get_mut(customer as usize) {
            v.push(ch);
        }
        let Some(inv) = self.invoices.get_mut(i as usize) else {
            return;
        };
        inv.attempt_count += 1;
        inv.charge = Some(ch);
        if !fails {
            if self.recording() {
                let obj = self.snap_charge(ch);
                self.record("charge.succeeded", obj, None);
            }
            self.mark_paid(s, i, Some(ch));
            let dispute_pct = if risk >= 35 { 3 } else { 1 };
            if self.rng.u16(0..400) < dispute_pct {
                let after = self.rng.i64(3 * DAY..45 * DAY);
                self.schedule(self.now + after, Action::Dispute(ch));
            }
            return;
        }
        let attempt_count = inv.attempt_count;
        let interval = self
            .subs
            .get(s as usize)
            .and_then(|x| x.items.first())
            .and_then(|it| self.prices.get(usize::from(it.price)))
            .map_or(Interval::Month, |p| p.interval);
        let gaps: [i64; 3] = if interval == Interval::Week {
            [1, 2, 2]
        } else {
            [3, 5, 7]
        };
        let next = gaps
            .get(usize::from(attempt_count) - 1)
            .map(|d| self.now + d * DAY);
        if let Some(inv) = self.invoices.get_mut(i as usize) {
            inv.next_payment_attempt = next;
        }
        if let Some(c) = self.customers.get_mut(customer as usize) {
            c.delinquent = true;
        }
        if self.recording() {
            let obj = self.snap_charge(ch);
            self.record("charge.failed", obj, None);
            let obj = self.snap_invoice(i);
            self.record("invoice.payment_failed", obj, None);
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.failed_attempts = attempt_count;
        }
        match next {
            Some(at) => {
                if self
                    .subs
                    .get(s as usize)
                    .is_some_and(|x| x.status == SubStatus::Active)
                {
                    self.set_status(s, SubStatus::PastDue);
                }
                self.schedule(at, Action::Retry(s, i));
            }
            None => {
                // Retries exhausted: most merchants cancel, some keep the subscription unpaid.
                if self.rng.u8(0..100) < 65 {
                    if let Some(inv) = self.invoices.get_mut(i as usize) {
                        inv.status = InvoiceStatus::Uncollectible;
                        inv.closed_at = Some(self.now);
                    }
                    self.cancel_now(s, CancelReason::PaymentFailed);
                } else {
                    self.set_status(s, SubStatus::Unpaid);
                }
            }
        }
    }

    pub(super) fn mark_paid(&mut self, s: u32, i: u32, _charge: Option<u32>) {
        let now = self.now;
        let Some(inv) = self.invoices.get_mut(i as usize) else {
            return;
        };
        inv.status = InvoiceStatus::Paid;
        inv.closed_at = Some(now);
        inv.next_payment_attempt = None;
        let customer = inv.customer;
        if let Some(c) = self.customers.get_mut(customer as usize) {
            c.delinquent = false;
        }
        if self.recording() {
            let obj = self.snap_invoice(i);
            self.record("invoice.payment_succeeded", obj, None);
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.failed_attempts = 0;
        }
        if self
            .subs
            .get(s as usize)
            .is_some_and(|x| matches!(x.status, SubStatus::PastDue | SubStatus::Unpaid))
        {
            self.set_status(s, SubStatus::Active);
        }
    }

    pub(super) fn retry(&mut self, s: u32, i: u32, outcome: Outcome) {
        let open = self
            .invoices
            .get(i as usize)
            .is_some_and(|x| x.status == InvoiceStatus::Open);
        let live = self
            .subs
            .get(s as usize)
            .is_some_and(|x| matches!(x.status, SubStatus::PastDue | SubStatus::Active));
        if open && live {
            self.attempt(s, i, outcome);
        }
    }
}
