//! Prices, legacy plans, discounts and coupons.

use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{COUPONS, Discount, Duration, Interval, PRODUCTS, Price, Scheme, TiersMode};
use serde_json::{Value, json};

impl Account {
    pub(super) fn price_created(&self) -> i64 {
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

    pub(super) fn render_discount(&self, d: &Discount, customer: u32) -> Value {
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
}

pub(super) fn nickname(price: &Price) -> String {
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

pub(super) fn price_scheme(
    price: &Price,
) -> (&'static str, Option<i64>, Option<&'static str>, Value) {
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
