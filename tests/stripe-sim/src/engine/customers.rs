//! Customers: sign-ups and later email or metadata changes.

use super::{Account, Action, DAY};
use crate::model::{Cur, Customer, Meta};
use serde_json::json;

impl Account {
    pub(super) fn new_customer(&mut self) -> u32 {
        let c = self.customers.len() as u32;
        let r = &mut self.rng;
        let currency = match (self.default_currency, r.u8(0..100)) {
            (Cur::Usd, 0..70) | (Cur::Eur, 60..85) => Cur::Usd,
            (Cur::Usd, 70..90) | (Cur::Eur, 0..60) => Cur::Eur,
            _ => Cur::Gbp,
        };
        let personal = if r.u8(0..100) < 30 {
            Some(r.u8(0..8))
        } else {
            None
        };
        let meta = match (personal, r.u8(0..100)) {
            (_, 0..15) => Meta::ProfileId(c),
            (Some(_), 15..50) => Meta::Domain,
            _ => Meta::None,
        };
        let risk = match r.u8(0..100) {
            0..70 => 2,
            70..90 => 10,
            _ => 35,
        };
        let customer = Customer {
            created: self.now,
            first: r.u16(0..40),
            last: r.u16(0..40),
            company: r.u32(0..self.companies),
            personal,
            no_email: r.u8(0..100) < 3,
            email_version: 0,
            meta,
            currency,
            has_payment_method: r.u8(0..100) < 85,
            risk,
            delinquent: false,
        };
        let update = if r.u8(0..100) < 8 {
            Some(r.i64(DAY..400 * DAY))
        } else {
            None
        };
        self.customers.push(customer);
        self.cust_subs.push(Vec::new());
        self.cust_invoices.push(Vec::new());
        self.cust_charges.push(Vec::new());
        if let Some(after) = update {
            self.schedule(self.now + after, Action::UpdateCustomer(c));
        }
        if self.recording() {
            let obj = self.snap_customer(c);
            self.record("customer.created", obj, None);
        }
        c
    }

    pub(super) fn update_customer(&mut self, c: u32, email: bool) -> bool {
        let old_email = self.customer_email(c);
        let Some(cust) = self.customers.get_mut(c as usize) else {
            return false;
        };
        let prev = if email || cust.meta != Meta::None {
            cust.no_email = false;
            cust.email_version = cust.email_version.saturating_add(1);
            json!({"email": old_email})
        } else {
            // A key that was added shows as null in `previous_attributes`, as Stripe sends it.
            if cust.personal.is_some() {
                cust.meta = Meta::Domain;
                json!({"metadata": {"domain": null}})
            } else {
                cust.meta = Meta::ProfileId(c);
                json!({"metadata": {"kustiq_profile_id": null}})
            }
        };
        if self.recording() {
            let obj = self.snap_customer(c);
            self.record("customer.updated", obj, Some(prev));
        }
        true
    }
}
