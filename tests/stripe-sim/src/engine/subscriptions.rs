//! Subscriptions: creation, the period plan, renewals and the end of trials.

use super::{Account, Action, DAY, Outcome, add_interval};
use crate::model::{
    BillingReason, COUPONS, CancelReason, Cur, Discount, Duration, Interval, Item, Previous,
    SubStatus, Subscription,
};
use serde_json::json;

impl Account {
    pub(super) fn price_index(&self, currency: Cur, product: u8, interval: Interval) -> u16 {
        self.prices
            .iter()
            .position(|p| p.currency == currency && p.product == product && p.interval == interval)
            .unwrap_or(0) as u16
    }

    pub(super) fn new_subscription(&mut self, c: u32) {
        let Some(cust) = self.customers.get(c as usize).cloned() else {
            return;
        };
        let r = &mut self.rng;
        let (product, interval) = match r.u8(0..100) {
            0..4 => (5, Interval::Week),
            4..6 => (1, Interval::Month), // quarterly: interval_count 3, found below
            roll => {
                let product = match r.u8(0..100) {
                    0..45 => 0,
                    45..75 => 1,
                    75..85 => 2,
                    85..95 => 3,
                    _ => 4,
                };
                let yearly = roll < 26 && product != 4;
                (
                    product,
                    if yearly {
                        Interval::Year
                    } else {
                        Interval::Month
                    },
                )
            }
        };
        let quarterly = interval == Interval::Month && product == 1 && r.u8(0..100) < 8;
        let quantity = match product {
            3 => 1 + r.u32(0..40) * r.u32(0..2) + r.u32(0..6),
            4 => 1 + r.u32(0..80),
            _ if r.u8(0..100) < 10 => r.u32(2..6),
            _ => 1,
        };
        let trial = !cust.has_payment_method || r.u8(0..100) < 30;
        let trial_cancels = r.bool();
        let coupon = if r.u8(0..100) < 15 {
            let k = r.u8(0..COUPONS.len() as u8);
            if COUPONS[usize::from(k)].amount_off.is_some() && cust.currency != Cur::Usd {
                None
            } else {
                Some(k)
            }
        } else {
            None
        };
        let price = if quarterly {
            self.prices
                .iter()
                .position(|p| p.currency == cust.currency && p.interval_count == 3)
                .unwrap_or(0) as u16
        } else {
            self.price_index(cust.currency, product, interval)
        };
        let s = self.subs.len() as u32;
        let item = Item {
            index: self.next_item,
            price,
            quantity,
            created: self.now,
        };
        self.next_item += 1;
        let p = &self.prices[usize::from(price)];
        let trial_days = 14;
        let period_end = if trial {
            self.now + trial_days * DAY
        } else {
            add_interval(self.now, p.interval, p.interval_count)
        };
        let discount = coupon.map(|k| Discount {
            coupon: k,
            start: self.now,
            end: match COUPONS[usize::from(k)].duration {
                Duration::Repeating(m) => Some(add_interval(self.now, Interval::Month, m)),
                _ => None,
            },
            subscription: s,
        });
        self.subs.push(Subscription {
            customer: c,
            created: self.now,
            status: if trial {
                SubStatus::Trialing
            } else {
                SubStatus::Active
            },
            items: vec![item],
            period_start: self.now,
            period_end,
            trial: if trial {
                Some((self.now, period_end))
            } else {
                None
            },
            trial_cancels,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            cancel_reason: None,
            pause_resumes_at: None,
            discount,
            latest_invoice: None,
            failed_attempts: 0,
        });
        self.sub_invoices.push(Vec::new());
        if let Some(v) = self.cust_subs.get_mut(c as usize) {
            v.push(s);
        }
        // The first invoice: $0 for a trial, otherwise paid at once (a failed first payment
        // would leave the subscription `incomplete`, which the generator does not model).
        self.bill(s, BillingReason::Create, Outcome::Succeed, trial);
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record("customer.subscription.created", obj, None);
        }
        self.schedule(period_end, Action::Renew(s, period_end));
        self.plan_period(s);
    }

    /// Decides what happens during the coming period.
    pub(super) fn plan_period(&mut self, s: u32) {
        let Some(sub) = self.subs.get(s as usize) else {
            return;
        };
        let (start, end) = (sub.period_start, sub.period_end);
        let interval = sub
            .items
            .first()
            .and_then(|i| self.prices.get(usize::from(i.price)))
            .map_or(Interval::Month, |p| p.interval);
        let span = (end - start).max(DAY);
        let at = start + self.rng.i64(DAY / 2..span);
        let cancel_pct = match interval {
            Interval::Week => 1,
            Interval::Month => 3,
            Interval::Year => 15,
        };
        let roll = self.rng.u8(0..100);
        if roll < cancel_pct {
            self.schedule(at, Action::RequestCancel(s));
        } else if roll < cancel_pct + 5 {
            self.schedule(at, Action::ChangePlan(s));
        } else if roll < cancel_pct + 6 && interval == Interval::Month {
            self.schedule(at, Action::PauseCollection(s));
        }
    }

    pub(super) fn renew(&mut self, s: u32, expected_end: i64) {
        let Some(sub) = self.subs.get(s as usize) else {
            return;
        };
        if sub.period_end != expected_end
            || matches!(
                sub.status,
                SubStatus::Canceled | SubStatus::Unpaid | SubStatus::Paused
            )
        {
            return;
        }
        if sub.cancel_at_period_end {
            self.cancel_now(s, CancelReason::Requested);
            return;
        }
        let customer = sub.customer;
        let has_pm = self
            .customers
            .get(customer as usize)
            .is_some_and(|c| c.has_payment_method);
        if sub.status == SubStatus::Trialing {
            if !has_pm {
                if sub.trial_cancels {
                    self.cancel_now(s, CancelReason::TrialNoPaymentMethod);
                } else {
                    if let Some(sub) = self.subs.get_mut(s as usize) {
                        sub.status = SubStatus::Paused;
                    }
                    if self.recording() {
                        let obj = self.snap_sub(s);
                        self.record(
                            "customer.subscription.paused",
                            obj,
                            Some(json!({"status": "trialing"})),
                        );
                    }
                    if self.rng.u8(0..100) < 35 {
                        let after = self.rng.i64(3 * DAY..40 * DAY);
                        self.schedule(self.now + after, Action::ResumePaused(s));
                    }
                }
                return;
            }
            self.set_status(s, SubStatus::Active);
        }
        // Stripe announces every renewal as `customer.subscription.updated`; on API versions
        // with the period on items, `previous_attributes.items` changes without a plan change.
        let before = self
            .recording()
            .then(|| Box::new(self.subs[s as usize].clone()));
        self.next_period(s);
        if let Some(old) = before {
            let obj = self.snap_sub(s);
            self.record_with(
                "customer.subscription.updated",
                obj,
                Some(Previous::Renewal(old)),
            );
        }
        let resumes = self.subs.get(s as usize).and_then(|x| x.pause_resumes_at);
        match resumes {
            Some(r) if self.now < r => {
                self.void_invoice(s);
            }
            Some(_) => {
                if let Some(sub) = self.subs.get_mut(s as usize) {
                    sub.pause_resumes_at = None;
                }
                if self.recording() {
                    let obj = self.snap_sub(s);
                    self.record("customer.subscription.updated", obj, Some(json!({"pause_collection": {"behavior": "void", "resumes_at": resumes}})));
                }
                self.bill(s, BillingReason::Cycle, Outcome::Random, false);
            }
            None => {
                self.bill(s, BillingReason::Cycle, Outcome::Random, false);
            }
        }
        if let Some(end) = self
            .subs
            .get(s as usize)
            .filter(|x| x.status != SubStatus::Canceled)
            .map(|x| x.period_end)
        {
            self.schedule(end, Action::Renew(s, end));
            self.plan_period(s);
        }
    }

    pub(super) fn next_period(&mut self, s: u32) {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return;
        };
        let Some(price) = sub
            .items
            .first()
            .and_then(|i| self.prices.get(usize::from(i.price)))
        else {
            return;
        };
        sub.period_start = sub.period_end.max(sub.period_start);
        if sub.period_start < now - DAY {
            sub.period_start = now;
        }
        sub.period_end = add_interval(sub.period_start, price.interval, price.interval_count);
        // A one-time coupon was used by the previous invoice; a repeating one may have run out.
        if let Some(d) = sub.discount {
            let used_once = COUPONS[usize::from(d.coupon)].duration == Duration::Once
                && sub.latest_invoice.is_some();
            if used_once || d.end.is_some_and(|e| now >= e) {
                sub.discount = None;
            }
        }
    }
}
