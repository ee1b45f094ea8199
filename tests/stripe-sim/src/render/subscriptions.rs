//! Subscriptions and their items.

use crate::engine::Account;
use crate::ids::Kind;
use crate::model::Subscription;
use serde_json::{Value, json};

impl Account {
    /// A subscription's `items` list as Stripe embeds it.
    pub(super) fn items_json(&self, s: u32, sub: &Subscription) -> Value {
        let sub_id = self.oid(Kind::Subscription, s);
        let data: Vec<Value> = sub
            .items
            .iter()
            .map(|it| {
                json!({
                    "id": self.oid(Kind::SubscriptionItem, it.index),
                    "object": "subscription_item",
                    "billing_thresholds": null,
                    "created": it.created,
                    "current_period_end": sub.period_end,
                    "current_period_start": sub.period_start,
                    "discounts": [],
                    "metadata": {},
                    "plan": self.render_plan(it.price),
                    "price": self.render_price(it.price),
                    "quantity": it.quantity,
                    "subscription": sub_id,
                    "tax_rates": []
                })
            })
            .collect();
        json!({
            "object": "list",
            "data": data,
            "has_more": false,
            "total_count": sub.items.len(),
            "url": format!("/v1/subscription_items?subscription={sub_id}")
        })
    }

    /// A subscription as Stripe returns it.
    pub(super) fn subscription_json(&self, s: u32, sub: &Subscription) -> Value {
        let single = sub.items.len() == 1;
        let first = sub.items.first();
        let currency = sub.currency(&self.prices);
        let discount = sub.discount.map(|d| self.render_discount(&d, sub.customer));
        let has_pm = self
            .customers
            .get(sub.customer as usize)
            .is_some_and(|c| c.has_payment_method);
        json!({
            "id": self.oid(Kind::Subscription, s),
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": sub.created,
            "billing_thresholds": null,
            "cancel_at": if sub.cancel_at_period_end { Value::from(sub.period_end) } else { Value::Null },
            "cancel_at_period_end": sub.cancel_at_period_end,
            "canceled_at": sub.canceled_at,
            "cancellation_details": {
                "comment": null,
                "feedback": null,
                "reason": sub.cancel_reason.map(|r| match r {
                    crate::model::CancelReason::Requested => "cancellation_requested",
                    crate::model::CancelReason::PaymentFailed => "payment_failed",
                    crate::model::CancelReason::TrialNoPaymentMethod => "cancellation_requested",
                })
            },
            "collection_method": "charge_automatically",
            "created": sub.created,
            "currency": currency.code(),
            "current_period_end": sub.period_end,
            "current_period_start": sub.period_start,
            "customer": self.oid(Kind::Customer, sub.customer),
            "days_until_due": null,
            "default_payment_method": if has_pm { Value::from(format!("pm_{}", self.oid(Kind::Customer, sub.customer).get(4..).unwrap_or(""))) } else { Value::Null },
            "description": null,
            "discount": discount,
            "discounts": sub.discount.map_or_else(Vec::new, |d| vec![self.oid(Kind::Discount, d.subscription)]),
            "ended_at": sub.ended_at,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": self.items_json(s, sub),
            "latest_invoice": sub.latest_invoice.map(|i| self.oid(Kind::Invoice, i)),
            "livemode": false,
            "metadata": {},
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": sub.pause_resumes_at.map(|r| json!({"behavior": "void", "resumes_at": r})),
            "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "plan": if single { first.map(|i| self.render_plan(i.price)) } else { None },
            "quantity": if single { first.map(|i| i.quantity) } else { None },
            "schedule": null,
            "start_date": sub.created,
            "status": sub.status.name(),
            "test_clock": null,
            "transfer_data": null,
            "trial_end": sub.trial.map(|t| t.1),
            "trial_settings": {"end_behavior": {"missing_payment_method": if sub.trial_cancels { "cancel" } else { "pause" }}},
            "trial_start": sub.trial.map(|t| t.0)
        })
    }
}
