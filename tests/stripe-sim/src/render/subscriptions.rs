//! Subscriptions and their items.

use super::ApiVersion;
use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{CancelReason, Subscription};
use serde_json::{Value, json};

impl Account {
    /// A subscription's `items` list as Stripe embeds it.
    pub(super) fn items_json(&self, s: u32, sub: &Subscription, v: ApiVersion) -> Value {
        let sub_id = self.oid(Kind::Subscription, s);
        let data: Vec<Value> = sub
            .items
            .iter()
            .map(|it| {
                let mut item = json!({
                    "id": self.oid(Kind::SubscriptionItem, it.index),
                    "object": "subscription_item",
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
                });
                if !v.basil() {
                    // Basil removed legacy usage-based billing and its thresholds.
                    item["billing_thresholds"] = Value::Null;
                }
                item
            })
            .collect();
        let mut list = json!({
            "object": "list",
            "data": data,
            "has_more": false,
            "url": format!("/v1/subscription_items?subscription={sub_id}")
        });
        if !v.basil() {
            // Basil no longer counts lists.
            list["total_count"] = json!(sub.items.len());
        }
        list
    }

    /// A subscription as Stripe returns it.
    pub(super) fn subscription_json(&self, s: u32, sub: &Subscription, v: ApiVersion) -> Value {
        let single = sub.items.len() == 1;
        let first = sub.items.first();
        let currency = sub.currency(&self.prices);
        let has_pm = self
            .customers
            .get(sub.customer as usize)
            .is_some_and(|c| c.has_payment_method);
        let mut out = json!({
            "id": self.oid(Kind::Subscription, s),
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": sub.created,
            "cancel_at": if sub.cancel_at_period_end { Value::from(sub.period_end) } else { Value::Null },
            "cancel_at_period_end": sub.cancel_at_period_end,
            "canceled_at": sub.canceled_at,
            "cancellation_details": {
                "comment": null,
                "feedback": null,
                "reason": sub.cancel_reason.map(|r| match r {
                    CancelReason::Requested | CancelReason::TrialNoPaymentMethod => "cancellation_requested",
                    CancelReason::PaymentFailed => "payment_failed",
                })
            },
            "collection_method": "charge_automatically",
            "created": sub.created,
            "currency": currency.code(),
            "customer": self.oid(Kind::Customer, sub.customer),
            "days_until_due": null,
            "default_payment_method": if has_pm { Value::from(format!("pm_{}", self.oid(Kind::Customer, sub.customer).get(4..).unwrap_or(""))) } else { Value::Null },
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": sub.discount.map_or_else(Vec::new, |d| vec![self.oid(Kind::Discount, d.subscription)]),
            "ended_at": sub.ended_at,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": self.items_json(s, sub, v),
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
        });
        if !v.basil() {
            // Before basil the period lived on the subscription and the coupon came embedded.
            out["billing_thresholds"] = Value::Null;
            out["current_period_end"] = json!(sub.period_end);
            out["current_period_start"] = json!(sub.period_start);
            out["discount"] = sub
                .discount
                .map_or(Value::Null, |d| self.render_discount(&d, sub.customer));
        }
        out
    }
}
