//! Renders the compact model as Stripe API JSON (API version 2025-03-31.basil, with the
//! pre-basil fields kept alongside so clients written for either placement read it).

use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{
    BillingReason, COUPONS, Charge, Customer, DISPUTE_REASONS, Discount, Dispute, Duration,
    FAILURE_CODES, Interval, Invoice, Meta, PRODUCTS, Previous, Price, Scheme, Snapshot,
    Subscription, TiersMode,
};
use crate::names;
use serde_json::{Value, json};

/// The API version stamped on events.
pub const API_VERSION: &str = "2025-03-31.basil";

impl Account {
    /// `acct_…` of this account.
    pub fn id(&self) -> String {
        self.codec.encode(Kind::Account, 0, self.index)
    }

    fn oid(&self, kind: Kind, index: u32) -> String {
        self.codec.encode(kind, self.index, index)
    }

    /// The customer's email address, if any.
    pub fn customer_email(&self, c: u32) -> Option<String> {
        self.customers
            .get(c as usize)
            .and_then(|cust| email_of(c, cust))
    }

    /// The customer's display name.
    pub fn customer_name(&self, c: u32) -> String {
        self.customers
            .get(c as usize)
            .map_or_else(String::new, name_of)
    }

    /// A customer as Stripe returns it.
    pub fn render_customer(&self, c: u32) -> Value {
        self.customers
            .get(c as usize)
            .map_or(Value::Null, |cust| self.customer_json(c, cust))
    }

    /// A subscription as Stripe returns it.
    pub fn render_subscription(&self, s: u32) -> Value {
        self.subs
            .get(s as usize)
            .map_or(Value::Null, |sub| self.subscription_json(s, sub))
    }

    /// A subscription's `items` list as Stripe embeds it.
    pub fn render_items(&self, s: u32) -> Value {
        self.subs
            .get(s as usize)
            .map_or(Value::Null, |sub| self.items_json(s, sub))
    }

    /// An invoice as Stripe returns it.
    pub fn render_invoice(&self, i: u32) -> Value {
        self.invoices
            .get(i as usize)
            .map_or(Value::Null, |inv| self.invoice_json(i, inv))
    }

    /// A charge as Stripe returns it.
    pub fn render_charge(&self, c: u32) -> Value {
        self.charges
            .get(c as usize)
            .map_or(Value::Null, |ch| self.charge_json(c, ch))
    }

    /// A dispute as Stripe returns it.
    pub fn render_dispute(&self, d: u32) -> Value {
        self.disputes
            .get(d as usize)
            .map_or(Value::Null, |dp| self.dispute_json(d, dp, self.now))
    }

    /// The object a snapshot holds, as Stripe rendered it when the event happened.
    pub fn render_snapshot(&self, snapshot: &Snapshot, at: i64) -> Value {
        match snapshot {
            Snapshot::Customer(c, x) => self.customer_json(*c, x),
            Snapshot::Subscription(s, x) => self.subscription_json(*s, x),
            Snapshot::Invoice(i, x) => self.invoice_json(*i, x),
            Snapshot::Charge(c, x) => self.charge_json(*c, x),
            Snapshot::Dispute(d, x) => self.dispute_json(*d, x, at),
            Snapshot::Application => {
                json!({"id": crate::sim::CLIENT_ID, "object": "application", "name": "Kustiq (simulated)"})
            }
        }
    }

    fn render_previous(&self, previous: &Previous, object: &Snapshot) -> Value {
        let (s, old, new) = match (previous, object) {
            (Previous::Json(v), _) => return v.clone(),
            (
                Previous::Renewal(old) | Previous::PlanChange(old),
                Snapshot::Subscription(s, new),
            ) => (*s, old, new),
            _ => return Value::Null,
        };
        let mut prev = json!({ "items": self.items_json(s, old) });
        if matches!(previous, Previous::Renewal(_)) {
            prev["current_period_end"] = json!(old.period_end);
            prev["current_period_start"] = json!(old.period_start);
            return prev;
        }
        let (before, after) = (old.items.first(), new.items.first());
        if let (Some(b), Some(a)) = (before, after) {
            if b.price != a.price {
                prev["plan"] = self.render_plan(b.price);
            }
            if b.quantity != a.quantity {
                prev["quantity"] = json!(b.quantity);
            }
        }
        prev
    }

    /// A recorded event as Stripe returns it.
    pub fn render_event(&self, e: u32) -> Value {
        let Some(ev) = self.events.get(e as usize) else {
            return Value::Null;
        };
        let mut data = json!({ "object": self.render_snapshot(&ev.object, ev.created) });
        if let Some(p) = &ev.previous {
            data["previous_attributes"] = self.render_previous(p, &ev.object);
        }
        json!({
            "id": self.oid(Kind::Event, e),
            "object": "event",
            "account": self.id(),
            "api_version": API_VERSION,
            "created": ev.created,
            "data": data,
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": ev.kind
        })
    }
}

fn email_of(c: u32, cust: &Customer) -> Option<String> {
    {
        if cust.no_email {
            return None;
        }
        let first = names::ascii_lower(names::FIRST[usize::from(cust.first)]);
        let last = names::ascii_lower(names::LAST[usize::from(cust.last)]);
        let v = if cust.email_version == 0 {
            String::new()
        } else {
            cust.email_version.to_string()
        };
        Some(match cust.personal {
            Some(p) => format!(
                "{first}.{last}{}{v}@{}",
                c % 97,
                names::PERSONAL[usize::from(p)]
            ),
            None => format!("{first}.{last}{v}@{}", names::company(cust.company).1),
        })
    }
}

fn name_of(cust: &Customer) -> String {
    format!(
        "{} {}",
        names::FIRST[usize::from(cust.first)],
        names::LAST[usize::from(cust.last)]
    )
}

impl Account {
    fn customer_metadata(&self, cust: &Customer) -> Value {
        match cust.meta {
            Meta::ProfileId(p) => json!({"kustiq_profile_id": format!("prof_{}_{p}", self.index)}),
            Meta::Domain => json!({"domain": names::company(cust.company).1}),
            Meta::None => json!({}),
        }
    }

    fn customer_json(&self, c: u32, cust: &Customer) -> Value {
        let id = self.oid(Kind::Customer, c);
        let business = cust.personal.is_none();
        json!({
            "id": id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": cust.created,
            "currency": cust.currency.code(),
            "default_source": null,
            "delinquent": cust.delinquent,
            "description": if business { Value::from(names::company(cust.company).0) } else { Value::Null },
            "discount": null,
            "email": email_of(c, cust),
            "invoice_prefix": id.get(4..12).unwrap_or("SIM").to_uppercase(),
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": if cust.has_payment_method { Value::from(format!("pm_{}", id.get(4..).unwrap_or(""))) } else { Value::Null },
                "footer": null,
                "rendering_options": null
            },
            "livemode": false,
            "metadata": self.customer_metadata(cust),
            "name": name_of(cust),
            "next_invoice_sequence": self.cust_invoices.get(c as usize).map_or(1, |v| v.len() + 1),
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        })
    }

    fn price_created(&self) -> i64 {
        self.start
    }

    /// A price as Stripe returns it (tiers included, as with `expand[]=tiers`).
    pub fn render_price(&self, p: u16) -> Value {
        let Some(price) = self.prices.get(usize::from(p)) else {
            return Value::Null;
        };
        let (scheme, unit, mode, tiers) = price_scheme(price);
        json!({
            "id": self.oid(Kind::Price, u32::from(p)),
            "object": "price",
            "active": true,
            "billing_scheme": scheme,
            "created": self.price_created(),
            "currency": price.currency.code(),
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": null,
            "metadata": {},
            "nickname": nickname(price),
            "product": self.oid(Kind::Product, u32::from(price.product)),
            "recurring": {
                "interval": price.interval.name(),
                "interval_count": price.interval_count,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed"
            },
            "tax_behavior": "unspecified",
            "tiers": tiers,
            "tiers_mode": mode,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": unit,
            "unit_amount_decimal": unit.map(|u| u.to_string())
        })
    }

    /// The legacy `plan` object for a price.
    pub fn render_plan(&self, p: u16) -> Value {
        let Some(price) = self.prices.get(usize::from(p)) else {
            return Value::Null;
        };
        let (scheme, unit, mode, tiers) = price_scheme(price);
        json!({
            "id": self.oid(Kind::Price, u32::from(p)),
            "object": "plan",
            "active": true,
            "amount": unit,
            "amount_decimal": unit.map(|u| u.to_string()),
            "billing_scheme": scheme,
            "created": self.price_created(),
            "currency": price.currency.code(),
            "interval": price.interval.name(),
            "interval_count": price.interval_count,
            "livemode": false,
            "metadata": {},
            "meter": null,
            "nickname": nickname(price),
            "product": self.oid(Kind::Product, u32::from(price.product)),
            "tiers": tiers,
            "tiers_mode": mode,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        })
    }

    fn render_discount(&self, d: &Discount, customer: u32) -> Value {
        let coupon = COUPONS[usize::from(d.coupon)];
        let (duration, months) = match coupon.duration {
            Duration::Forever => ("forever", None),
            Duration::Once => ("once", None),
            Duration::Repeating(m) => ("repeating", Some(m)),
        };
        json!({
            "id": self.oid(Kind::Discount, d.subscription),
            "object": "discount",
            "checkout_session": null,
            "coupon": {
                "id": coupon.id,
                "object": "coupon",
                "amount_off": coupon.amount_off,
                "created": self.start,
                "currency": coupon.amount_off.map(|_| "usd"),
                "duration": duration,
                "duration_in_months": months,
                "livemode": false,
                "max_redemptions": null,
                "metadata": {},
                "name": coupon.name,
                "percent_off": coupon.percent_off.map(f64::from),
                "redeem_by": null,
                "times_redeemed": 1,
                "valid": true
            },
            "customer": self.oid(Kind::Customer, customer),
            "end": d.end,
            "invoice": null,
            "invoice_item": null,
            "promotion_code": null,
            "start": d.start,
            "subscription": self.oid(Kind::Subscription, d.subscription)
        })
    }

    /// A subscription's `items` list as Stripe embeds it.
    fn items_json(&self, s: u32, sub: &Subscription) -> Value {
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
    fn subscription_json(&self, s: u32, sub: &Subscription) -> Value {
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

    /// An invoice as Stripe returns it.
    fn invoice_json(&self, i: u32, inv: &Invoice) -> Value {
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
    fn charge_json(&self, c: u32, ch: &Charge) -> Value {
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
    fn dispute_json(&self, d: u32, dp: &Dispute, now: i64) -> Value {
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

    /// The `/v1/account` object.
    pub fn render_account(&self) -> Value {
        let disabled = if self.flags.restricted {
            Value::from("under_review")
        } else {
            Value::Null
        };
        json!({
            "id": self.id(),
            "object": "account",
            "business_profile": {"name": format!("Simulated account {}", self.index + 1), "url": null},
            "business_type": "company",
            "capabilities": {"card_payments": if self.flags.restricted { "inactive" } else { "active" }},
            "charges_enabled": !self.flags.restricted,
            "country": "US",
            "created": self.start,
            "default_currency": self.default_currency.code(),
            "details_submitted": true,
            "email": format!("billing@simulated-{}.example", self.index + 1),
            "metadata": {},
            "payouts_enabled": !self.flags.restricted,
            "requirements": {
                "currently_due": if self.flags.restricted { vec!["company.tax_id"] } else { Vec::new() },
                "disabled_reason": disabled,
                "past_due": []
            },
            "settings": {"dashboard": {"display_name": format!("Simulated {}", self.index + 1), "timezone": "Etc/UTC"}},
            "type": "standard"
        })
    }
}

fn nickname(price: &Price) -> String {
    format!(
        "{} {}ly",
        PRODUCTS[usize::from(price.product)],
        match price.interval {
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    )
}

fn price_scheme(price: &Price) -> (&'static str, Option<i64>, Option<&'static str>, Value) {
    match &price.scheme {
        Scheme::PerUnit(u) => ("per_unit", Some(*u), None, Value::Null),
        Scheme::Tiered(mode, tiers) => {
            let tiers: Vec<Value> = tiers
                .iter()
                .map(|t| {
                    json!({
                        "flat_amount": if t.flat_amount > 0 { Some(t.flat_amount) } else { None },
                        "flat_amount_decimal": if t.flat_amount > 0 { Some(t.flat_amount.to_string()) } else { None },
                        "unit_amount": t.unit_amount,
                        "unit_amount_decimal": t.unit_amount.to_string(),
                        "up_to": t.up_to
                    })
                })
                .collect();
            let mode = match mode {
                TiersMode::Graduated => "graduated",
                TiersMode::Volume => "volume",
            };
            ("tiered", None, Some(mode), Value::Array(tiers))
        }
    }
}

fn money(minor: i64, currency: &str) -> String {
    let symbol = match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        _ => "",
    };
    format!("{symbol}{}.{:02}", minor / 100, minor % 100)
}
