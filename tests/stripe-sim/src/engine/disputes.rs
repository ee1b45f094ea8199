//! After a payment: refunds and disputes.

use super::Account;
use crate::model::{Dispute, Snapshot};
use serde_json::json;

impl Account {
    pub(super) fn refund_latest(&mut self, s: u32) {
        let charge = self
            .subs
            .get(s as usize)
            .and_then(|x| x.latest_invoice)
            .and_then(|i| self.invoices.get(i as usize))
            .and_then(|i| i.charge);
        let Some(ch) = charge else { return };
        let Some(c) = self.charges.get_mut(ch as usize) else {
            return;
        };
        if c.failure.is_some() || c.dispute.is_some() || c.amount_refunded > 0 {
            return;
        }
        c.amount_refunded = c.amount;
        if self.recording() {
            let obj = self.snap_charge(ch);
            self.record(
                "charge.refunded",
                obj,
                Some(json!({"amount_refunded": 0, "refunded": false})),
            );
        }
    }

    pub(super) fn dispute(&mut self, ch: u32) -> bool {
        let Some(charge) = self.charges.get(ch as usize) else {
            return false;
        };
        if charge.failure.is_some() || charge.dispute.is_some() {
            return false;
        }
        let d = self.disputes.len() as u32;
        let (amount, currency) = (charge.amount, charge.currency);
        let reason = self.rng.u8(0..4);
        let won = self.rng.u8(0..100) < 40;
        self.disputes.push(Dispute {
            charge: ch,
            created: self.now,
            amount,
            currency,
            reason,
            won,
        });
        if let Some(c) = self.charges.get_mut(ch as usize) {
            c.dispute = Some(d);
        }
        if self.recording() {
            let obj = Snapshot::Dispute(d, self.disputes[d as usize]);
            self.record("charge.dispute.created", obj, None);
        }
        true
    }
}
