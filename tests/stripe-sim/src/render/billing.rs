//! Invoices and their lines.

use super::ApiVersion;
use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{BillingReason, Invoice, InvoiceStatus, Line, PRODUCTS};
use serde_json::{Value, json};

impl Account {
    fn line_json(&self, i: u32, n: usize, l: &Line, inv: &Invoice, v: ApiVersion) -> Value {
        let id = self.oid(Kind::Invoice, i);
        let sub_id = self.oid(Kind::Subscription, inv.subscription);
        let item_id = self.oid(Kind::SubscriptionItem, l.item);
        let price = self.prices.get(usize::from(l.price));
        let description = price.map_or_else(String::new, |p| {
            format!(
                "{} × {} (at {} / {})",
                l.quantity,
                PRODUCTS[usize::from(p.product)],
                money(p.amount(1), p.currency.code()),
                p.interval.name()
            )
        });
        // Single-item subscriptions: the whole invoice discount falls on the one line.
        let discount_amounts: Vec<Value> = match inv.discount_source {
            Some(d) if n == 0 => vec![
                json!({"amount": inv.discount, "discount": self.oid(Kind::Discount, d.subscription)}),
            ],
            _ => Vec::new(),
        };
        let mut line = json!({
            "id": self.oid(Kind::InvoiceLine, i.saturating_mul(4).saturating_add(n as u32)),
            "object": "line_item",
            "amount": l.amount,
            "currency": inv.currency.code(),
            "description": description,
            "discount_amounts": discount_amounts,
            "discountable": true,
            "discounts": [],
            "invoice": id,
            "livemode": false,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": sub_id,
                    "subscription_item": item_id
                }
            },
            "period": {"end": inv.period_end, "start": inv.period_start},
            "pricing": {
                "price_details": {"price": self.oid(Kind::Price, u32::from(l.price)), "product": price.map(|p| self.oid(Kind::Product, u32::from(p.product)))},
                "type": "price_details",
                "unit_amount_decimal": price.map(|p| p.amount(1).to_string())
            },
            "quantity": l.quantity,
            "tax_rates": [],
            "taxes": []
        });
        if !v.basil() {
            // Basil moved these into `pricing` and `parent`.
            for (k, val) in [
                ("plan", self.render_plan(l.price)),
                ("price", self.render_price(l.price)),
                ("proration", json!(false)),
                ("proration_details", json!({"credited_items": null})),
                ("subscription", json!(sub_id)),
                ("subscription_item", json!(item_id)),
                ("tax_amounts", json!([])),
                ("type", json!("subscription")),
            ] {
                line[k] = val;
            }
        }
        line
    }

    /// An invoice as Stripe returns it.
    pub(super) fn invoice_json(&self, i: u32, inv: &Invoice, v: ApiVersion) -> Value {
        let id = self.oid(Kind::Invoice, i);
        let sub_id = self.oid(Kind::Subscription, inv.subscription);
        let paid = inv.status == InvoiceStatus::Paid;
        let total = inv.total();
        let amount_paid = if paid { total } else { 0 };
        let remaining = match inv.status {
            InvoiceStatus::Open | InvoiceStatus::Uncollectible => total,
            _ => 0,
        };
        let discount_id = inv
            .discount_source
            .map(|d| self.oid(Kind::Discount, d.subscription));
        let lines: Vec<Value> = inv
            .lines
            .iter()
            .enumerate()
            .map(|(n, l)| self.line_json(i, n, l, inv, v))
            .collect();
        let n_lines = lines.len();
        let (finalized, paid_at, voided, uncollectible) = match inv.status {
            InvoiceStatus::Open => (Some(inv.created), None, None, None),
            InvoiceStatus::Paid => (Some(inv.created), inv.closed_at, None, None),
            InvoiceStatus::Void => (Some(inv.created), None, inv.closed_at, None),
            InvoiceStatus::Uncollectible => (Some(inv.created), None, None, inv.closed_at),
        };
        let billing_reason = match inv.reason {
            BillingReason::Create => "subscription_create",
            BillingReason::Cycle => "subscription_cycle",
            BillingReason::Update => "subscription_update",
        };
        let mut lines_list = json!({
            "object": "list",
            "data": lines,
            "has_more": false,
            "url": format!("/v1/invoices/{id}/lines")
        });
        if !v.basil() {
            lines_list["total_count"] = json!(n_lines);
        }
        let mut out = json!({
            "id": id,
            "object": "invoice",
            "account_country": "US",
            "account_name": format!("Simulated account {}", self.index + 1),
            "account_tax_ids": null,
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": amount_paid,
            "amount_remaining": remaining,
            "amount_shipping": 0,
            "application": null,
            "attempt_count": inv.attempt_count,
            "attempted": inv.attempt_count > 0,
            "auto_advance": inv.status == InvoiceStatus::Open,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "status": null},
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": inv.created,
            "currency": inv.currency.code(),
            "custom_fields": null,
            "customer": self.oid(Kind::Customer, inv.customer),
            "customer_address": null,
            "customer_email": self.customer_email(inv.customer),
            "customer_name": self.customer_name(inv.customer),
            "customer_phone": null,
            "customer_shipping": null,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": discount_id.iter().collect::<Vec<_>>(),
            "due_date": null,
            "effective_at": inv.created,
            "ending_balance": 0,
            "footer": null,
            "from_invoice": null,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/sim/{id}"),
            "invoice_pdf": format!("https://pay.stripe.com/invoice/sim/{id}/pdf"),
            "issuer": {"type": "self"},
            "last_finalization_error": null,
            "latest_revision": null,
            "lines": lines_list,
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": inv.next_payment_attempt,
            "number": format!("{}-{:04}", self.oid(Kind::Customer, inv.customer).get(4..12).unwrap_or("SIM").to_uppercase(), inv.number),
            "on_behalf_of": null,
            "parent": {
                "quote_details": null,
                "subscription_details": {"metadata": {}, "subscription": sub_id},
                "type": "subscription_details"
            },
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": inv.period_end,
            "period_start": inv.period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": null,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "starting_balance": 0,
            "statement_descriptor": null,
            "status": inv.status.name(),
            "status_transitions": {
                "finalized_at": finalized,
                "marked_uncollectible_at": uncollectible,
                "paid_at": paid_at,
                "voided_at": voided
            },
            "subtotal": inv.subtotal,
            "subtotal_excluding_tax": inv.subtotal,
            "test_clock": null,
            "total": total,
            "total_discount_amounts": discount_id.iter().map(|d| json!({"amount": inv.discount, "discount": d})).collect::<Vec<_>>(),
            "total_excluding_tax": total,
            "total_tax_amounts": [],
            "transfer_data": null,
            "webhooks_delivered_at": inv.created
        });
        if !v.basil() {
            // Basil took these off the invoice: payments are invoice payments
            // (`expand[]=payments`), the subscription is under `parent`.
            out["charge"] = json!(inv.charge.map(|c| self.oid(Kind::Charge, c)));
            out["discount"] = inv
                .discount_source
                .map_or(Value::Null, |d| self.render_discount(&d, inv.customer));
            out["paid"] = json!(paid);
            out["paid_out_of_band"] = json!(false);
            out["payment_intent"] = Value::Null;
            out["quote"] = Value::Null;
            out["subscription"] = json!(sub_id);
        }
        out
    }
}

pub(super) fn money(minor: i64, currency: &str) -> String {
    let symbol = match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        _ => "",
    };
    format!("{symbol}{}.{:02}", minor / 100, minor % 100)
}
