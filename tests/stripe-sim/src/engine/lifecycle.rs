//! Subscription changes: status moves, cancellations, plan changes, pauses and resumptions.

use super::{Account, Action, Outcome, add_interval};
use crate::model::{BillingReason, CancelReason, Interval, Previous, SubStatus};
use serde_json::json;

impl Account {
    pub(super) fn set_status(&mut self, s: u32, status: SubStatus) {
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return;
        };
        let before = sub.status;
        if before == status {
            return;
        }
        sub.status = status;
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.updated",
                obj,
                Some(json!({"status": before.name()})),
            );
        }
    }

    pub(super) fn cancel_now(&mut self, s: u32, reason: CancelReason) {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return;
        };
        if sub.status == SubStatus::Canceled {
            return;
        }
        sub.status = SubStatus::Canceled;
        sub.canceled_at = Some(sub.canceled_at.unwrap_or(now));
        sub.ended_at = Some(now);
        sub.cancel_reason = Some(reason);
        sub.pause_resumes_at = None;
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record("customer.subscription.deleted", obj, None);
        }
    }

    pub(super) fn request_cancel(&mut self, s: u32, immediate: bool) -> bool {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return false;
        };
        if !matches!(
            sub.status,
            SubStatus::Active | SubStatus::Trialing | SubStatus::PastDue
        ) || sub.cancel_at_period_end
        {
            return false;
        }
        if immediate {
            self.cancel_now(s, CancelReason::Requested);
            return true;
        }
        sub.cancel_at_period_end = true;
        sub.canceled_at = Some(now);
        sub.cancel_reason = Some(CancelReason::Requested);
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.updated",
                obj,
                Some(json!({"cancel_at": null, "cancel_at_period_end": false, "canceled_at": null, "cancellation_details": {"reason": null}})),
            );
        }
        true
    }

    pub(super) fn change_plan(&mut self, s: u32, up: bool) -> bool {
        let Some(sub) = self.subs.get(s as usize) else {
            return false;
        };
        if sub.status != SubStatus::Active {
            return false;
        }
        let Some(item) = sub.items.first().copied() else {
            return false;
        };
        let Some(price) = self.prices.get(usize::from(item.price)) else {
            return false;
        };
        // Kept before the change: `previous_attributes.items` is the old list.
        let previous = self
            .recording()
            .then(|| Box::new(self.subs[s as usize].clone()));
        let mut new_item = item;
        if price.per_seat || price.product == 5 {
            let step = self.rng.u32(1..6);
            new_item.quantity = if up {
                item.quantity + step
            } else {
                item.quantity.saturating_sub(step).max(1)
            };
            if new_item.quantity == item.quantity {
                new_item.quantity = item.quantity + step;
            }
        } else {
            let target = if up {
                price.rank + 1
            } else {
                price.rank.wrapping_sub(1)
            };
            let found = self.prices.iter().position(|p| {
                p.currency == price.currency
                    && p.interval == price.interval
                    && p.interval_count == price.interval_count
                    && !p.per_seat
                    && p.rank == target
                    && p.product <= 2
            });
            match found {
                Some(p) => new_item.price = p as u16,
                None => {
                    // Top or bottom of the ladder: change seats instead.
                    new_item.quantity = if up || item.quantity == 1 {
                        item.quantity + 1
                    } else {
                        item.quantity - 1
                    };
                }
            }
        }
        if new_item.price != item.price {
            new_item.index = self.next_item;
            new_item.created = self.now;
            self.next_item += 1;
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.items[0] = new_item;
        }
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record_with(
                "customer.subscription.updated",
                obj,
                previous.map(Previous::PlanChange),
            );
        }
        true
    }

    pub(super) fn pause_collection(&mut self, s: u32, periods: u8) -> bool {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return false;
        };
        if sub.status != SubStatus::Active || sub.pause_resumes_at.is_some() {
            return false;
        }
        sub.pause_resumes_at = Some(add_interval(now, Interval::Month, periods));
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.updated",
                obj,
                Some(json!({"pause_collection": null})),
            );
        }
        true
    }

    pub(super) fn resume_paused(&mut self, s: u32) -> bool {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return false;
        };
        if sub.status != SubStatus::Paused {
            return false;
        }
        let customer = sub.customer;
        let Some(price) = sub
            .items
            .first()
            .and_then(|i| self.prices.get(usize::from(i.price)))
        else {
            return false;
        };
        sub.status = SubStatus::Active;
        sub.period_start = now;
        sub.period_end = add_interval(now, price.interval, price.interval_count);
        let end = sub.period_end;
        if let Some(c) = self.customers.get_mut(customer as usize) {
            c.has_payment_method = true;
        }
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.resumed",
                obj,
                Some(json!({"status": "paused"})),
            );
        }
        self.bill(s, BillingReason::Cycle, Outcome::Random, false);
        self.schedule(end, Action::Renew(s, end));
        true
    }
}
