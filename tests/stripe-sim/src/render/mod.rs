//! Renders the compact model as Stripe API JSON in an [`ApiVersion`]: basil by default (no
//! `invoice.charge`, periods on items, discounts as ids), or the legacy 2024-06-20 shape.
//! Fields Stripe added without a breaking change (item periods, invoice `parent`, line
//! `pricing`) appear in both, as Stripe backfills additive fields to older versions.

mod billing;
mod catalog;
mod payments;
mod subscriptions;

pub use crate::version::ApiVersion;

use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{Customer, Meta, Previous, Snapshot};
use crate::names;
use serde_json::{Value, json};

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

    /// A subscription as Stripe returns it in version `v`.
    pub fn render_subscription(&self, s: u32, v: ApiVersion) -> Value {
        self.subs
            .get(s as usize)
            .map_or(Value::Null, |sub| self.subscription_json(s, sub, v))
    }

    /// A subscription's `items` list as Stripe embeds it in version `v`.
    pub fn render_items(&self, s: u32, v: ApiVersion) -> Value {
        self.subs
            .get(s as usize)
            .map_or(Value::Null, |sub| self.items_json(s, sub, v))
    }

    /// An invoice as Stripe returns it in version `v`.
    pub fn render_invoice(&self, i: u32, v: ApiVersion) -> Value {
        self.invoices
            .get(i as usize)
            .map_or(Value::Null, |inv| self.invoice_json(i, inv, v))
    }

    /// A charge as Stripe returns it in version `v`.
    pub fn render_charge(&self, c: u32, v: ApiVersion) -> Value {
        self.charges
            .get(c as usize)
            .map_or(Value::Null, |ch| self.charge_json(c, ch, v))
    }

    /// A dispute as Stripe returns it.
    pub fn render_dispute(&self, d: u32) -> Value {
        self.disputes
            .get(d as usize)
            .map_or(Value::Null, |dp| self.dispute_json(d, dp, self.now))
    }

    /// The object a snapshot holds, as Stripe rendered it when the event happened.
    pub fn render_snapshot(&self, snapshot: &Snapshot, at: i64, v: ApiVersion) -> Value {
        match snapshot {
            Snapshot::Customer(c, x) => self.customer_json(*c, x),
            Snapshot::Subscription(s, x) => self.subscription_json(*s, x, v),
            Snapshot::Invoice(i, x) => self.invoice_json(*i, x, v),
            Snapshot::Charge(c, x) => self.charge_json(*c, x, v),
            Snapshot::Dispute(d, x) => self.dispute_json(*d, x, at),
            Snapshot::Application => {
                json!({"id": crate::sim::CLIENT_ID, "object": "application", "name": "Kustiq (simulated)"})
            }
        }
    }

    fn render_previous(&self, previous: &Previous, object: &Snapshot, v: ApiVersion) -> Value {
        let (s, old, new) = match (previous, object) {
            (Previous::Json(v), _) => return v.clone(),
            (
                Previous::Renewal(old) | Previous::PlanChange(old),
                Snapshot::Subscription(s, new),
            ) => (*s, old, new),
            _ => return Value::Null,
        };
        let mut prev = json!({ "items": self.items_json(s, old, v) });
        if matches!(previous, Previous::Renewal(_)) {
            // Basil moved the period to the items, so only `items` changed on the subscription.
            if !v.basil() {
                prev["current_period_end"] = json!(old.period_end);
                prev["current_period_start"] = json!(old.period_start);
            }
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

    /// A recorded event as Stripe returns it: in the account's API version, whatever version
    /// the reader asks for, as Stripe renders events in the version they were created with.
    pub fn render_event(&self, e: u32) -> Value {
        let Some(ev) = self.events.get(e as usize) else {
            return Value::Null;
        };
        let v = self.api_version;
        let mut data = json!({ "object": self.render_snapshot(&ev.object, ev.created, v) });
        if let Some(p) = &ev.previous {
            data["previous_attributes"] = self.render_previous(p, &ev.object, v);
        }
        json!({
            "id": self.oid(Kind::Event, e),
            "object": "event",
            "account": self.id(),
            "api_version": v.name(),
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
            "country": self.flags.country.and_then(|c| std::str::from_utf8(&c).ok().map(str::to_owned)).unwrap_or_else(|| "US".to_owned()),
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
            "settings": {
                "branding": {"icon": null, "logo": null, "primary_color": null, "secondary_color": null},
                "card_payments": {"decline_on": {"avs_failure": false, "cvc_failure": false}, "statement_descriptor_prefix": null},
                "dashboard": {"display_name": format!("Simulated {}", self.index + 1), "timezone": "Etc/UTC"},
                "payments": {"statement_descriptor": "SIMULATED", "statement_descriptor_kana": null, "statement_descriptor_kanji": null}
            },
            "type": "standard"
        })
    }
}
