//! Forcing one event for a customer now (`/_sim/emit`), through the engine's own transitions.

use super::{Account, Outcome};
use crate::model::{BillingReason, InvoiceStatus, SubStatus, Subscription};
use serde_json::json;

impl Account {
    pub(super) fn latest_sub(&self, c: u32, pred: impl Fn(&Subscription) -> bool) -> Option<u32> {
        self.cust_subs
            .get(c as usize)?
            .iter()
            .rev()
            .copied()
            .find(|&s| self.subs.get(s as usize).is_some_and(&pred))
    }

    /// Makes one event of `kind` happen now for customer `c`, through the same transitions the
    /// engine uses. Returns the index of the first event recorded, or `None` if the customer's
    /// state does not allow it (e.g. no live subscription to cancel).
    pub fn force(&mut self, kind: &str, c: u32) -> Option<usize> {
        if c as usize >= self.customers.len() {
            return None;
        }
        let first = self.events.len();
        let live = |x: &Subscription| {
            matches!(
                x.status,
                SubStatus::Active | SubStatus::PastDue | SubStatus::Trialing
            )
        };
        let done = match kind {
            "customer.created" => {
                let n = self.new_customer();
                let _ = n;
                true
            }
            "customer.updated" => self.update_customer(c, true),
            "customer.subscription.deleted" => self
                .latest_sub(c, live)
                .is_some_and(|s| self.request_cancel(s, true)),
            "customer.subscription.updated" => self
                .latest_sub(c, |x| x.status == SubStatus::Active)
                .is_some_and(|s| self.change_plan(s, false)),
            "customer.subscription.paused" => match self.latest_sub(c, |x| {
                matches!(x.status, SubStatus::Active | SubStatus::Trialing)
            }) {
                Some(s) => {
                    let before = self.subs[s as usize].status;
                    self.subs[s as usize].status = SubStatus::Paused;
                    let obj = self.snap_sub(s);
                    self.record(
                        "customer.subscription.paused",
                        obj,
                        Some(json!({"status": before.name()})),
                    );
                    true
                }
                None => false,
            },
            "customer.subscription.resumed" => self
                .latest_sub(c, |x| x.status == SubStatus::Paused)
                .is_some_and(|s| self.resume_paused(s)),
            "invoice.payment_failed" | "invoice.payment_succeeded" | "invoice.finalized" => {
                let outcome = if kind == "invoice.payment_failed" {
                    Outcome::Fail
                } else {
                    Outcome::Succeed
                };
                match self.latest_sub(c, |x| x.status != SubStatus::Canceled) {
                    Some(s) => {
                        // Retry an open invoice if there is one, else bill a new one.
                        let open = self.subs[s as usize].latest_invoice.filter(|&i| {
                            self.invoices
                                .get(i as usize)
                                .is_some_and(|x| x.status == InvoiceStatus::Open)
                        });
                        match open {
                            Some(i) if kind != "invoice.finalized" => self.attempt(s, i, outcome),
                            _ => {
                                let _ = self.bill(s, BillingReason::Cycle, outcome, false);
                            }
                        }
                        true
                    }
                    None => false,
                }
            }
            "charge.dispute.created" => {
                let ch = self.cust_charges.get(c as usize).and_then(|v| {
                    v.iter().rev().copied().find(|&ch| {
                        self.charges
                            .get(ch as usize)
                            .is_some_and(|x| x.failure.is_none() && x.dispute.is_none())
                    })
                });
                ch.is_some_and(|ch| self.dispute(ch))
            }
            _ => false,
        };
        (done && self.events.len() > first).then_some(first)
    }
}
