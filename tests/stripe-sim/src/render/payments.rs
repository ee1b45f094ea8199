//! Charges, invoice payments and disputes.

use super::ApiVersion;
use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{BillingReason, Charge, DISPUTE_REASONS, Dispute, FAILURE_CODES};
use serde_json::{Value, json};

impl Account {
    /// A charge as Stripe returns it.
    pub(super) fn charge_json(&self, c: u32, ch: &Charge, v: ApiVersion) -> Value {
        let succeeded = ch.failure.is_none();
        let failure = ch.failure.and_then(|f| FAILURE_CODES.get(usize::from(f)));
        let outcome = if succeeded {
            json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal", "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"})
        } else {
            json!({"network_status": "declined_by_network", "reason": failure.map(|f| f.0), "risk_level": "normal", "risk_score": 35, "seller_message": "The bank did not return any further details with this decline.", "type": "issuer_declined"})
        };
        let reason = self.invoices.get(ch.invoice as usize).map(|i| i.reason);
        let id = self.oid(Kind::Charge, c);
        let mut out = json!({
            "id": id,
            "object": "charge",
            "amount": ch.amount,
            "amount_captured": if succeeded { ch.amount } else { 0 },
            "amount_refunded": ch.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": if succeeded { Value::from(format!("txn_{}", id.get(3..).unwrap_or(""))) } else { Value::Null },
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
            "livemode": false,
            "metadata": {},
            "on_behalf_of": null,
            "outcome": outcome,
            "paid": succeeded,
            "payment_intent": null,
            "payment_method": null,
            "payment_method_details": {"card": {"brand": "visa", "checks": null, "country": "US", "exp_month": 12, "exp_year": 2030, "fingerprint": null, "funding": "credit", "installments": null, "last4": "4242", "mandate": null, "network": "visa", "three_d_secure": null, "wallet": null}, "type": "card"},
            "receipt_email": null,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": ch.amount_refunded > 0 && ch.amount_refunded >= ch.amount,
            "review": null,
            "shipping": null,
            "source_transfer": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": if succeeded { "succeeded" } else { "failed" },
            "transfer_data": null,
            "transfer_group": null
        });
        if !v.basil() {
            // Basil removed `invoice` from charges; the invoice lists its payments instead.
            out["invoice"] = json!(self.oid(Kind::Invoice, ch.invoice));
        }
        out
    }

    /// The invoice payment of charge `c` (basil): one per payment attempt, as the simulator
    /// charges without PaymentIntents; the latest attempt is the invoice's default payment.
    pub fn render_invoice_payment(&self, c: u32) -> Value {
        let Some(ch) = self.charges.get(c as usize) else {
            return Value::Null;
        };
        let succeeded = ch.failure.is_none();
        let latest = self
            .invoices
            .get(ch.invoice as usize)
            .and_then(|i| i.charge)
            .is_none_or(|last| last == c);
        json!({
            "id": self.oid(Kind::InvoicePayment, c),
            "object": "invoice_payment",
            "amount_paid": if succeeded { Some(ch.amount) } else { None },
            "amount_requested": ch.amount,
            "created": ch.created,
            "currency": ch.currency.code(),
            "invoice": self.oid(Kind::Invoice, ch.invoice),
            "is_default": latest,
            "livemode": false,
            "payment": {"charge": self.oid(Kind::Charge, c), "type": "charge"},
            "status": if succeeded { "paid" } else { "canceled" },
            "status_transitions": {
                "canceled_at": if succeeded { None } else { Some(ch.created) },
                "paid_at": if succeeded { Some(ch.created) } else { None }
            }
        })
    }

    /// Charge indices of invoice `i`, oldest first.
    pub fn invoice_charges(&self, i: u32) -> Vec<u32> {
        let Some(inv) = self.invoices.get(i as usize) else {
            return Vec::new();
        };
        self.cust_charges
            .get(inv.customer as usize)
            .map_or_else(Vec::new, |v| {
                v.iter()
                    .copied()
                    .filter(|&c| self.charges.get(c as usize).is_some_and(|x| x.invoice == i))
                    .collect()
            })
    }

    /// An invoice's `payments` list (`expand[]=payments`, basil).
    pub fn render_invoice_payments(&self, i: u32) -> Value {
        let mut data: Vec<Value> = self
            .invoice_charges(i)
            .into_iter()
            .map(|c| self.render_invoice_payment(c))
            .collect();
        data.reverse();
        json!({
            "object": "list",
            "data": data,
            "has_more": false,
            "url": format!("/v1/invoice_payments?invoice={}", self.oid(Kind::Invoice, i))
        })
    }

    /// A dispute as Stripe returns it (the same in every version the simulator renders).
    pub(super) fn dispute_json(&self, d: u32, dp: &Dispute, now: i64) -> Value {
        let status = dp.status(now);
        let due_by = dp.created + 7 * 86_400;
        json!({
            "id": self.oid(Kind::Dispute, d),
            "object": "dispute",
            "amount": dp.amount,
            "balance_transactions": [],
            "charge": self.oid(Kind::Charge, dp.charge),
            "created": dp.created,
            "currency": dp.currency.code(),
            "enhanced_eligibility_types": [],
            "evidence": evidence(),
            "evidence_details": {
                "due_by": due_by,
                "enhanced_eligibility": {},
                "has_evidence": false,
                "past_due": status != "needs_response" && status != "under_review",
                "submission_count": 0
            },
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": null,
            "payment_method_details": {"card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": null}, "type": "card"},
            "reason": DISPUTE_REASONS.get(usize::from(dp.reason)).copied().unwrap_or("general"),
            "status": status
        })
    }
}

/// A dispute's `evidence`: nothing submitted yet.
fn evidence() -> Value {
    let fields = [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ];
    fields
        .iter()
        .map(|f| (f.to_string(), Value::Null))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
