//! Invoices, charges and disputes.

use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{
    BillingReason, Charge, DISPUTE_REASONS, Dispute, FAILURE_CODES, Invoice, PRODUCTS,
};
use serde_json::{Value, json};

impl Account {
    /// An invoice as Stripe returns it.
    pub(super) fn invoice_json(&self, i: u32, inv: &Invoice) -> Value {
        let id = self.oid(Kind::Invoice, i);
        let sub_id = self.oid(Kind::Subscription, inv.subscription);
        let paid = inv.status == crate::model::InvoiceStatus::Paid;
        let total = inv.total();
        let amount_paid = if paid { total } else { 0 };
        let remaining = match inv.status {
            crate::model::InvoiceStatus::Open | crate::model::InvoiceStatus::Uncollectible => total,
            _ => 0,
        };
        let sub_discount = self
            .subs
            .get(inv.subscription as usize)
            .and_then(|s| s.discount);
        let lines: Vec<Value> = inv
            .lines
            .iter()
            .enumerate()
            .map(|(n, l)| {
                let price = self.prices.get(usize::from(l.price));
                let description = price.map_or_else(String::new, |p| {
                    format!("{} × {} (at {} / {})", l.quantity, PRODUCTS[usize::from(p.product)], money(p.amount(1), p.currency.code()), p.interval.name())
                });
                json!({
                    "id": self.oid(Kind::InvoiceLine, i.saturating_mul(4).saturating_add(n as u32)),
                    "object": "line_item",
                    "amount": l.amount,
                    "currency": inv.currency.code(),
                    "description": description,
                    "discount_amounts": [],
                    "discountable": true,
                    "discounts": [],
                    "invoice": id,
                    "livemode": false,
                    "metadata": {},
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {
                            "invoice_item": null,
                            "proration": false,
                            "proration_details": {"credited_items": null},
                            "subscription": sub_id,
                            "subscription_item": self.oid(Kind::SubscriptionItem, l.item)
                        }
                    },
                    "period": {"end": inv.period_end, "start": inv.period_start},
                    "plan": self.render_plan(l.price),
                    "price": self.render_price(l.price),
                    "pricing": {
                        "price_details": {"price": self.oid(Kind::Price, u32::from(l.price)), "product": price.map(|p| self.oid(Kind::Product, u32::from(p.product)))},
                        "type": "price_details",
                        "unit_amount_decimal": price.map(|p| p.amount(1).to_string())
                    },
                    "proration": false,
                    "quantity": l.quantity,
                    "subscription": sub_id,
                    "subscription_item": self.oid(Kind::SubscriptionItem, l.item),
                    "type": "subscription"
                })
            })
            .collect();
        let n_lines = lines.len();
        let (finalized, paid_at, voided, uncollectible) = match inv.status {
            crate::model::InvoiceStatus::Open => (Some(inv.created), None, None, None),
            crate::model::InvoiceStatus::Paid => (Some(inv.created), inv.closed_at, None, None),
            crate::model::InvoiceStatus::Void => (Some(inv.created), None, inv.closed_at, None),
            crate::model::InvoiceStatus::Uncollectible => {
                (Some(inv.created), None, None, inv.closed_at)
            }
        };
        let billing_reason = match inv.reason {
            BillingReason::Create => "subscription_create",
            BillingReason::Cycle => "subscription_cycle",
            BillingReason::Update => "subscription_update",
        };
        json!({
            "id": id,
            "object": "invoice",
            "account_country": "US",
            "account_name": format!("Simulated account {}", self.index + 1),
            "amount_due": total,
            "amount_paid": amount_paid,
            "amount_remaining": remaining,
            "amount_shipping": 0,
            "attempt_count": inv.attempt_count,
            "attempted": inv.attempt_count > 0,
            "auto_advance": inv.status == crate::model::InvoiceStatus::Open,
            "billing_reason": billing_reason,
            "charge": inv.charge.map(|c| self.oid(Kind::Charge, c)),
            "collection_method": "charge_automatically",
            "created": inv.created,
            "currency": inv.currency.code(),
            "customer": self.oid(Kind::Customer, inv.customer),
            "customer_email": self.customer_email(inv.customer),
            "customer_name": self.customer_name(inv.customer),
            "description": null,
            "discount": null,
            "discounts": if inv.discount > 0 { sub_discount.map_or_else(Vec::new, |d| vec![self.oid(Kind::Discount, d.subscription)]) } else { Vec::new() },
            "due_date": null,
            "ending_balance": 0,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/sim/{id}"),
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": false,
                "total_count": n_lines,
                "url": format!("/v1/invoices/{id}/lines")
            },
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": inv.next_payment_attempt,
            "number": format!("{}-{:04}", self.oid(Kind::Customer, inv.customer).get(4..12).unwrap_or("SIM").to_uppercase(), inv.number),
            "paid": paid,
            "parent": {
                "quote_details": null,
                "subscription_details": {"metadata": {}, "subscription": sub_id},
                "type": "subscription_details"
            },
            "period_end": inv.period_end,
            "period_start": inv.period_start,
            "starting_balance": 0,
            "status": inv.status.name(),
            "status_transitions": {
                "finalized_at": finalized,
                "marked_uncollectible_at": uncollectible,
                "paid_at": paid_at,
                "voided_at": voided
            },
            "subscription": sub_id,
            "subtotal": inv.subtotal,
            "subtotal_excluding_tax": inv.subtotal,
            "total": total,
            "total_discount_amounts": if inv.discount > 0 { vec![json!({"amount": inv.discount, "discount": sub_discount.map(|d| self.oid(Kind::Discount, d.subscription))})] } else { Vec::new() },
            "total_excluding_tax": total,
            "webhooks_delivered_at": inv.created
        })
    }

    /// A charge as Stripe returns it.
    pub(super) fn charge_json(&self, c: u32, ch: &Charge) -> Value {
        let succeeded = ch.failure.is_none();
        let failure = ch.failure.and_then(|f| FAILURE_CODES.get(usize::from(f)));
        let outcome = if succeeded {
            json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal", "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"})
        } else {
            json!({"network_status": "declined_by_network", "reason": failure.map(|f| f.0), "risk_level": "normal", "risk_score": 35, "seller_message": "The bank did not return any further details with this decline.", "type": "issuer_declined"})
        };
        let reason = self.invoices.get(ch.invoice as usize).map(|i| i.reason);
        json!({
            "id": self.oid(Kind::Charge, c),
            "object": "charge",
            "amount": ch.amount,
            "amount_captured": if succeeded { ch.amount } else { 0 },
            "amount_refunded": ch.amount_refunded,
            "application": null,
            "application_fee": null,
            "balance_transaction": if succeeded { Value::from(format!("txn_{}", self.oid(Kind::Charge, c).get(3..).unwrap_or(""))) } else { Value::Null },
            "billing_details": {"address": null, "email": null, "name": null, "phone": null},
            "calculated_statement_descriptor": "SIMULATED",
            "captured": succeeded,
            "created": ch.created,
            "currency": ch.currency.code(),
            "customer": self.oid(Kind::Customer, ch.customer),
            "description": match reason { Some(BillingReason::Create) => "Subscription creation", _ => "Subscription update" },
            "disputed": ch.dispute.is_some(),
            "failure_balance_transaction": null,
            "failure_code": failure.map(|f| f.0),
            "failure_message": failure.map(|f| f.1),
            "fraud_details": {},
            "invoice": self.oid(Kind::Invoice, ch.invoice),
            "livemode": false,
            "metadata": {},
            "outcome": outcome,
            "paid": succeeded,
            "payment_intent": null,
            "payment_method_details": {"card": {"brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2030, "funding": "credit", "last4": "4242"}, "type": "card"},
            "receipt_email": null,
            "refunded": ch.amount_refunded > 0 && ch.amount_refunded >= ch.amount,
            "status": if succeeded { "succeeded" } else { "failed" }
        })
    }

    /// A dispute as Stripe returns it.
    pub(super) fn dispute_json(&self, d: u32, dp: &Dispute, now: i64) -> Value {
        let status = dp.status(now);
        json!({
            "id": self.oid(Kind::Dispute, d),
            "object": "dispute",
            "amount": dp.amount,
            "balance_transactions": [],
            "charge": self.oid(Kind::Charge, dp.charge),
            "created": dp.created,
            "currency": dp.currency.code(),
            "evidence_details": {"due_by": dp.created + 7 * 86_400, "has_evidence": false, "past_due": status != "needs_response" && status != "under_review", "submission_count": 0},
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": null,
            "reason": DISPUTE_REASONS.get(usize::from(dp.reason)).copied().unwrap_or("general"),
            "status": status
        })
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
